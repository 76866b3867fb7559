"""Before a command's process exits: let a local model's generation in progress end.

After Ctrl-C (or a failed cell) the eval stops, but Inspect's ``hf/`` provider goes on
generating, in its own thread, what was asked before. A process that exits meanwhile aborts
inside torch ("terminate called without an active exception", SIGABRT) instead of ending with
its own exit code and message.
"""

from __future__ import annotations

import os
import sys
import time

from ._inspect_compat import drop_queued_hf_generations, hf_generation_busy

WAITING = "waiting for the local model to finish the generation in progress (Ctrl-C again to quit at once)"


def let_local_generation_end(poll_s: float = 0.2) -> None:
    """Drop the requests nobody awaits any more and wait for the batch being generated; a second
    Ctrl-C ends the process at once with exit code 130."""
    if not hf_generation_busy():
        return
    drop_queued_hf_generations()
    print(WAITING, file=sys.stderr, flush=True)
    try:
        while hf_generation_busy():
            time.sleep(poll_s)
    except KeyboardInterrupt:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # skips interpreter shutdown, which would abort inside the generating thread
