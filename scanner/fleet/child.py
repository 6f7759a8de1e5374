"""The child process that runs isolated fleet calls: `python -P -m mlscan.fleet.child [MODULE:FUNCTION]`.

Reads `(fn, item, scratch folder)` requests from stdin (pickled, each after its 8-byte length,
written by our own worker, `engine.ChildServer`), calls `fn(item)` with TMPDIR in the scratch
folder, and answers each with a pickled `("ok", value)` or `("error", message)` on stdout.
Anything the call prints goes to stderr, so stdout carries only the result. MODULE:FUNCTION, if
given, is called first (a warm-up: the imports and data every call needs, loaded while the
engine still starts); if it fails, the calls load what they need themselves. If the worker
that started it dies, the child exits too rather than scan on for nobody.
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
import threading
import time


PARENT_ENV = "MLSCAN_CHILD_PARENT"


def _leave() -> None:
    """Remove our own folder (the working directory the worker made for us), so that a child whose
    worker died, and never stopped it, leaves nothing behind in the temporary folder."""
    import shutil
    home = os.getcwd()
    if os.path.basename(home).startswith("mlscan-child-"):
        shutil.rmtree(home, ignore_errors=True)


def _exit_with_parent(poll: float = 0.5) -> None:
    """Exit when the worker that started us is gone. The worker says who it is: if it died while we
    were starting, our parent is already someone else, and getppid() alone would not tell."""
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    if os.getppid() != parent:
        _leave()
        os._exit(70)

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                _leave()
                os._exit(70)
    threading.Thread(target=watch, name="mlscan-parent-watch", daemon=True).start()


def call(fn, item):
    from mlscan.errors import UsageError
    try:
        result = ("ok", fn(item))
    except UsageError as exc:
        result = ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as this item's error
        result = ("error", f"{exc.__class__.__name__}: {exc}")
    try:
        return pickle.dumps(result)
    except Exception as exc:  # noqa: BLE001
        return pickle.dumps(("error", f"result cannot be sent back ({exc.__class__.__name__}: {exc})"))


def _read_exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def warm_up(target: str) -> None:
    import importlib
    module, _, name = target.partition(":")
    try:
        getattr(importlib.import_module(module), name)()
    except Exception:  # noqa: BLE001 - the first call will meet the same problem and report it
        pass


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _exit_with_parent()
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # whatever a call prints goes to stderr
    if argv:
        warm_up(argv[0])
    requests = sys.stdin.buffer
    while True:
        header = _read_exactly(requests, 8)
        if len(header) < 8:
            return 0   # the worker closed the pipe: done
        fn, item, scratch = pickle.loads(_read_exactly(requests, int.from_bytes(header, "big")))
        os.environ["TMPDIR"] = os.environ["TEMP"] = os.environ["TMP"] = scratch
        tempfile.tempdir = scratch
        data = call(fn, item)
        results.write(len(data).to_bytes(8, "big") + data)
        results.flush()


if __name__ == "__main__":
    sys.exit(main())
