"""The child process of one isolated fleet task: `python -P -m mlscan.fleet.child`.

Reads a pickled `(fn, item)` from stdin (written by our own worker, `engine.run_isolated`),
calls `fn(item)` and writes a pickled `("ok", value)` or `("error", message)` to stdout.
Anything the call prints goes to stderr, so stdout carries only the result. If the worker
that started it dies, the child exits too rather than scan on for nobody.
"""
from __future__ import annotations

import os
import pickle
import sys
import threading
import time


def _exit_with_parent(poll: float = 0.5) -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(70)
    threading.Thread(target=watch, name="mlscan-parent-watch", daemon=True).start()


def main() -> int:
    _exit_with_parent()
    result_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    fn, item = pickle.load(sys.stdin.buffer)
    from mlscan.errors import UsageError
    try:
        result = ("ok", fn(item))
    except UsageError as exc:
        result = ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as this item's error
        result = ("error", f"{exc.__class__.__name__}: {exc}")
    try:
        data = pickle.dumps(result)
    except Exception as exc:  # noqa: BLE001
        data = pickle.dumps(("error", f"result cannot be sent back ({exc.__class__.__name__}: {exc})"))
    result_out.write(data)
    result_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
