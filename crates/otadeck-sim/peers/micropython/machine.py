# Stand-in for the board's `machine`: a reset restarts the board (the harness re-initialises the
# interpreter and keeps the flash state).
import _harness
import _board as board


def reset():
    board.log("machine.reset()")
    _harness.reset()
