# The board behind the stand-in modules: its recorded flash state under /board (kept by the
# harness across resets), the bootloader's rules at each boot, and the import hook that plays the
# firmware's module set (hidden modules, u-prefixed names, the callable `fota`).
import builtins
import json
import os
import sys

import hashlib

BLOCK = 4096
STATE = "/board/state.json"
CONFIG = json.loads(open("/board/config.json").read())
KIND = CONFIG["board"]
SLOT_SIZE = CONFIG["slot_size"]


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _mkdir(p):
    if not _exists(p):
        os.mkdir(p)


def log(line):
    with open("/board/calls.log", "a") as f:
        f.write(line + "\n")


def load():
    return json.loads(open(STATE).read())


def save(st):
    with open(STATE, "w") as f:
        f.write(json.dumps(st))


# ---- slot contents: one file per 4 KiB block; never-written flash reads as 0xFF ----

def _block_path(slot, n):
    return "/board/ota_%d/%05d" % (slot, n)


def read_block(slot, n):
    p = _block_path(slot, n)
    if not _exists(p):
        return b""
    with open(p, "rb") as f:
        return f.read()


def write_block(slot, n, data):
    _mkdir("/board/ota_%d" % slot)
    with open(_block_path(slot, n), "wb") as f:
        f.write(data)


def read(slot, at, n):
    out = bytearray()
    while len(out) < n:
        b, off = divmod(at + len(out), BLOCK)
        chunk = read_block(slot, b)[off:off + n - len(out)]
        want = min(BLOCK - off, n - len(out))
        out += chunk + b"\xff" * (want - len(chunk))
    return bytes(out)


def write(slot, at, data):
    if at + len(data) > SLOT_SIZE:
        raise OSError(-0x104, "ESP_ERR_INVALID_SIZE")
    done = 0
    while done < len(data):
        b, off = divmod(at + done, BLOCK)
        n = min(BLOCK - off, len(data) - done)
        old = bytearray(read_block(slot, b))
        if len(old) < off + n:
            old += b"\xff" * (off + n - len(old))
        old[off:off + n] = data[done:done + n]
        write_block(slot, b, old)
        done += n


def erase(slot):
    d = "/board/ota_%d" % slot
    if _exists(d):
        for name in os.listdir(d):
            os.remove(d + "/" + name)


def image(slot):
    d = "/board/ota_%d" % slot
    if not _exists(d):
        return b""
    names = sorted(os.listdir(d))
    if not names:
        return b""
    last = int(names[-1])
    return read(slot, 0, last * BLOCK + len(read_block(slot, last)))


# ---- what the ROM bootloader checks (esp_image_verify) ----

def image_ok(data):
    if len(data) < 24 or data[0] != 0xE9 or data[1] > 16:
        return False
    at = 24
    check = 0xEF
    for _ in range(data[1]):
        if at + 8 > len(data):
            return False
        n = int.from_bytes(data[at + 4:at + 8], "little")
        body = data[at + 8:at + 8 + n]
        if len(body) != n:
            return False
        for b in body:
            check ^= b
        at += 8 + n
    at += 15 - at % 16
    if at >= len(data) or data[at] != check:
        return False
    at += 1
    if data[23] == 1:
        if data[at:at + 32] != hashlib.sha256(data[:at]).digest():
            return False
    return True


def package_version(data):
    """The version of a whole simulated QuecPython full package (see the simulator's
    `fota_package`), or None when it is not one or does not check."""
    if len(data) < 76 or data[:8] != b"QPYFOTA\x00":
        return None
    n = int.from_bytes(data[8:12], "little")
    body = data[76:]
    if len(body) != n or hashlib.sha256(body).digest() != data[44:76]:
        return None
    name = data[12:44]
    return name[:name.find(b"\x00") if b"\x00" in name else 32].decode()


def version_of(data):
    if KIND == "quecpython":
        v = package_version(data)
        return v if v else "unversioned package of %d bytes" % len(data)
    d = data[32:32 + 48]
    if len(d) == 48 and int.from_bytes(d[:4], "little") == 0xABCD5432:
        v = d[16:48]
        return v[:v.find(b"\x00") if b"\x00" in v else len(v)].decode()
    return "unversioned image of %d bytes" % len(data)


def bootable(st, slot):
    return st["states"][slot] not in ("invalid", "aborted") and image_ok(image(slot))


def _esp_boot(st):
    st["updating"] = None
    chosen = st["next_boot"]
    s = st["states"][chosen]
    if s == "new":
        st["states"][chosen] = "testing"
    elif s == "testing":
        st["states"][chosen] = "aborted"
    if bootable(st, chosen):
        st["running"] = chosen
    else:
        other = 1 - chosen
        st["running"] = other if bootable(st, other) else chosen
        st["next_boot"] = st["running"]
    if KIND == "pycom":
        # The Pycom bootloader checks a new image itself; the application never confirms it.
        st["states"][st["running"]] = "valid"


def boot(how):
    """`how` is "power" (first start), "reset" (the bootloader runs) or "soft" (a soft reset:
    the interpreter only); then the firmware's modules are installed."""
    if how == "power":
        fw = open("/board/firmware.bin", "rb").read() if _exists("/board/firmware.bin") else b""
        if KIND == "quecpython":
            with open("/board/slot0.bin", "wb") as f:
                f.write(fw)
            save({"running": 0, "staging": None, "boots": 0})
        else:
            write(0, 0, fw)
            save({"running": 0, "next_boot": 0, "states": ["valid", None], "updating": None,
                  "boots": 0})
        if fw:
            os.remove("/board/firmware.bin")
    elif how == "reset":
        st = load()
        st["boots"] += 1
        if KIND == "quecpython":
            stg = st["staging"]
            if stg is not None and stg["verified"]:
                target = 1 - st["running"]
                os.rename("/board/fota.bin", "/board/slot%d.bin" % target)
                st["running"] = target
            st["staging"] = None
        else:
            _esp_boot(st)
        save(st)
    install()


def running_image():
    st = load()
    if KIND == "quecpython":
        return open("/board/slot%d.bin" % st["running"], "rb").read()
    return image(st["running"])


def uname():
    """The firmware's `os.uname()`, in the shape each family prints."""
    ver = version_of(running_image())
    if KIND == "esp32":
        r = "1.24.1"
        return ("(sysname='esp32', nodename='esp32', release='%s', version='v%s on 2024-11-29', "
                "machine='Generic ESP32 module with ESP32')" % (r, r))
    if KIND == "quecpython":
        return ("(sysname='EC600U', nodename='EC600U', release='1.13.0', version='v1.13.0 on "
                "2023-06-01', machine='EC600U with QUECTEL')")
    r = ver.lstrip("v")
    return ("(sysname='FiPy', nodename='FiPy', release='%s', version='v1.11-c5a0a97 on "
            "2021-10-28; FiPy with ESP32', machine='FiPy with ESP32', pybytes='1.7.1')" % r)


class _Uname:
    def __repr__(self):
        return uname()


_import = builtins.__import__
_HIDDEN = set(CONFIG["hide"])


def _hook(name, *args):
    base = name[1:] if name.startswith("u") and name[1:] in ("os", "binascii", "time") else name
    if base in _HIDDEN:
        raise ImportError("no module named '%s'" % name)
    if base == "os":
        name = "os"
    if name == "hashlib" and KIND == "pycom":
        name = "_sha1"
    m = _import(name, *args)
    if name == "fota":
        return m.fota
    return m


def install():
    builtins.__import__ = _hook
    os.uname = _Uname
    _mkdir("/flash")
    sys.path.append("/flash/lib")
