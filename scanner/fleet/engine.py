"""Run one function over many items on Dask distributed: the only module that imports Dask.

`map_tasks(fn, items)` submits one Dask task per item and yields an `Outcome` for each as it
completes; `Engine` does the same in two steps (start it, then map), so that the caller can do
its own preparation while the cluster starts. By default the tasks run on an embedded
`LocalCluster` in this process, one worker thread per free core; `scheduler="tcp://HOST:PORT"`
(or `DASK_SCHEDULER_ADDRESS`) runs the same tasks on an existing cluster started with
`dask scheduler` / `dask worker`.

Each call of `fn` runs in a child Python process (`isolate=True`, the default; one child per
worker thread, reused from call to call, see ChildServer), so that
- a call that hangs is stopped at `timeout` seconds: a thread inside a Dask worker cannot be
  interrupted, but a process group can be killed;
- a call that crashes the interpreter (a segfault, `os._exit`, memory blow-up in a plugin rule)
  becomes an "error" outcome, and the worker stays up for the other items;
- a call whose process is killed from outside (SIGKILL: the out-of-memory killer, an operator)
  is retried once in a fresh process, then becomes an "error" outcome.
Since the work runs in those processes, the embedded cluster needs no worker processes of its
own: its workers are threads that feed the children, which saves starting and importing Dask in
one more process per core. Its children are started with the engine, before the cluster, and
load what every call needs (`warm_up`) while the rest starts.
The child is `python -P -m mlscan.fleet.child`, started with an empty temporary folder of its own
as working directory (and TMPDIR), never inside a scanned checkout: `python -m` puts the working
directory first on sys.path, and a checkout may hold its own `mlscan.py`. The folder is removed
when the call ends, however it ends. On a `dask worker`, a worker process that dies (killed, out
of memory) is Dask's to handle: the scheduler reruns its task on another worker, up to
`distributed.scheduler.allowed-failures` times, and then the item's outcome is an error; its
children exit with it.

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
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

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
def child_command(warm_up: Optional[str] = None) -> list:
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []   # never put the cwd on sys.path
    return [sys.executable, *safe_path, "-m", "mlscan.fleet.child", *([warm_up] if warm_up else [])]


class ChildServer:
    """A child Python process that runs calls one after another (`mlscan.fleet.child`).

    Starting Python and importing mlscan costs about half a CPU second; paid once per child rather
    than once per repository, it stays small next to a scan. `warm_up` ("module:function") is
    called by the child as it starts, before it waits for the first call. The child is replaced
    after a call that crashed it or ran out of time, and after `RECYCLE_AFTER` calls (memory,
    leaked state). Each call gets a fresh scratch folder (its TMPDIR) inside the child's own,
    removed after it. Messages are 8-byte big-endian lengths followed by a pickle, both ways."""

    RECYCLE_AFTER = 100

    def __init__(self, warm_up: Optional[str] = None) -> None:
        self.warm_up = warm_up
        self.home = tempfile.mkdtemp(prefix="mlscan-child-")
        self.errors = open(os.path.join(self.home, "stderr.log"), "w+b")
        env = {**os.environ, "TMPDIR": self.home, "TEMP": self.home, "TMP": self.home,
               "MLSCAN_CHILD_PARENT": str(os.getpid())}
        self.proc = subprocess.Popen(child_command(warm_up), cwd=self.home, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.errors,
                                     start_new_session=True)   # its own process group: killed as one
        self.calls = 0
        self.killed = False   # the last call ended because something outside killed the child

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
                self.killed = self.proc.returncode == -signal.SIGKILL
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


class ChildPool:
    """The children of the embedded cluster's worker threads, owned by the engine that started them:
    started before the cluster (so they warm up while it starts), handed to whichever worker thread
    runs a call, and all stopped when the engine closes, busy or not."""

    def __init__(self, size: int, warm_up: Optional[str]) -> None:
        self.warm_up = warm_up
        self.lock = threading.Lock()
        self.idle = [ChildServer(warm_up) for _ in range(size)]
        self.busy: set = set()
        self.closed = False

    def take(self) -> ChildServer:
        with self.lock:
            if self.closed:
                raise RuntimeError("the engine is closed")
            while self.idle:
                server = self.idle.pop()
                if server.usable:
                    break
                server.stop()
            else:
                server = ChildServer(self.warm_up)
            self.busy.add(server)
            return server

    def give_back(self, server: ChildServer) -> None:
        with self.lock:
            self.busy.discard(server)
            if server.usable and not self.closed:
                self.idle.append(server)
                return
        server.stop()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, busy, self.idle = self.idle, list(self.busy), []
        for server in busy:   # its call ends as a crash, and its worker thread gives it back to be stopped
            if server.proc.poll() is None:
                _kill_group(server.proc)
        for server in idle:
            server.stop()


_pools: Dict[str, ChildPool] = {}   # embedded engines of this process, by run id
_closed_runs: set = set()           # embedded engines closed: a call of theirs that starts late starts nothing
_servers = threading.local()        # on a `dask worker`: one child per worker thread


def _acquire(pool_key: str, warm_up: Optional[str]) -> Tuple[ChildServer, Optional[ChildPool]]:
    pool = _pools.get(pool_key)
    if pool is not None:
        return pool.take(), pool
    if pool_key in _closed_runs:   # Ctrl-C or the end of a run: not a child of its own that outlives it
        raise RuntimeError("the engine is closed")
    server: Optional[ChildServer] = getattr(_servers, "server", None)
    if server is None or not server.usable:
        if server is not None:
            server.stop()
        server = _servers.server = ChildServer(warm_up)
    return server, None


def run_isolated(fn: Callable[[Any], Any], item: Any, timeout: Optional[float], pool_key: str = "",
                 warm_up: Optional[str] = None) -> Tuple[str, Any, Optional[str]]:
    """(status, value, error) of `fn(item)` run in a child process, stopped after `timeout` s;
    retried once in a fresh child when something outside killed the first one."""
    for attempt in range(2):
        server, pool = _acquire(pool_key, warm_up)
        try:
            status, value, error = server.call(fn, item, timeout)
        finally:
            if pool is not None:
                pool.give_back(server)
        if not (server.killed and attempt == 0 and not (pool is not None and pool.closed)):
            break
    if server.killed and attempt == 1:
        error = f"{error}, and again when retried"
    return status, value, error


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


def _task(fn: Callable[[Any], Any], index: int, item: Any, timeout: Optional[float], isolate: bool,
          pool_key: str = "", warm_up: Optional[str] = None) -> Outcome:
    start = time.monotonic()
    status, value, error = run_isolated(fn, item, timeout, pool_key, warm_up) if isolate else run_inline(fn, item)
    return Outcome(index, status, value, error, round(time.monotonic() - start, 3))


# ---- many calls, on Dask ----------------------------------------------------------------------
def free_cores(since=None) -> int:
    """Worker threads for the embedded cluster: the cores idle right now (at least one), by the
    same measure the parser's pool uses (`since`: an earlier `indexing.idle_sample()`)."""
    from mlscan.facts.indexing import free_cores as idle_now
    return idle_now(since)


