"""`python -m agent_runtime.die_with_parent PARENT_PID PROGRAM [ARGS…]`: has
the kernel SIGKILL this process when its parent dies (Linux
PR_SET_PDEATHSIG, kept across exec), then becomes PROGRAM.

The server starts Envoy through it rather than with a `preexec_fn`: that
forces a plain fork() and runs Python in the child of a process full of gRPC
threads, which was seen to abort Envoy at start and to cost the server's
gRPC poller its descriptor. Only the standard library: it runs on every
Envoy (re)start."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, program, *arguments = argv
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(parent):
        sys.exit("die_with_parent: the parent died before the child was tied to it")
    os.execv(program, [program, *arguments])


if __name__ == "__main__":
    main(sys.argv[1:])
