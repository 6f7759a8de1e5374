"""Run one function over many items on Dask distributed: the only module that imports Dask.

`map_tasks(fn, items)` submits one Dask task per item and yields an `Outcome` for each as it
completes. By default the tasks run on an embedded `LocalCluster` of worker processes, one per
free core; `scheduler="tcp://HOST:PORT"` (or `DASK_SCHEDULER_ADDRESS`) runs the same tasks on an
existing cluster started with `dask scheduler` / `dask worker`.

Each call of `fn` runs in a child Python process of the worker (`isolate=True`, the default; one
child per worker thread, reused from call to call, see ChildServer), so that
- a call that hangs is stopped at `timeout` seconds: a thread inside a Dask worker cannot be
  interrupted, but a process group can be killed;
- a call that crashes the interpreter (a segfault, `os._exit`, memory blow-up in a plugin rule)
  becomes an "error" outcome, and the worker stays up for the other items.
The child is `python -P -m mlscan.fleet.child`, started with an empty temporary folder of its own
as working directory (and TMPDIR), never inside a scanned checkout: `python -m` puts the working
directory first on sys.path, and a checkout may hold its own `mlscan.py`. The folder is removed
when the call ends, however it ends. A worker process that dies (killed, out of memory) is
Dask's to handle: the scheduler reruns its task on another worker, up to
`distributed.scheduler.allowed-failures` times, and then the item's outcome is an error.

`fn` must be a module-level function (it is pickled by reference) taking one picklable item.
"""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Tuple

from mlscan.errors import UsageError

OK, ERROR, TIMEOUT = "ok", "error", "timeout"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class Outcome:
    """One item's result: `value` when status is "ok", else `error` says what happened."""
    index: int
    status: str
    value: Any = None
    error: Optional[str] = None
    seconds: float = 0.0


# ---- one call, in a child process -------------------------------------------------------------
def child_command() -> list:
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []   # never put the cwd on sys.path
    return [sys.executable, *safe_path, "-m", "mlscan.fleet.child"]


class ChildServer:
    """A child Python process that runs calls one after another (`mlscan.fleet.child`).

    Starting Python and importing mlscan costs about half a CPU second; paid once per child rather
    than once per repository, it stays small next to a scan. The child is replaced after a call
    that crashed it or ran out of time, and after `RECYCLE_AFTER` calls (memory, leaked state).
    Each call gets a fresh scratch folder (its TMPDIR) inside the child's own, removed after it.
    Messages are 8-byte big-endian lengths followed by a pickle, both ways."""

    RECYCLE_AFTER = 100

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="mlscan-child-")
        self.errors = open(os.path.join(self.home, "stderr.log"), "w+b")
        env = {**os.environ, "TMPDIR": self.home, "TEMP": self.home, "TMP": self.home,
               "MLSCAN_CHILD_PARENT": str(os.getpid())}
        self.proc = subprocess.Popen(child_command(), cwd=self.home, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.errors,
                                     start_new_session=True)   # its own process group: killed as one
        self.calls = 0

    @property
    def usable(self) -> bool:
        return self.proc.poll() is None and self.calls < self.RECYCLE_AFTER

    def call(self, fn: Callable[[Any], Any], item: Any, timeout: Optional[float]) -> Tuple[str, Any, Optional[str]]:
        """(status, value, error); after a crash or a timeout the child is gone (`usable` is False)."""
        self.calls += 1
        scratch = tempfile.mkdtemp(prefix="task-", dir=self.home)
        errors_from = self.errors.seek(0, os.SEEK_END)
        try:
            payload = pickle.dumps((fn, item, scratch))
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(len(payload).to_bytes(8, "big") + payload)
                self.proc.stdin.flush()
                data = self._read(timeout)
            except TimeoutError:
                self.stop()
                return TIMEOUT, None, f"timed out after {timeout:g} s"
            except (EOFError, OSError):
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                self.errors.seek(errors_from)
                log = self.errors.read()
                self.stop()
                return ERROR, None, _crash_message(self.proc.returncode, log)
            try:
                status, value = pickle.loads(data)
            except Exception as exc:   # noqa: BLE001 - a garbled result is an error row, not a crash
                self.stop()
                return ERROR, None, f"unreadable result from the child process ({exc.__class__.__name__})"
            return (OK, value, None) if status == OK else (ERROR, None, str(value))
        except BaseException:   # the worker is shutting down: take the child with us
            self.stop()
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _read(self, timeout: Optional[float]) -> bytes:
        import selectors
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        buf = bytearray()
        need = 8
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(buf) < need:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError
                if not sel.select(left):
                    continue
                chunk = os.read(fd, max(65536, need - len(buf)))
                if not chunk:
                    raise EOFError
                buf += chunk
                if need == 8 and len(buf) >= 8:
                    need = 8 + int.from_bytes(buf[:8], "big")
        return bytes(buf[8:need])

    def stop(self) -> None:
        if self.proc.poll() is None:
            _kill_group(self.proc)
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        self.errors.close()
        shutil.rmtree(self.home, ignore_errors=True)


