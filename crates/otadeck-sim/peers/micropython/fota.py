# Stand-in for QuecPython's `fota`: `fota()` (the module is callable on QuecPython; the import
# hook returns this class), `write(data, file_size)`, `flush()`, `verify()`. The package is
# recorded in /board/fota.bin; a verified package becomes the running firmware at the next
# restart.
import _board as board


class fota:
    def __init__(self, reset_disable=0):
        board.log("fota(reset_disable=%d)" % reset_disable)
        st = board.load()
        st["staging"] = {"total": None, "verified": False, "reset_disable": reset_disable}
        board.save(st)
        open("/board/fota.bin", "wb").close()

    def write(self, data, file_size):
        board.log("write(%d,%d)" % (len(data), file_size))
        st = board.load()
        stg = st["staging"]
        if stg is None or file_size <= 0 or file_size > board.SLOT_SIZE:
            return -1
        if stg["total"] is not None and stg["total"] != file_size:
            return -1
        have = len(open("/board/fota.bin", "rb").read())
        if have + len(data) > file_size:
            return -1
        with open("/board/fota.bin", "ab") as f:
            f.write(data)
        stg["total"] = file_size
        stg["verified"] = False
        board.save(st)
        return 0

    def flush(self):
        board.log("flush()")
        return 0 if board.load()["staging"] is not None else -1

    def verify(self):
        board.log("verify()")
        st = board.load()
        stg = st["staging"]
        if stg is None:
            return -1
        data = open("/board/fota.bin", "rb").read()
        ok = stg["total"] == len(data) and board.package_version(data) is not None
        stg["verified"] = ok
        board.save(st)
        return 0 if ok else -1
