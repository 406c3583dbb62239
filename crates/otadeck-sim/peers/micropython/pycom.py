# Stand-in for Pycom's `pycom` OTA calls (modpycom.c / updater.c): ota_start() erases the next
# slot, ota_write(buf) appends, ota_verify() checks the image written, ota_finish() selects it,
# ota_slot() gives its flash address. Failures raise OSError("operation failed").
import _board as board


def _failed():
    return OSError("operation failed")


def ota_slot():
    return 0x10000 + (1 - board.load()["running"]) * board.SLOT_SIZE


def ota_start():
    board.log("ota_start()")
    st = board.load()
    if st["states"][st["running"]] == "testing":
        raise _failed()
    target = 1 - st["running"]
    board.erase(target)
    st["updating"] = {"slot": target, "len": 0}
    board.save(st)


def ota_write(buf):
    data = bytes(buf)
    board.log("ota_write(%d)" % len(data))
    st = board.load()
    up = st["updating"]
    if up is None:
        raise _failed()
    try:
        board.write(up["slot"], up["len"], data)
    except OSError:
        raise _failed()
    up["len"] += len(data)
    board.save(st)


def ota_verify():
    board.log("ota_verify()")
    up = board.load()["updating"]
    return up is not None and board.image_ok(board.read(up["slot"], 0, up["len"]))


def ota_finish():
    board.log("ota_finish()")
    st = board.load()
    up = st["updating"]
    if up is None or not board.image_ok(board.read(up["slot"], 0, up["len"])):
        raise _failed()
    st["states"][up["slot"]] = "new"
    st["next_boot"] = up["slot"]
    st["updating"] = None
    board.save(st)