_servers = threading.local()   # one child per worker thread


def run_isolated(fn: Callable[[Any], Any], item: Any, timeout: Optional[float]) -> Tuple[str, Any, Optional[str]]:
    """(status, value, error) of `fn(item)` run in this thread's child process, stopped after `timeout` s."""
    server: Optional[ChildServer] = getattr(_servers, "server", None)
    if server is None or not server.usable:
        if server is not None:
            server.stop()
        server = _servers.server = ChildServer()
    return server.call(fn, item, timeout)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, OSError):
        proc.kill()


def _crash_message(returncode: int, stderr: bytes) -> str:
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    tail = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()][-3:]
    return f"the scan process crashed ({how})" + (": " + " | ".join(tail) if tail else "")


def run_inline(fn: Callable[[Any], Any], item: Any) -> Tuple[str, Any, Optional[str]]:
    """(status, value, error) of `fn(item)` in this process (no timeout, no crash isolation)."""
    try:
        return OK, fn(item), None
    except UsageError as exc:
        return ERROR, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
        return ERROR, None, f"{exc.__class__.__name__}: {exc}"


def _task(fn: Callable[[Any], Any], index: int, item: Any, timeout: Optional[float], isolate: bool) -> Outcome:
    start = time.monotonic()
    status, value, error = run_isolated(fn, item, timeout) if isolate else run_inline(fn, item)
    return Outcome(index, status, value, error, round(time.monotonic() - start, 3))


# ---- many calls, on Dask ----------------------------------------------------------------------
def free_cores() -> int:
    """Worker processes for the embedded cluster: the cores idle right now (at least one), by the
    same measure the parser's pool uses."""
    from mlscan.facts.indexing import free_cores as idle_now
    return idle_now()


def scheduler_address(given: Optional[str]) -> Optional[str]:
    return given or os.environ.get(SCHEDULER_ENV) or None


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any], *, scheduler: Optional[str] = None,
              timeout: Optional[float] = None, workers: Optional[int] = None, isolate: bool = True,
              label: str = "mlscan", priorities: Optional[Sequence[int]] = None) -> Iterator[Outcome]:
    """Yield one Outcome per item, in completion order (`Outcome.index` says which item).

    scheduler: a Dask scheduler address; None uses $DASK_SCHEDULER_ADDRESS, else an embedded
               LocalCluster of `workers` processes (default: free cores).
    timeout:   seconds per item (only enforced with isolate=True).
    priorities: one number per item; higher starts first. Give the expected cost, so that the
               longest items start early and do not finish alone at the end.
    Closing the generator (or Ctrl-C while iterating) cancels what has not finished.
    """
    items = list(items)
    if not items:
        return
    from distributed import Client, LocalCluster, as_completed

    address = scheduler_address(scheduler)
    cluster = None
    try:
        if address:
            try:
                client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
        else:
            cluster = LocalCluster(n_workers=workers or free_cores(), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    run = uuid.uuid4().hex[:8]
    futures = {}
    try:
        order = sorted(range(len(items)), key=lambda i: -priorities[i]) if priorities else range(len(items))
        for i in order:   # submitted in priority order too: the first ones start before the rest arrive
            fut = client.submit(_task, fn, i, items[i], timeout, isolate, pure=False, key=f"{label}-{run}-{i}",
                                priority=priorities[i] if priorities else 0)
            futures[fut] = i
        for fut in as_completed(list(futures)):
            index = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker and friends: this item failed
                outcome = Outcome(index, ERROR, None, _dask_error(exc))
            fut.release()
            yield outcome
    finally:
        if futures:
            try:
                client.cancel(list(futures))
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_error(exc: BaseException) -> str:
    name = exc.__class__.__name__
    if name == "KilledWorker":
        return ("the worker running this item died, and so did the workers it was retried on "
                f"({exc})")
    return f"{name}: {exc}"
