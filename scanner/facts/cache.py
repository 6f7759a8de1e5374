"""A content-addressed cache of per-file facts, shared by scans, processes and commits.

Key: the git blob SHA of a file's bytes (computed here the way git does, so a file read from the
work tree and the same blob read from git objects share one entry), the kind of fact, mlscan's
version and the fact-schema version. Value: what the facts room derives from that file alone
(its code index and the problems found reading it), pickled and compressed.

Storage is sqlite in WAL mode (one row per blob and kind), safe with concurrent processes, in the
user cache directory (`platformdirs`, so `XDG_CACHE_HOME` is respected), `MLSCAN_CACHE_DIR`, or a
folder given with `--cache-dir`. It grows to a size cap, then the least recently written rows go.
A corrupt, locked or foreign cache file becomes a diagnostic and a cold scan; values are unpickled
only into mlscan's own fact classes, so a planted file cannot run code.

Only the facts room uses this module: rules and everything above never know the cache exists.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import threading
import time
import zlib
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from mlscan import __version__

SCHEMA_VERSION = 2          # bump when what a per-file fact holds changes
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
FILE_NAME = "facts-v1.sqlite"
OFF = "off"


@functools.lru_cache(maxsize=None)
def source_digest(*names: str) -> str:
    """A hash of mlscan's own source files (`names` below the package, or all of them), so that an
    edited install (a development checkout) never reads what another build computed. Contents, not
    times: a fresh install of the same release (a CI run) keeps its cache."""
    import mlscan
    base = Path(mlscan.__file__).resolve().parent
    roots = [base / n for n in names] if names else [base, Path(__import__("mlscan.rules").rules.__file__).parent]
    h = hashlib.sha1()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml"))
        for p in files:
            try:
                h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
            except OSError:
                continue
    return h.hexdigest()[:16]


_STAMPS: Dict[str, str] = {}


def stamp(kind: str) -> str:
    """What a cached value of `kind` depends on besides its key: mlscan's version, the schema,
    and the source of the code that computes it."""
    if kind not in _STAMPS:
        code = ("facts/pycode.py", "facts/notebooks.py", "facts/indexing.py")
        sources = code if kind == "code" else (*code, "facts/graph.py", "facts/configs.py", "facts/repo.py",
                                                 "facts/cache.py") if kind == "graph" else ()
        _STAMPS[kind] = f"{__version__}/{SCHEMA_VERSION}/{source_digest(*sources)}"
    return _STAMPS[kind]


def blob_sha(data: bytes) -> str:
    """The git blob SHA-1 of `data` (`git hash-object`)."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def default_dir() -> Path:
    env = os.environ.get("MLSCAN_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs  # imported here: only scans that cache pay for it
    return Path(platformdirs.user_cache_dir("mlscan", appauthor=False))


# ---- safe unpickling ---------------------------------------------------------------------------
_ALLOWED = {("mlscan.facts.pycode", name) for name in
            ("CodeIndex", "CallSite", "Definition", "ImportRef", "AttrAssign", "Assignment", "Comparison",
             "NOT_LITERAL")} | {("mlscan.facts.docs", name) for name in ("Document", "Section", "Table")} | \
           {("datetime", name) for name in ("date", "datetime", "time", "timedelta", "timezone")} | \
           {("mlscan.facts.history", name) for name in ("History", "Commit", "Change")} | \
           {("mlscan.facts.configs", name) for name in ("ConfigDoc", "Requirement", "DockerInstruction")} | \
           {("mlscan.facts.ci", name) for name in ("CIJob", "CIStep")}


def _tuple_new_only(obj, name: str):
    """The one attribute lookup fact pickles make (`tuple.__new__`, see pycode._fast_reduce)."""
    if obj is tuple and name == "__new__":
        return tuple.__new__
    raise pickle.UnpicklingError(f"attribute {name!r} is not part of a fact")


class _FactUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module == "builtins" and name == "tuple":
            return tuple
        if module == "builtins" and name == "getattr":
            return _tuple_new_only
        if module == "builtins" and name == "tuple.__new__":
            return tuple.__new__
        raise pickle.UnpicklingError(f"{module}.{name} is not a fact type")


def dumps(value) -> bytes:
    return compress(pickled(value))


def loads(blob: bytes):
    return unpickled(zlib.decompress(blob))


def pickled(value) -> bytes:
    """A value's plain pickle (what `dumps` compresses)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def unpickled(data: bytes):
    return _FactUnpickler(io.BytesIO(data)).load()


def compress(data: bytes) -> bytes:
    return zlib.compress(data, 1)


# ---- stores ------------------------------------------------------------------------------------
class FactStore:
    """Per-file facts by (blob SHA, kind). The in-memory layer is shared by every scan in this
    process (a `--base` scan reuses the head scan's facts; `mlscan history` reuses them across
    commits); the sqlite layer, when there is one, shares them across processes and runs."""

    def __init__(self, path: Optional[Path] = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = path
        self.max_bytes = max_bytes
        self.memory: Dict[Tuple[str, str], object] = {}
        self.problems: List[str] = []     # reported once per scan as diagnostics
        self._db = None
        self._lock = threading.Lock()
        self.pending: List[tuple] = []    # rows put `later`, not yet on disk
        if path is not None:
            self._open()

    # -- sqlite ---------------------------------------------------------------------------------
    def _open(self) -> None:
        import sqlite3
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=5.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS facts (blob TEXT NOT NULL, kind TEXT NOT NULL, stamp TEXT NOT NULL,"
                       " value BLOB NOT NULL, size INTEGER NOT NULL, written REAL NOT NULL,"
                       " PRIMARY KEY (blob, kind, stamp)) WITHOUT ROWID")
            db.execute("CREATE INDEX IF NOT EXISTS facts_written ON facts (written)")
            db.execute("SELECT count(*) FROM facts WHERE blob = ''").fetchone()
            self._db = db
        except Exception as exc:  # corrupt, locked, not a database, unwritable folder
            self._fail(f"cannot use the fact cache {self.path} ({exc.__class__.__name__}: {exc}); scanning without it")

    def _fail(self, message: str) -> None:
        self.problems.append(message)
        if self._db is not None:
            try:
                self._db.close()
            except Exception:
                pass
        self._db = None

    def get_many(self, kind: str, blobs: Iterable[str]) -> Dict[str, object]:
        wanted = list(dict.fromkeys(blobs))
        out: Dict[str, object] = {}
        missing = []
        for b in wanted:
            v = self.memory.get((b, kind))
            if v is not None:
                out[b] = v
            else:
                missing.append(b)
        if missing and self._db is not None:
            rows = []
            try:
                with self._lock:
                    for i in range(0, len(missing), 500):
                        chunk = missing[i:i + 500]
                        marks = ",".join("?" * len(chunk))
                        rows.extend(self._db.execute(
                            f"SELECT blob, value FROM facts WHERE kind = ? AND stamp = ? AND blob IN ({marks})",
                            (kind, stamp(kind), *chunk)).fetchall())
            except Exception as exc:
                self._fail(f"cannot read the fact cache {self.path} ({exc.__class__.__name__}: {exc}); "
                           "scanning without it")
                rows = []
            bad = 0
            for blob, value in rows:
                try:
                    fact = loads(value)
                except Exception:
                    bad += 1
                    continue
                out[blob] = fact
                self.memory[(blob, kind)] = fact
            if bad:
                self.problems.append(f"{bad} unreadable entr{'y' if bad == 1 else 'ies'} in the fact cache "
                                     f"{self.path} were ignored and recomputed")
        return out

    @property
    def persistent(self) -> bool:
        """Whether values are written to disk (then put_encoded wants their encoding)."""
        return self._db is not None

    def put_many(self, kind: str, items: Iterable[Tuple[str, object]]) -> None:
        self.put_encoded(kind, ((key, value, None) for key, value in items))

    def put_encoded(self, kind: str, items: Iterable[Tuple[str, object, Optional[bytes]]],
                    later: bool = False) -> None:
        """Store values; each with its `dumps` encoding when the caller has it already (else None).
        With `later`, they are in memory at once but written to disk (and what needs it encoded)
        by the next flush(): a scan flushes while it waits for its rule workers, and at its end."""
        rows = []
        now = time.time()
        for blob, value, data in items:
            self.memory[(blob, kind)] = value
            if self._db is not None:
                # encoded when written (a value put `later` is pickled now: it may change meanwhile)
                rows.append((blob, kind, stamp(kind), data if data is not None else pickled(value),
                             data is None, now))
        if later:
            self.pending.extend(rows)
            return
        self._write(rows)

    def flush(self) -> None:
        """Write the values put `later`."""
        rows, self.pending = self.pending, []
        self._write(rows)

    def _write(self, rows: List[tuple]) -> None:
        if not rows or self._db is None:
            return
        for i, (blob, kind, stamp_, data, plain, now) in enumerate(rows):
            if plain:
                data = compress(data)
            rows[i] = (blob, kind, stamp_, data, len(data), now)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
                self._evict()
        except Exception as exc:
            try:
                self._db.execute("ROLLBACK")
            except Exception:
                pass
            self.problems.append(f"cannot write the fact cache {self.path} ({exc.__class__.__name__}); "
                                 "this scan's facts were not saved")

    def _evict(self) -> None:
        total = self._db.execute("SELECT coalesce(sum(size), 0) FROM facts").fetchone()[0]
        if total <= self.max_bytes:
            return
        target = int(self.max_bytes * 0.8)
        self._db.execute("BEGIN IMMEDIATE")
        cur = self._db.execute("SELECT blob, kind, stamp, size FROM facts ORDER BY written")
        drop = []
        for blob, kind, stamp, size in cur:
            if total <= target:
                break
            drop.append((blob, kind, stamp))
            total -= size
        self._db.executemany("DELETE FROM facts WHERE blob = ? AND kind = ? AND stamp = ?", drop)
        self._db.execute("COMMIT")

    def take_problems(self) -> List[str]:
        out, self.problems = self.problems, []
        return out


_ABSENT = object()


class FileMaps:
    """Values computed from one file each (a parsed document, a rule's judgement of one file),
    for one scan: name -> {file key -> value}, where the file key names the file's content (blob
    SHA and path). Each name is one cache row, read whole when first asked for; what the scan
    added is written back by save(), keeping the entries this scan used (and older ones while
    they are fewer than twice as many). A value must be a pure function of the file it is keyed
    by: then any row, however old or whoever wrote it, gives the same answers."""

    KIND = "filemap"

    def __init__(self, store: "FactStore"):
        self.store = store
        self.maps: Dict[str, Dict[str, object]] = {}
        self.used: Dict[str, set] = {}
        self.new: Dict[str, Dict[str, object]] = {}

    def _map(self, name: str) -> Dict[str, object]:
        got = self.maps.get(name)
        if got is None:
            row = self.store.get_many(self.KIND, [name]).get(name)
            got = self.maps[name] = dict(row) if isinstance(row, dict) else {}
            self.used.setdefault(name, set())
        return got

    def get(self, name: str, key: str, compute):
        values = self._map(name)
        self.used[name].add(key)
        value = values.get(key, _ABSENT)
        if value is _ABSENT:
            value = values[key] = compute()
            self.new.setdefault(name, {})[key] = value
        return value

    def take_news(self) -> Tuple[Dict[str, Dict[str, object]], Dict[str, List[str]]]:
        """(entries added, keys used) since the last call: what a forked worker sends its parent."""
        new, self.new = self.new, {}
        used = {name: list(keys) for name, keys in self.used.items() if keys}
        for keys in self.used.values():
            keys.clear()
        return new, used

    def merge(self, news: Dict[str, Dict[str, object]], used: Optional[Dict[str, List[str]]] = None) -> None:
        """Entries a forked worker computed (so that they are saved too), and the keys it used (so
        that saving keeps them)."""
        for name, entries in news.items():
            values = self._map(name)
            for key, value in entries.items():
                if key not in values:
                    values[key] = value
                    self.new.setdefault(name, {})[key] = value
                self.used[name].add(key)
        for name, keys in (used or {}).items():
            self.used.setdefault(name, set()).update(keys)

    def save(self, persist: bool = True, later: bool = False) -> None:
        """Keep what this scan added for the next scans; with `persist` False in this process only
        (many commits of one run: written to disk once per row would cost more than it saves);
        with `later`, written to disk by the store's next flush()."""
        rows = []
        for name in sorted(self.new):
            values, used = self.maps[name], self.used[name]
            values = {k: v for k, v in values.items() if k in used} if len(values) > 2 * len(used) else dict(values)
            if not persist:
                self.store.memory[(name, self.KIND)] = values
                continue
            try:
                data = dumps(values) if self.store.persistent else None
            except Exception:  # a value that does not pickle: not kept, never a wrong answer
                continue
            rows.append((name, values, data))
        self.new = {}
        if rows:
            self.store.put_encoded(self.KIND, rows, later=later)


_STORES: Dict[str, FactStore] = {}


def open_store(cache_dir: Optional[str]) -> FactStore:
    """The process-wide store for `cache_dir` (None: the default folder; "off": memory only)."""
    key = cache_dir if cache_dir is not None else "<default>"
    store = _STORES.get(key)
    if store is None:
        if cache_dir == OFF:
            store = FactStore(None)
        else:
            folder = Path(cache_dir) if cache_dir is not None else default_dir()
            store = FactStore(folder / FILE_NAME)
        _STORES[key] = store
    return store


_INHERITED: list = []   # connections a forked child inherited: kept open, never used (closing may upset the parent's)


def after_fork() -> None:
    """In a forked child that will read and write the cache: its own sqlite connections (one
    carried across a fork must not be used)."""
    for store in _STORES.values():
        store.pending = []   # the parent writes what it put
        if store._db is not None:
            _INHERITED.append(store._db)
            store._db = None
            store._lock = threading.Lock()
            store._open()

