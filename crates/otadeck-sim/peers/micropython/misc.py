# Stand-in for QuecPython's `misc`.
import _harness
import _board as board


class Power:
    @staticmethod
    def powerRestart():
        board.log("powerRestart()")
        _harness.reset()

    @staticmethod
    def getVbatt():
        # The simulator's default battery, in mV.
        return 3980
