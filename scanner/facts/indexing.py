"""Read and index every Python file and notebook once, in worker processes when it pays."""
from __future__ import annotations

import codecs
import contextlib
import functools
import gc
import os
from typing import Callable, List, Optional, Sequence, Tuple

from mlscan.facts.inventory import MAX_TEXT_BYTES, _pep263_encoding
from mlscan.facts.notebooks import index_notebook
from mlscan.facts.pycode import CodeIndex, index_source

MAX_CODE_BYTES = 1536 * 1024   # larger .py files are generated code more often than not
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


@contextlib.contextmanager
def paused_gc():
    """No cyclic garbage collection while facts are built or loaded: they form no reference cycles,
    but every collection walks all objects alive, hundreds of thousands of fact tuples and AST
    nodes (two thirds of unpickling cached facts went there). Nothing is frozen: cycles made
    meanwhile (a scan's Facts and its graph refer to each other) are collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decode(data: bytes, is_python: bool) -> Tuple[Optional[str], Optional[str]]:
    """(text, problem)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # e.g. `pip freeze > requirements.txt` in PowerShell
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            pass
    if b"\0" in data[:8192]:
        return None, "looks binary (NUL bytes); not parsed"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    declared = _pep263_encoding(data) if is_python else None
    if declared:
        try:
            return data.decode(declared), None
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("latin-1"), "is not valid UTF-8; read as latin-1"


def oversized(rel: str, size: int) -> Optional[CodeIndex]:
    """The index of a file too large to analyse (without reading it), or None."""
    is_nb = rel.endswith(".ipynb")
    limit = MAX_TEXT_BYTES * 4 if is_nb else MAX_CODE_BYTES  # notebooks carry outputs
    if size > limit:
        return CodeIndex(path=rel, module="", is_notebook=is_nb,
                         error=f"{size // 1024} KiB, over the {limit // 1024} KiB limit for code; not analysed")
    return None


def index_bytes(rel: str, data: bytes) -> Tuple[CodeIndex, List[str]]:
    """One file's bytes: decode, parse, index. Returns the index and problem messages."""
    is_nb = rel.endswith(".ipynb")
    problems: List[str] = []
    text, problem = decode(data, not is_nb)
    if text is None:
        return CodeIndex(path=rel, module="", is_notebook=is_nb, error=problem), []
    if problem:
        problems.append(problem)
    idx = index_notebook(rel, text) if is_nb else index_source(rel, text)
    return idx, problems


def read_and_index(root: str, rel: str, size: int) -> Tuple[CodeIndex, List[str]]:
    """One file in a folder: read, decode, parse, index."""
    big = oversized(rel, size)
    if big is not None:
        return big, []
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return CodeIndex(path=rel, module="", is_notebook=rel.endswith(".ipynb"),
                         error=f"cannot read: {exc.strerror or exc}"), []
    return index_bytes(rel, data)


def _batch(items: Sequence[Tuple[str, bytes]]) -> List[Tuple[CodeIndex, List[str]]]:
    return [index_bytes(rel, data) for rel, data in items]


def _encoded_batch(items: Sequence[Tuple[str, bytes]], for_cache: bool) -> List[bytes]:
    """In a worker: each result pickled, and `for_cache` encoded the way the fact cache stores it,
    so the parent decodes it once and stores the same bytes (instead of decoding, then encoding
    again); without a cache on disk, not compressed (for nothing)."""
    from mlscan.facts.cache import dumps, pickled
    encode = dumps if for_cache else pickled
    return [encode(index_bytes(rel, data)) for rel, data in items]


Indexed = Tuple[Tuple[CodeIndex, List[str]], Optional[bytes]]


_SHARED_CHUNKS: Sequence[object] = ()   # the chunks of share_out, inherited by its forked workers


def _shared_call(fn: Callable[[object], object], k: int) -> object:
    return fn(_SHARED_CHUNKS[k])


def share_out(chunks: Sequence[object], in_worker: Callable[[object], object], here: Callable[[object], object],
              jobs: int, decode: Callable[[object], object] = lambda r: r,
              meanwhile: Sequence[Callable[[], object]] = ()) -> List[object]:
    """Each chunk's result, in chunk order: `jobs - 1` processes forked now run `in_worker(chunk)`
    (a module-level function; its result goes through `decode` here) and this process runs
    `here(chunk)`, so that no core idles while the parent waits. The workers take chunks from
    the front (put the costly ones first), this process from the back, each as it frees up;
    between chunks, this process decodes what came back, then runs the `meanwhile` tasks (in
    order; those left at the end are not run). Where fork is missing or fails, this process
    runs what is left."""
    results: List[object] = [None] * len(chunks)
    done = [False] * len(chunks)
    workers = jobs - 1
    if workers >= 1 and len(chunks) > 1 and hasattr(os, "fork"):
        import collections
        import concurrent.futures as cf
        import multiprocessing as mp
        global _SHARED_CHUNKS
        queue = collections.deque(range(len(chunks)))
        tasks = list(meanwhile)
        _SHARED_CHUNKS = chunks   # the workers read their chunks from the memory they inherit
        try:
            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
                pending: dict = {}
                while queue or pending:
                    while queue and len(pending) < 2 * workers:   # one queued behind each worker's current chunk
                        k = queue.popleft()
                        pending[pool.submit(_shared_call, in_worker, k)] = k
                    ready = [f for f in pending if f.done()]
                    for fut in ready:
                        k = pending.pop(fut)
                        results[k] = decode(fut.result())
                        done[k] = True
                    if ready:
                        continue
                    if tasks:
                        tasks.pop(0)()
                    elif queue:
                        k = queue.pop()
                        results[k] = here(chunks[k])
                        done[k] = True
                    else:
                        cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        except (OSError, RuntimeError, AssertionError, cf.process.BrokenProcessPool):
            pass   # what is not done yet is done below
        finally:
            _SHARED_CHUNKS = ()
    for k, chunk in enumerate(chunks):
        if not done[k]:
            results[k] = here(chunk)
    return results


