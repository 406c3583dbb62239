# SHA-1, which Pycom firmware's `hashlib` has and the webassembly port's lacks: the `hashlib`
# a Pycom board imports is this module (plus the port's own sha256).
# The port's own hashlib, imported by _board before its import hook maps `hashlib` here.
from _board import hashlib as _port

sha256 = _port.sha256


def _rol(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


class sha1:
    def __init__(self, data=b""):
        self._h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        self._buf = b""
        self._len = 0
        self.update(data)

    def _block(self, b):
        w = [int.from_bytes(b[i:i + 4], "big") for i in range(0, 64, 4)]
        for i in range(16, 80):
            w.append(_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
        a, b_, c, d, e = self._h
        for i in range(80):
            if i < 20:
                f, k = (b_ & c) | (~b_ & d), 0x5A827999
            elif i < 40:
                f, k = b_ ^ c ^ d, 0x6ED9EBA1
            elif i < 60:
                f, k = (b_ & c) | (b_ & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b_ ^ c ^ d, 0xCA62C1D6
            a, b_, c, d, e = (_rol(a, 5) + (f & 0xFFFFFFFF) + e + k + w[i]) & 0xFFFFFFFF, a, _rol(b_, 30), c, d
        self._h = [(x + y) & 0xFFFFFFFF for x, y in zip(self._h, [a, b_, c, d, e])]

    def update(self, data):
        self._buf += bytes(data)
        self._len += len(data)
        while len(self._buf) >= 64:
            self._block(self._buf[:64])
            self._buf = self._buf[64:]

    def digest(self):
        h, buf, n = self._h, self._buf, self._len
        tail = buf + b"\x80" + b"\x00" * ((55 - n) % 64) + (n * 8).to_bytes(8, "big")
        for i in range(0, len(tail), 64):
            self._block(tail[i:i + 64])
        out = b"".join(x.to_bytes(4, "big") for x in self._h)
        self._h, self._buf, self._len = h, buf, n
        return out