def scheduler_address(given: Optional[str]) -> Optional[str]:
    return given or os.environ.get(SCHEDULER_ENV) or None


# The embedded cluster shares its process with `mlscan fleet`, and its workers' calls run in scan
# processes: no statistical profiler sampling every thread, no memory monitor (memory_limit=0), a
# 1 s event-loop watchdog rather than 20 ms, and a task goes to a worker only when its thread is
# free, so the biggest repositories start first and nothing waits behind a long scan. Idle, this
# cluster costs a tenth of the CPU it does with Dask's defaults (0.005 CPU-s per second).
EMBEDDED_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.scheduler.worker-saturation": 1.0,
}


class Engine:
    """A Dask client on its cluster, started in the background as soon as the engine is made.

    scheduler: a Dask scheduler address; None uses $DASK_SCHEDULER_ADDRESS, else an embedded
               LocalCluster of `workers` threads (default: free cores) in this process.
    isolate:   run each call in a child process (see the module docstring).
    warm_up:   "module:function" each child calls as it starts.
    idle_since: an `indexing.idle_sample()` taken earlier: the free cores are measured from it
               (no 0.1 s wait when the caller did other work meanwhile).
    Use it as a context manager; `map` may be called once or more before it closes."""

    def __init__(self, *, scheduler: Optional[str] = None, workers: Optional[int] = None, isolate: bool = True,
                 warm_up: Optional[str] = None, idle_since: Optional[tuple] = None) -> None:
        self.address = scheduler_address(scheduler)
        self.isolate = isolate
        self.warm_up = warm_up
        self.run = uuid.uuid4().hex[:8]
        self.workers = None if self.address else (workers or free_cores(idle_since))
        self.pool: Optional[ChildPool] = None
        if self.workers and isolate:   # first the children, which start Python and mlscan meanwhile
            self.pool = _pools[self.run] = ChildPool(self.workers, warm_up)
        self.cluster = self.client = None
        self._slots: Optional[int] = None
        self._failure: Optional[BaseException] = None
        self._starting = threading.Thread(target=self._start, name="mlscan-dask-start", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        try:
            try:
                from distributed import Client, LocalCluster
            except ImportError as exc:
                from mlscan.fleet import extra_problem
                raise UsageError(f"{extra_problem(['distributed'])} ({' '.join(str(exc).split())})") from None
            if self.address:
                try:
                    self.client = Client(self.address, timeout="20s")
                except (OSError, TimeoutError) as exc:
                    raise UsageError(f"cannot reach the Dask scheduler at {self.address} ({exc})") from None
            else:
                import dask
                with dask.config.set(EMBEDDED_CONFIG):
                    # no dashboard; the scheduler's and workers' small HTTP servers (which Dask would put on
                    # 0.0.0.0: 8787 and random ports) listen on free loopback ports; the rest is in-process
                    self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=False,
                                                dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                                                worker_dashboard_address="127.0.0.1:0",
                                                silence_logs=logging.ERROR, memory_limit=0)
                    self.client = Client(self.cluster)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by ready()
            self._failure = exc

    def ready(self):
        """The client, once the cluster is up (raises what starting it raised)."""
        self._starting.join()
        if self._failure is not None:
            raise self._failure
        return self.client

    @property
    def slots(self) -> int:
        """How many calls run at once (worker threads of the cluster)."""
        if self._slots is None:
            try:
                self._slots = self.workers or max(1, sum(self.ready().nthreads().values()))
            except Exception:  # noqa: BLE001 - only a hint
                self._slots = 1
        return self._slots

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: Optional[float] = None,
            label: str = "mlscan", priorities: Optional[Sequence[int]] = None) -> Iterator[Outcome]:
        """Yield one Outcome per item, in completion order (`Outcome.index` says which item).

        timeout:   seconds per item (only enforced with isolate=True).
        priorities: one number per item; higher starts first. Give the expected cost, so that the
                   longest items start early and do not finish alone at the end.
        Closing the generator (or Ctrl-C while iterating) cancels what has not finished."""
        items = list(items)
        if not items:
            return
        client = self.ready()
        from distributed import as_completed
        futures = {}
        try:
            order = sorted(range(len(items)), key=lambda i: -priorities[i]) if priorities else range(len(items))
            for i in order:   # submitted in priority order too: the first ones start before the rest arrive
                fut = client.submit(_task, fn, i, items[i], timeout, self.isolate, self.run, self.warm_up,
                                    pure=False, key=f"{label}-{self.run}-{i}",
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
                if self.pool is not None:   # the embedded workers' calls end now
                    self.pool.close()
                try:
                    client.cancel(list(futures))
                except Exception:  # noqa: BLE001 - shutting down anyway
                    pass

    def close(self) -> None:
        if self.pool is not None:
            _closed_runs.add(self.run)
            self.pool.close()
            _pools.pop(self.run, None)
        self._starting.join()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any], *, scheduler: Optional[str] = None,
              timeout: Optional[float] = None, workers: Optional[int] = None, isolate: bool = True,
              label: str = "mlscan", priorities: Optional[Sequence[int]] = None,
              warm_up: Optional[str] = None) -> Iterator[Outcome]:
    """`Engine(...).map(fn, items, ...)` on an engine of its own, closed at the end."""
    items = list(items)
    if not items:
        return
    with Engine(scheduler=scheduler, workers=workers, isolate=isolate, warm_up=warm_up) as engine:
        yield from engine.map(fn, items, timeout=timeout, label=label, priorities=priorities)


def _dask_error(exc: BaseException) -> str:
    name = exc.__class__.__name__
    if name == "KilledWorker":
        return ("the worker running this item died, and so did the workers it was retried on "
                f"({exc})")
    return f"{name}: {exc}"