def chunks_by_size(items: Sequence, size_of: Callable[[object], int], jobs: int) -> List[list]:
    """The items, biggest first, cut into chunks of about equal size (some 16 per job), so that workers
    taking chunks from the front and this process from the back finish together."""
    ordered = sorted(items, key=lambda x: -size_of(x))
    target = max(1, sum(size_of(x) for x in items) // (jobs * 16))
    chunks: List[list] = [[]]
    size = 0
    for it in ordered:
        if size >= target:
            chunks.append([])
            size = 0
        chunks[-1].append(it)
        size += size_of(it)
    return chunks


def index_all(items: List[Tuple[str, bytes]], jobs: int, encode: bool = False,
              meanwhile: Sequence[Callable[[], object]] = ()) -> List[Indexed]:
    """Index every (path, bytes); `jobs` 0 picks the number of free cores (only for work worth splitting).
    Each result comes with its fact-cache encoding (`cache.dumps`) when `encode` (else None). The result is sorted
    by path, whatever the number of workers. When workers index, this process runs `meanwhile`
    tasks (in order: other facts the scan will need, computed lazily otherwise) whenever no result
    is waiting to be decoded; tasks left when the last result is in are not run."""
    from mlscan.facts.cache import dumps, loads, unpickled
    total = sum(len(d) for _, d in items)
    worth = total >= PARALLEL_MIN_BYTES and len(items) >= 50
    if worth and jobs == 0:
        jobs = default_jobs()
    tasks = list(meanwhile)
    if jobs <= 1 or not worth:
        done = _batch(items)
        out: List[Indexed] = [(r, dumps(r) if encode else None) for r in done]
        out.sort(key=lambda r: r[0][0].path)
        return out
    # biggest files first, in chunks of about equal bytes: workers take them from the front, this
    # process from the back (the small ones, between decoding what came back and its other tasks)
    chunks = chunks_by_size(items, lambda it: len(it[1]), jobs)

    def here(chunk: List[Tuple[str, bytes]]) -> List[Indexed]:
        return [(r, dumps(r) if encode else None) for r in _batch(chunk)]

    decode = loads if encode else unpickled
    out = []
    for part in share_out(chunks, functools.partial(_encoded_batch, for_cache=encode), here, jobs,
                          decode=lambda blobs: [(decode(b), b if encode else None) for b in blobs],
                          meanwhile=tasks):
        out.extend(part)
    out.sort(key=lambda r: r[0][0].path)
    return out


IdleSample = Tuple[float, int, int, float]   # (monotonic time, idle ticks, all ticks, own CPU seconds)


def idle_sample() -> Optional[IdleSample]:
    """The first of the two readings `free_cores` compares, or None where /proc/stat is missing;
    taken early, the time until `free_cores(since=...)` needs no sleep (work done meanwhile,
    this process's and its children's, is not counted as busy)."""
    import time
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    except (OSError, ValueError, IndexError):
        return None
    own = os.times()
    return time.monotonic(), idle, sum(fields), own.user + own.system + own.children_user + own.children_system


_LAST_SAMPLE: List[IdleSample] = []   # the latest reading taken (at a scan's start or by free_cores)


def note_cpu_sample() -> None:
    """Take a first reading at the start of a scan, so that the next `free_cores()` measures from
    here (when it is under 10 s old) instead of waiting 100 ms for a second one."""
    sample = idle_sample()
    _LAST_SAMPLE[:] = [sample] if sample is not None else []


def _recent_sample() -> Optional[IdleSample]:
    import time
    if _LAST_SAMPLE and time.monotonic() - _LAST_SAMPLE[0][0] <= 10.0:
        return _LAST_SAMPLE[0]
    return None


def _idle_cores(cores: int, since: Optional[IdleSample] = None) -> float:
    """Cores idle right now: two /proc/stat readings at least 100 ms apart (the first may be
    `since`), else the 1-minute load average."""
    import time
    first = since or idle_sample()
    if first is not None:
        time.sleep(max(0.0, 0.1 - (time.monotonic() - first[0])))
        second = idle_sample()
        _LAST_SAMPLE[:] = [second] if second is not None else []
        if second is not None and second[2] > first[2]:
            own_ticks = (second[3] - first[3]) * os.sysconf("SC_CLK_TCK") if since else 0
            idle = (second[1] - first[1] + own_ticks) / (second[2] - first[2])
            return cores * min(1.0, idle)
    try:
        return cores - os.getloadavg()[0]
    except (AttributeError, OSError):
        return float(cores)


def free_cores(since: Optional[IdleSample] = None) -> int:
    """The cores this process may use that are idle right now (at least one); `since`: see `idle_sample`."""
    try:
        cores = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, int(_idle_cores(cores, since or _recent_sample()) + 0.5)))


def default_jobs(since: Optional[IdleSample] = None) -> int:
    """Worker processes: the cores that are free now (busy cores make two workers slower than one)."""
    return min(4, free_cores(since))
