# Stand-in for the ESP32 port's `esp32.Partition` over two OTA slots and an otadata partition,
# with ESP-IDF's rules: writeblocks(n, buf) erases len(buf) bytes first, which must be whole
# 4 KiB sectors; set_boot() validates the image; the bootloader (board.boot) turns `new` into
# `testing` and rolls a still-`testing` slot back at the next reset.
import _board as board

_STATE_RAW = {"new": 0, "testing": 1, "valid": 2, "invalid": 3, "aborted": 4}


def _crc(data):
    # crc32_le(UINT32_MAX, ...) as the bootloader computes it: zlib's crc32(data, 0xFFFFFFFF).
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def _entry(seq, state):
    s = seq.to_bytes(4, "little")
    return s + b"\xff" * 20 + _STATE_RAW[state].to_bytes(4, "little") + _crc(s).to_bytes(4, "little")


def _otadata(st):
    # One select entry for the slot that boots next and an older one for the other slot, when
    # it was ever selected (the layout otadeck-sim's EspOtaFlash::otadata writes).
    out = bytearray(b"\xff" * 0x2000)
    nb = st["next_boot"]
    other = 1 - nb
    if st["states"][other] is not None:
        out[0:32] = _entry(other + 1, st["states"][other])
    if st["states"][nb] is not None:
        out[0x1000:0x1020] = _entry(nb + 3, st["states"][nb])
    return out


def _err(code, name):
    return OSError(-code, name)


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        st = board.load()
        if id == Partition.RUNNING:
            self._slot = st["running"]
        elif id == Partition.BOOT:
            self._slot = st["next_boot"]
        elif id in ("ota_0", "ota_1"):
            self._slot = int(id[-1])
        elif id == "otadata":
            self._slot = None
        else:
            raise ValueError("partition not found")

    def info(self):
        if self._slot is None:
            return (1, 0, 53248, 8192, "otadata", False)
        s = self._slot
        return (0, 16 + s, 0x10000 + s * board.SLOT_SIZE, board.SLOT_SIZE, "ota_%d" % s, False)

    def __repr__(self):
        t, st, a, n, l, e = self.info()
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>" % (
            t, st, a, n, l, e)

    def get_next_update(self):
        return Partition("ota_%d" % (1 - board.load()["running"]))

    def readblocks(self, block, buf, offset=0):
        at = block * 4096 + offset
        if self._slot is None:
            data = _otadata(board.load())[at:at + len(buf)]
        else:
            data = board.read(self._slot, at, len(buf))
        buf[:] = data

    def writeblocks(self, block, buf, offset=None):
        if self._slot is None:
            raise _err(0x102, "ESP_ERR_INVALID_ARG")
        data = bytes(buf)
        board.log("writeblocks(%d,%d%s)" % (block, len(data), "" if offset is None else ",%d" % offset))
        if offset is None:
            # esp_partition_erase_range needs whole sectors.
            if len(data) % 4096:
                raise _err(0x104, "ESP_ERR_INVALID_SIZE")
            offset = 0
        board.write(self._slot, block * 4096 + offset, data)

    def ioctl(self, op, arg):
        if op == 4:
            return board.SLOT_SIZE // 4096
        if op == 5:
            return 4096
        if op == 6:
            board.log("ioctl(6,%d)" % arg)
            board.write(self._slot, arg * 4096, b"\xff" * 4096)
            return 0
        return None

    def set_boot(self):
        board.log("set_boot(ota_%d)" % self._slot)
        st = board.load()
        if not board.image_ok(board.image(self._slot)):
            raise _err(0x1503, "ESP_ERR_OTA_VALIDATE_FAILED")
        if self._slot != st["running"]:
            st["states"][self._slot] = "new"
        st["next_boot"] = self._slot
        st["updating"] = None
        board.save(st)

    @staticmethod
    def mark_app_valid_cancel_rollback():
        board.log("mark_app_valid_cancel_rollback()")
        st = board.load()
        st["states"][st["running"]] = "valid"
        board.save(st)
