# Stand-in for QuecPython's `modem`.
import _board as board


def getDevFwVersion():
    return board.version_of(board.running_image())


def getDevImei():
    return "869999051234567"
