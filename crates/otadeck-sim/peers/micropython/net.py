# Stand-in for QuecPython's `net`: the simulator's default signal quality.


def csqQueryPoll():
    return 22
