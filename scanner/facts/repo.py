"""Facts: everything mlscan knows about a repo, read once and lazily. Rules only ask this object."""
from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from mlscan.facts import configs as cfg
from mlscan.facts import track
from mlscan.facts.cache import blob_sha
from mlscan.facts.ci import CIJob, is_ci_path, parse_ci
from mlscan.facts.history import History, is_git_work_tree, read_history
from mlscan.facts.inventory import FileEntry, Inventory
from mlscan.facts.pycode import CallSite, CodeIndex
from mlscan.report.model import Diagnostic

TEST_DIRS = {"tests", "test", "testing", "unittests", "unit_tests", "integration_tests"}
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
MAX_YAML_CONFIG_BYTES = 256 * 1024
DOC_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
PROSE_COMMAND = re.compile(r"^\s*(?:>\s*)?(?:\$\s*)?((?:[A-Z_]+=\S+\s+)*(?:python3?|torchrun|accelerate launch|deepspeed)\s.*)$")
SHELL_FENCES = {"", "bash", "sh", "shell", "console", "zsh", "shell-session", "text", "cmd", "powershell"}
HEREDOC = re.compile(r"(?<!<)<<(?!<)-?\s*(['\"]?)([A-Za-z_][\w.-]*)\1")  # `<<EOF`, `<<-'EOF'`; not `<<<`
DOC_SUFFIXES = (".md", ".rst", ".txt", ".markdown")
REQUIREMENT_FILE = re.compile(r"(^|/)(requirements|requires|reqs|constraints)[\w.-]*\.(txt|in|pip)$|(^|/)requirements/[\w.-]+\.(txt|in)$", re.I)
LOCK_FILES = {"poetry.lock": "poetry", "uv.lock": "uv", "pdm.lock": "pdm", "Pipfile.lock": "pipenv",
              "conda-lock.yml": "conda-lock", "conda-lock.yaml": "conda-lock", "requirements.lock": "rye",
              "pixi.lock": "pixi", "pylock.toml": "pylock"}


class _CodeNotReady(BaseException):
    """Raised to a task that runs while the code is indexed and asks for the code (see _meanwhile).
    Not an Exception: no `guarded` derivation may take it for bad input."""


@dataclass(frozen=True)
class ScanOptions:
    history_depth: int = 2000
    exclude: Tuple[str, ...] = ()
    jobs: int = 0          # 0: pick from free cores
    cache_dir: Optional[str] = None   # None: the default cache folder; "off": no cache on disk
    also_meanwhile: Tuple[Callable[["Facts"], object], ...] = ()   # more tasks for the indexing's idle moments


def _parse_config(path: str, text: str) -> Optional[cfg.ConfigDoc]:
    low = path.lower()
    name = PurePosixPath(low).name
    if low.endswith((".yaml", ".yml")) or name in ("mlproject", ".dvc") or low.endswith(".dvc"):
        return cfg.parse_yaml(path, text)
    if low.endswith(".toml"):
        return cfg.parse_toml(path, text)
    if low.endswith((".json", ".ipynb")):
        return cfg.parse_json(path, text)
    if low.endswith((".cfg", ".ini")) or low == ".dvc/config" or name == "config":
        return cfg.parse_ini(path, text)
    return None


PARSED_KEPT_BYTES = 256 * 1024   # a larger file's parsed form is not kept across scans (nor read whole with the others)


@functools.lru_cache(maxsize=65536)
@functools.lru_cache(maxsize=None)
def _function_key(fn) -> str:
    """The cache name of a per-file function: its dotted name, and for code outside mlscan (a
    plugin's rules) a digest of its module's source, so that another version never reads it
    (mlscan's own source is in every cache stamp already)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    if fn.__module__.split(".")[0] == "mlscan":
        return name
    import hashlib
    import sys
    try:
        source = Path(sys.modules[fn.__module__].__file__).read_bytes()
    except (KeyError, TypeError, AttributeError, OSError):
        source = repr(fn.__code__.co_code).encode()
    return f"{name}@{hashlib.sha1(source).hexdigest()[:16]}"


@functools.lru_cache(maxsize=65536)   # pure, and asked per call site by several rules
def is_test_path(path: str) -> bool:
    """Test code: test-named files, and files in test folders, except inside a `src/` layout, where
    a `tests` or `testing` package is library code (a test DSL, testing helpers)."""
    p = PurePosixPath(path)
    name = p.name
    if name.startswith("test_") or name.endswith(("_test.py", "_tests.py")) or name in ("conftest.py", "tests.py"):
        return True
    if p.parts and p.parts[0] == "src":
        return False
    return any(part.lower() in TEST_DIRS for part in p.parts[:-1])


@dataclass(frozen=True)
class CommitTree:
    """Scan a commit instead of the work tree: its files come from git objects."""
    toplevel: Path      # the repository's work tree (or git dir) that git is run in
    sha: str
    prefix: str = ""    # "sub/dir/" when a subfolder is scanned
    # what several commits of one repository share (`mlscan history`): one object reader, one log
    shared: Optional["CommitSession"] = field(default=None, compare=False, repr=False)


class Facts:
    def __init__(self, root: Path, options: Optional[ScanOptions] = None, commit: Optional[CommitTree] = None):
        self.root = Path(root).resolve()
        self.options = options or ScanOptions()
        self.commit = commit
        if commit is not None:
            from mlscan.facts.inventory import GitTreeInventory
            self.in_git = True
            self.inventory: Inventory = GitTreeInventory(commit.toplevel, commit.sha, commit.prefix,
                                                         self.options.exclude,
                                                         commit.shared.objects if commit.shared else None)
        else:
            self.in_git = is_git_work_tree(self.root)
            self.inventory = Inventory(self.root, self.in_git, self.options.exclude)
        self._configs: Dict[str, Optional[cfg.ConfigDoc]] = {}
        self._extra_diagnostics: List[Diagnostic] = []

    # ---- files ------------------------------------------------------------------------------
    @property
    def files(self) -> List[FileEntry]:
        if track.ACTIVE is not None:
            track.read(track.LISTING)
        return self.inventory.files

    def exists(self, path: str) -> bool:
        return self.inventory.exists(path)

    def absent_tracked(self, suffixes: Tuple[str, ...]) -> Dict[str, Optional[int]]:
        """Committed files with these suffixes that the work tree lacks -> blob size (None: the blob is
        not in this clone either, as large files of a partial clone)."""
        return self.memo(f"absent-tracked:{','.join(suffixes)}", lambda: self.inventory.absent_tracked(suffixes))

    def glob(self, *patterns: str) -> List[FileEntry]:
        """Files whose repo path (or, for patterns without '/', name) matches a pattern."""
        out = []
        for f in self.files:
            for pat in patterns:
                if fnmatch.fnmatchcase(f.path if "/" in pat else f.name, pat):
                    out.append(f)
                    break
        return out

    def text(self, path: str) -> Optional[str]:
        return self.inventory.read_text(path)

    def line_of(self, path: str, needle: str, regex: bool = False, after: int = 0) -> int:
        """First line of `path` containing `needle`, at or after line `after` (1 if not found):
        positions evidence in text files."""
        text = self.text(path)
        if not text or not needle:
            return 1
        start = 0
        if after > 1:
            start = -1
            for _ in range(after - 1):
                start = text.find("\n", start + 1)
                if start < 0:
                    return 1
            start += 1
        if regex:
            m = re.compile(needle, re.M).search(text, start)
            return text.count("\n", 0, m.start()) + 1 if m else 1
        pos = text.find(needle, start)
        return text.count("\n", 0, pos) + 1 if pos >= 0 else 1

    # ---- code -------------------------------------------------------------------------------
    @cached_property
    def code(self) -> Dict[str, CodeIndex]:
        """Every .py file and notebook, parsed once; per-file results come from the fact cache
        when the same bytes were indexed before (here, in another scan, or at another commit)."""
        from mlscan.facts.indexing import paused_gc
        with paused_gc():
            return self._read_code()

    def _read_code(self) -> Dict[str, CodeIndex]:
        if self._indexing:
            raise _CodeNotReady()   # a task run while the code is indexed asked for the code
        from mlscan.facts.indexing import index_all, oversized
        store = self._fact_store()
        results: List[Tuple[CodeIndex, List[str]]] = []
        keys: Dict[str, str] = {}
        read: Dict[str, bytes] = {}
        for f in self.files:
            if f.suffix not in (".py", ".ipynb"):
                continue
            big = oversized(f.path, f.size)
            if big is not None:
                results.append((big, []))
                continue
            blob = self.inventory.blob_of(f.path) or self._blob_ids.get(f.path)
            if blob is None:  # a work-tree file: hash what is on disk
                data, problem = self.inventory.read_bytes(f.path)
                if data is None:
                    results.append((CodeIndex(path=f.path, module="", is_notebook=f.suffix == ".ipynb",
                                              error=problem), []))
                    continue
                read[f.path] = data
                blob = blob_sha(data)
            keys[f.path] = f"{blob}:{f.path}"   # the index depends on the path too (module names)
        hits = store.get_many("code", keys.values()) if keys else {}
        missing: List[Tuple[str, bytes]] = []
        for path, key in keys.items():
            if key in hits:
                results.append(hits[key])
                continue
            data = read.pop(path, None) or self._code_bytes.pop(path, None)
            if data is None:
                data, problem = self.inventory.read_bytes(path)
                if data is None:
                    results.append((CodeIndex(path=path, module="", is_notebook=path.endswith(".ipynb"),
                                              error=problem), []))
                    continue
            missing.append((path, data))
        read.clear()
        self._code_bytes.clear()
        self.code_keys = keys   # the graph caches each file's share under the same key
        if missing:
            self._indexing = True
            try:
                fresh = index_all(missing, self.options.jobs, encode=store.persistent, meanwhile=self._meanwhile())
            finally:
                self._indexing = False
            del missing
            store.put_encoded("code", ((keys[r[0].path], r, blob) for r, blob in fresh), later=self.defer_writes)
            results.extend(r for r, _ in fresh)
        self._take_cache_problems(store)
        out: Dict[str, CodeIndex] = {}
        for idx, problems in sorted(results, key=lambda r: r[0].path):
            out[idx.path] = idx
            for p in problems:
                self._extra_diagnostics.append(Diagnostic(idx.path, p))
            if idx.error:
                self._extra_diagnostics.append(Diagnostic(idx.path, idx.error))
        return out

    code_keys: Dict[str, str] = {}   # path -> the fact-cache key of its code index (set by `code`)
    _indexing = False

    # per-file facts are written to the cache on disk by flush_cache_writes(), not when computed:
    # set by a scan that flushes while its rule workers run (and before its report)
    defer_writes = False

    def flush_cache_writes(self) -> None:
        """Write the per-file facts kept for later to the fact cache (see `defer_writes`)."""
        store = self.__dict__.get("_store")
        if store is not None and store.pending:
            store.flush()
            self._take_cache_problems(store)

    def _take_cache_problems(self, store) -> None:
        for message in store.take_problems():
            self._cache_trouble = True
            self._extra_diagnostics.append(Diagnostic(".", message))

    def _meanwhile(self) -> List:
        """Facts every scan reads that do not depend on the code, as small tasks for this process
        while workers index the code (a cold scan): the history, requirements, CI jobs, prose
        documents and config documents (none may ask for the code). Each is what a rule or the end of the scan computes
        anyway; only the moment changes. Not in a recording scan (`mlscan history`), whose reads
        must come in order."""
        if self.commit is not None or track.ACTIVE is not None:
            return []

        def quietly(task):
            def run() -> None:
                try:
                    task()
                except (Exception, _CodeNotReady):  # computed again when asked, where it fails as it always did
                    pass
            return run
        tasks = [quietly(lambda: self.history), quietly(lambda: self.ci_jobs)]
        tasks.extend(quietly(functools.partial(task, self)) for task in self.options.also_meanwhile)
        docs, configs = self.doc_files, self.config_files
        for i in range(0, len(docs), 40):
            tasks.append(quietly(lambda part=docs[i:i + 40]: self.prefetch_documents(part)))
        for i in range(0, len(configs), 40):
            tasks.append(quietly(lambda part=configs[i:i + 40]: [self.config(p) for p in part if p not in self._configs]))
        return tasks

    @cached_property
    def _code_bytes(self) -> Dict[str, bytes]:
        return {}

    @cached_property
    def _blob_ids(self) -> Dict[str, str]:
        """Only filled by input_digest(): the blob SHA of every file it hashed."""
        return {}

    def input_digest(self, extra: str) -> Optional[str]:
        """A digest of everything a scan of this tree reads: every file's path, size and content
        (git blob SHA; the size alone for files too large to be read as text), what listing found
        odd, the commit history starts from, and `extra` (the scan's settings). None when it
        cannot be known."""
        import hashlib
        from mlscan.facts.inventory import MAX_TEXT_BYTES
        h = hashlib.sha256(extra.encode("utf-8", "surrogateescape"))
        h.update(f"\0{self.root}\0{self.in_git}\0".encode("utf-8", "surrogateescape"))
        ids = self._blob_ids
        stat_keys = self.inventory.stat_keys
        known = self._known_blobs() if stat_keys else {}
        for f in self.files:
            blob = self.inventory.blob_of(f.path)
            limit = MAX_TEXT_BYTES * 4 if f.suffix == ".ipynb" else MAX_TEXT_BYTES
            if blob is None and f.size <= limit:
                got = known.get(f.path)
                if got is not None and got[0] == stat_keys.get(f.path):
                    blob = ids[f.path] = got[1]   # unchanged since a scan hashed it: not read again
                else:
                    data, _ = self.inventory.read_bytes(f.path)
                    if data is None:
                        return None  # unreadable now, perhaps not later: nothing to reuse or remember
                    blob = ids[f.path] = blob_sha(data)
                    if f.suffix in (".py", ".ipynb"):
                        self._code_bytes[f.path] = data
            if blob is None:  # too large to be read as text: only its size can reach the report
                blob = f"size:{f.size}"
            h.update(f"{f.path}\0{f.tracked}\0{f.size}\0{blob}\n".encode("utf-8", "surrogateescape"))
        if stat_keys:
            self._keep_known_blobs(known)
        for d in self.inventory.diagnostics:
            h.update(f"diag\0{d.path}\0{d.message}\n".encode("utf-8", "surrogateescape"))
        if self.in_git and self.options.history_depth > 0 or self.commit is not None:
            head = self.commit.sha if self.commit is not None else self._git_head()
            if head is None:
                return None
            h.update(f"head\0{head}\0{self.options.history_depth}\n".encode())
        return h.hexdigest()

    # Blobs of work-tree files by what lstat says of them, kept for the next scan of the same tree,
    # as git's index keeps them: a file whose mtime, ctime, inode, device and size are those it had
    # when hashed has the same content. Only files last changed well before the listing began are
    # kept ("racily clean" ones could change again within the clock's resolution unnoticed); any
    # write, chmod or replacement moves the ctime, which no one can set back.
    KNOWN_BLOBS_KIND = "stat-blobs"
    RACY_NS = 2_000_000_000

    def _known_blobs(self) -> Dict[str, Tuple[tuple, str]]:
        got = self._fact_store().get_many(self.KNOWN_BLOBS_KIND, [str(self.root)]).get(str(self.root))
        return got if isinstance(got, dict) else {}

    def _keep_known_blobs(self, known: Dict[str, Tuple[tuple, str]]) -> None:
        before = self.inventory.listed_at_ns - self.RACY_NS
        ids, stat_keys = self._blob_ids, self.inventory.stat_keys
        keep = {path: (key, ids[path]) for path, key in stat_keys.items()
                if path in ids and key[0] < before and key[1] < before}
        if keep != known:
            self._fact_store().put_many(self.KNOWN_BLOBS_KIND, [(str(self.root), keep)])

    def _git_head(self) -> Optional[str]:
        import subprocess
        from mlscan.facts.gitsafe import run_git
        try:
            r = run_git(self.root, ["rev-parse", "--verify", "-q", "HEAD", "--is-shallow-repository"], text=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.replace("\n", " ").strip() if r.returncode == 0 else "no-commits"

    def remembered(self, kind: str, key: str) -> Optional[str]:
        """A whole-scan result saved under `key` by remember(), if the cache holds one."""
        got = self._fact_store().get_many(kind, [key]).get(key)
        return got if isinstance(got, str) else None

    def remember(self, kind: str, key: str, value: str) -> None:
        """Save a whole-scan result, unless the cache had trouble in this scan (then the result
        carries a diagnostic about the cache, which a later scan must not repeat)."""
        if not self._cache_trouble:
            self._fact_store().put_many(kind, [(key, value)])

    _cache_trouble = False

    def _fact_store(self):
        return self._store

    @cached_property
    def _store(self):
        from mlscan.facts.cache import OFF, open_store
        cache_dir = self.options.cache_dir
        if cache_dir != OFF:
            from mlscan.facts.cache import default_dir
            folder = Path(cache_dir) if cache_dir is not None else default_dir()
            try:
                inside = folder.resolve() == self.root or self.root in folder.resolve().parents
            except (OSError, RuntimeError):
                inside = True
            if inside:
                self._cache_trouble = True
                self._extra_diagnostics.append(Diagnostic(".", f"the fact cache folder {folder} is inside the "
                                                               "scanned tree; scanning without a cache"))
                cache_dir = OFF
        return open_store(cache_dir)

    @cached_property
    def _code_split(self) -> Tuple[Tuple[CodeIndex, ...], Tuple[CodeIndex, ...], Tuple[CodeIndex, ...],
                                   Tuple[CodeIndex, ...]]:
        """(modules, notebooks, non-test code, test code), each in path order (self.code is sorted)."""
        code = list(self.code.values())
        return (tuple(c for c in code if not c.is_notebook), tuple(c for c in code if c.is_notebook),
                tuple(c for c in code if not is_test_path(c.path)), tuple(c for c in code if is_test_path(c.path)))

    @property
    def modules(self) -> List[CodeIndex]:
        return list(self._code_split[0])

    @property
    def notebooks(self) -> List[CodeIndex]:
        return list(self._code_split[1])

    def non_test_code(self) -> List[CodeIndex]:
        return list(self._code_split[2])

    def test_code(self) -> List[CodeIndex]:
        return list(self._code_split[3])

    @cached_property
    def call_table(self):
        """Call sites indexed by name and keyword: `facts.call_table.named(test)` gives only the
        calls whose name passes `test`, asking it once per distinct name (see facts/calltable.py)."""
        from mlscan.facts.calltable import CallTable
        return CallTable(self.code, self.external_name, self.__dict__.setdefault("_import_aliases", {}))

    def calls(self, code: Optional[Iterable[CodeIndex]] = None) -> Iterator[Tuple[CodeIndex, CallSite]]:
        for idx in (code if code is not None else [self.code[p] for p in sorted(self.code)]):
            for call in idx.calls:
                yield idx, call

    # ---- configs ----------------------------------------------------------------------------
    def config(self, path: str) -> Optional[cfg.ConfigDoc]:
        """The parsed YAML/TOML/JSON/INI document at `path` (None if absent or unreadable)."""
        if path in self._configs:
            return self._configs[path]
        doc = None
        text = self.text(path) if self.exists(path) else None
        if text is not None:
            doc = self.parsed_once("config", path, lambda: _parse_config(path, text))
            if doc is not None and doc.error:
                self._extra_diagnostics.append(Diagnostic(path, doc.error))
        self._configs[path] = doc
        return doc

    def parsed_once(self, kind: str, path: str, parse):
        """parse() of a file's text; when many commits of one repository are scanned, parsed
        once per blob for all of them (parsers are pure functions of the path and the text)."""
        shared = self.commit.shared if self.commit is not None else None
        if shared is None:   # one scan: kept by content for the next scans (documents keep themselves)
            entry = self.inventory.get(path)
            if kind != "document" and entry is not None and entry.size <= PARSED_KEPT_BYTES:
                return self._per_file_value(f"parsed:{kind}", path, parse)
            return parse()
        blob = self.inventory.blob_of(path)
        if blob is None:
            return parse()
        key = (kind, path, blob)
        if key not in shared.parsed:
            shared.parsed[key] = parse()
        return shared.parsed[key]

    @cached_property
    def config_files(self) -> List[str]:
        """Config documents every rule may read. Large YAML is left out: it is generated (rendered
        manifests, CRDs) far more often than edited, and YAML loads at only a few MB/s."""
        out, large_yaml = [], []
        for f in self.files:
            if f.suffix not in CONFIG_SUFFIXES or f.path.endswith(("package-lock.json", ".ipynb")):
                continue
            if f.suffix in (".yaml", ".yml") and f.size > MAX_YAML_CONFIG_BYTES:
                large_yaml.append(f)
            elif f.size < 1024 * 1024:
                out.append(f.path)
        if large_yaml:
            largest = max(large_yaml, key=lambda f: (f.size, f.path))
            self._extra_diagnostics.append(Diagnostic(".", (
                f"{len(large_yaml)} YAML file(s) over {MAX_YAML_CONFIG_BYTES // 1024} KiB not read as configs "
                f"(generated manifests, most likely; the largest: {largest.path}, {largest.size // 1024} KiB)")))
        return out

    def yaml_docs(self) -> Iterator[cfg.ConfigDoc]:
        for path in self.config_files:
            if path.endswith((".yaml", ".yml")):
                doc = self.config(path)
                if doc is not None and not doc.error:
                    yield doc

    @cached_property
    def requirements(self) -> List[cfg.Requirement]:
        """Every declared dependency (requirements files, pyproject, setup.py, conda, Pipfile,
        Dockerfile installs), one parser for all: see facts/deps.py."""
        return [r for dep_set in self.dependency_sets for r in dep_set.requirements]

    @cached_property
    def lock_files(self) -> List[FileEntry]:
        return [f for f in self.files if f.name in LOCK_FILES or f.name.endswith(".conda-lock.yml")]

    def named(self, *names: str) -> List[FileEntry]:
        return self.inventory.named(*names)

    @cached_property
    def gitattributes(self) -> List[cfg.AttributeRule]:
        out = []
        for f in self.named(".gitattributes"):
            text = self.text(f.path)
            if text:
                out.extend(cfg.parse_gitattributes(f.path, text))
        return out

    @cached_property
    def dockerfiles(self) -> Dict[str, List[cfg.DockerInstruction]]:
        out = {}
        for f in self.files:
            n = f.name.lower()
            if n in ("dockerfile", "containerfile") or n.startswith("dockerfile.") or n.endswith(".dockerfile"):
                text = self.text(f.path)
                if text is not None:
                    out[f.path] = self.parsed_once("dockerfile", f.path, lambda: cfg.parse_dockerfile(text))
        return out

    @cached_property
    def ci_jobs(self) -> List[CIJob]:
        jobs: List[CIJob] = []
        for f in self.files:
            system = is_ci_path(f.path)
            if not system:
                continue
            text = self.text(f.path) or ""
            docs = []
            if system != "jenkins":
                doc = self.config(f.path)
                docs = doc.docs if doc else []
            jobs.extend(self.guarded(f.path, "CI configuration", lambda f=f, system=system, docs=docs, text=text:
                                     self._per_file_value("ci-jobs", f.path, lambda: parse_ci(
                                         f.path, system, docs, text,
                                         lambda s, after=0, p=f.path: self.line_of(p, s, after=after))), []))
        return jobs

    @cached_property
    def ci_files(self) -> List[str]:
        return [f.path for f in self.files if is_ci_path(f.path)]

    @cached_property
    def shell_commands(self) -> List[Tuple[str, int, str]]:
        """(path, line, command) from Makefiles, shell scripts, Procfiles and tox/nox configs."""
        out = []
        for f in self.files:
            n = f.name
            if n in ("Makefile", "makefile", "Procfile", "justfile", "tox.ini") or f.suffix in (".sh", ".bash"):
                text = self.text(f.path) or ""
                heredoc_end = None
                for i, line in enumerate(text.splitlines(), 1):
                    s = line.strip()
                    if heredoc_end is not None:  # a here-document's body is data, not commands
                        if s == heredoc_end:
                            heredoc_end = None
                    elif s and not s.startswith("#"):
                        out.append((f.path, i, s))
                        m = HEREDOC.search(s) if "((" not in s else None  # not a shift in $(( ))
                        heredoc_end = m.group(2) if m else None
        return out

    def notebook_prose(self, path: str):
        """The markdown cells of the notebook at `path`, read as one prose document (cells in order;
        a section's line is that of the joined text, not of the file), or None."""
        cache = self.__dict__.setdefault("_notebook_prose", {})
        if path not in cache:
            import json
            from mlscan.facts.docs import parse_document
            text = self.text(path) if self.exists(path) else None
            doc = None
            try:
                cells = json.loads(text).get("cells") if text else None
            except (ValueError, AttributeError):
                cells = None
            if isinstance(cells, list):
                md = [c.get("source") for c in cells if isinstance(c, dict) and c.get("cell_type") == "markdown"]
                md = ["".join(x) if isinstance(x, list) else x for x in md if isinstance(x, (list, str))]
                if md:
                    doc = parse_document(path, "\n\n".join(x for x in md if isinstance(x, str)))
            cache[path] = doc
        return cache[path]

    @cached_property
    def doc_commands(self) -> List[Tuple[str, int, str]]:
        """(path, line, command) of the shell lines in fenced code blocks of the project's own READMEs
        and docs (the root, one folder deep, docs/), and of prose lines that are a Python command
        (`> python train.py -opt x.yml`): the run recipes a project documents. A command continued
        over lines with trailing backslashes is one command, at its first line."""
        out = []
        for path in self.doc_files:
            parts = PurePosixPath(path).parts
            if not path.lower().endswith((".md", ".markdown", ".mdx")) or not (
                    len(parts) <= 2 or parts[0].lower() in ("docs", "doc")):
                continue
            fence = None
            pending: Optional[Tuple[int, str]] = None   # a command continued with a trailing backslash
            for i, line in enumerate((self.text(path) or "").splitlines(), 1):
                m = DOC_FENCE.match(line)
                if m:
                    if pending is not None:
                        out.append((path, pending[0], pending[1]))
                        pending = None
                    if fence is None:
                        fence = m.group(1)[0] if (m.group(2) or "").lower() in SHELL_FENCES else ""
                    elif not line.strip()[len(m.group(1)):].strip():
                        fence = None
                    continue
                s = line.strip().lstrip("$ ").strip()
                if fence and pending is not None:
                    s = f"{pending[1]} {s}".strip()
                if fence and s and not s.startswith("#"):
                    if s.endswith("\\"):
                        pending = (pending[0] if pending is not None else i, s[:-1].rstrip())
                        continue
                    out.append((path, pending[0] if pending is not None else i, s))
                    pending = None
                elif fence is None and PROSE_COMMAND.match(line):   # `> python train.py ...` outside a fence
                    out.append((path, i, PROSE_COMMAND.match(line).group(1).strip()))
            if pending is not None:
                out.append((path, pending[0], pending[1]))
        return out

    # ---- history ----------------------------------------------------------------------------
    @cached_property
    def history(self) -> History:
        if track.ACTIVE is not None:
            track.read(track.HISTORY)
        if not self.in_git:
            return History(available=False, note="not a git repository")
        if self.commit is not None and self.commit.shared is not None:
            return self.commit.shared.history(self.commit.sha, self.options.history_depth, self._extra_diagnostics)
        rev = self.commit.sha if self.commit is not None else "HEAD"
        return read_history(self.root, self.options.history_depth, self._extra_diagnostics, rev=rev,
                            store=self._fact_store())

    def prefetch_history(self, rev: str) -> None:
        """Read the history of commit `rev` into the fact store, where a scan of that commit (with
        the same depth) takes it from (a `--base` scan forked later: see scan_with_base)."""
        if self.in_git and self.options.history_depth > 0:
            read_history(self.root, self.options.history_depth, [], rev=rev, store=self._fact_store())

    # ---- graph ------------------------------------------------------------------------------
    @cached_property
    def graph(self):
        from mlscan.facts.graph import CodeGraph
        from mlscan.facts.indexing import paused_gc
        with paused_gc():  # a whole-repo structure of many small objects
            return CodeGraph(self)

    @cached_property
    def own_packages(self) -> Set[str]:
        """Top-level import names the repo itself provides (`src/evidently/__init__.py` -> evidently):
        calls into them are the repo's own code, not use of a library of that name."""
        names: Set[str] = set()
        inits = {f.path.rsplit("/", 1)[0] for f in self.files if f.name == "__init__.py" and "/" in f.path}
        for pkg in inits:
            parts = pkg.split("/")
            for i in range(len(parts)):
                if "/".join(parts[: i + 1]) in inits:
                    names.add(parts[i])
                    break
        return names

    def library_calls(self, idx: CodeIndex, calls: Optional[Iterable[CallSite]] = None) -> List[CallSite]:
        """The calls of one file (or those of `calls`) into code that is not the repo's own."""
        own = self.own_packages
        return [c for c in (idx.calls if calls is None else calls) if c.name.split(".", 1)[0] not in own]

    def guarded(self, path: str, what: str, compute, default):
        """Run one per-file derivation; a file that breaks it becomes a diagnostic, not a crash."""
        try:
            return compute()
        except (RecursionError, MemoryError):
            self._extra_diagnostics.append(Diagnostic(path, f"{what}: too deeply nested or too large; skipped"))
        except Exception as exc:  # odd but valid input (a list where a mapping is usual, ...)
            self._extra_diagnostics.append(Diagnostic(path, f"{what}: unexpected structure "
                                                            f"({exc.__class__.__name__}); skipped"))
        return default

    def release(self) -> None:
        """Drop everything this scan derived. The graph and these facts refer to each other; breaking
        that here frees them at once (a full garbage collection walks every cached fact: ~1 s on
        diffusers). Per-file facts stay in the process's fact store for the next scan."""
        self.flush_cache_writes()
        self.__dict__.clear()

    def add_diagnostic(self, path: str, message: str) -> None:
        self._extra_diagnostics.append(Diagnostic(path, message))

    def memo(self, key: str, compute):
        """Per-scan memo for derived values that several rules ask for."""
        store = self.__dict__.setdefault("_memo", {})
        if key not in store:
            store[key] = compute()
        return store[key]

    def check_all_configs(self) -> None:
        """Parse every config document no rule asked for, so that broken ones are reported too."""
        for path in self.config_files:
            if path not in self._configs:
                self.config(path)

    # ---- diagnostics ------------------------------------------------------------------------
    @property
    def diagnostics(self) -> List[Diagnostic]:
        seen: Set[Tuple[str, str]] = set()
        out = []
        for d in sorted(self.inventory.diagnostics + self._extra_diagnostics, key=lambda d: (d.path, d.message)):
            if (d.path, d.message) not in seen:
                seen.add((d.path, d.message))
                out.append(d)
        return out

    # ---- dependencies, prose documents, literals, test runs (additive) ------------------------
    @cached_property
    def dependency_sets(self):
        """Dependency declarations grouped per file/table with role and kind (see facts/deps.py)."""
        from mlscan.facts.deps import dependency_sets
        return self.guarded(".", "dependency declarations", lambda: dependency_sets(self), [])

    @cached_property
    def doc_files(self) -> List[str]:
        """Markdown / reStructuredText / MDX documents (and README.txt, and a plain `README` as datasets
        ship it: MovieLens, Cora), smallest first."""
        from mlscan.facts.docs import DOC_SUFFIXES
        out = []
        for f in self.files:
            low = f.name.lower()
            if (f.suffix in DOC_SUFFIXES and (f.suffix != ".txt" or low.startswith("readme")) or low == "readme") \
                    and f.size < 1024 * 1024:
                out.append(f.path)
        return out

    def document(self, path: str):
        """The parsed prose document at `path` (front matter, headings, sections, tables), or None."""
        cache = self.__dict__.setdefault("_documents", {})
        if path not in cache:
            from mlscan.facts.docs import parse_document

            def parse():
                text = self.text(path)
                return self.parsed_once("document", path, lambda: parse_document(path, text)) if text is not None else None
            doc = self._per_file_value("document", path, parse) if self.exists(path) else None
            if doc is not None and doc.front_matter_error:
                self._extra_diagnostics.append(Diagnostic(path, doc.front_matter_error))
            cache[path] = doc
        return cache[path]

    # ---- values computed from one file each, kept by content across scans ----------------------
    @cached_property
    def file_maps(self):
        from mlscan.facts.cache import FileMaps
        return FileMaps(self._fact_store())

    def _content_key(self, path: str) -> Optional[str]:
        """The key of a file's content in the fact cache ("blob:path"), when its blob is known."""
        blob = self.inventory.blob_of(path) or self._blob_ids.get(path)
        return f"{blob}:{path}" if blob is not None else None

    def _per_file_value(self, name: str, path: str, compute):
        key = self._content_key(path)
        if key is None:
            return compute()
        if track.ACTIVE is not None:
            track.read(("content", path))
        return self.file_maps.get(name, key, compute)

    def per_file(self, fn, path: str, *args):
        """fn(path, *args), remembered by the content of the file at `path` across scans (here, in
        another run, at another commit). For a rule's judgement of one file: `fn` is a module-level
        function whose answer depends only on that file (its path and `args`, the file's own facts
        such as its code index or parsed document, which the rule got from these facts); it
        returns plain data (tuples, strings, numbers) and adds no diagnostics."""
        return self._per_file_value(_function_key(fn), path, lambda: fn(path, *args))

    def computed(self, name: str):
        """The value of the cached property `name` if it was computed, else None. A recording scan
        (`mlscan history`, facts/track.py) keeps it under another name: look there too."""
        d = self.__dict__
        return d[name] if name in d else d.get(f"_tracked_{name}")

    def save_file_maps(self, later: bool = False) -> None:
        """Write what this scan added to the per-file values, and the facts kept for later (at the
        end of a scan); with `later`, only put them in memory now, and on disk at the next flush."""
        maps = self.computed("file_maps")
        if maps is not None and maps.new:
            maps.save(persist=self.commit is None or self.commit.shared is None, later=later)
        if not later:
            self.flush_cache_writes()

    def worker_news(self) -> Dict[str, object]:
        """What a forked rule worker computed since its last report that later scans can use: the
        per-file values it added, and the keys of those it used (its parent saves them)."""
        news: Dict[str, object] = {}
        maps = self.computed("file_maps")
        if maps is not None:
            news["file_maps"] = maps.take_news()
        return news

    def merge_worker_news(self, news: Dict[str, object]) -> None:
        if news.get("file_maps"):
            self.file_maps.merge(*news["file_maps"])  # type: ignore[misc]

    def prefetch_documents(self, paths: Optional[List[str]] = None) -> None:
        """Parse every prose document (or those of `paths`) into the per-file values now (to share
        them with a scan or rule workers forked next); a document's diagnostics are still added
        only when it is asked for."""
        from mlscan.facts.docs import parse_document
        for path in self.doc_files if paths is None else paths:
            text = self.text
            self._per_file_value("document", path, lambda p=path: (lambda t: parse_document(p, t) if t is not None
                                                                   else None)(text(p)))

    def string_literals(self, path: str) -> List[Tuple[str, int]]:
        """String constants of a .py file or notebook (docstrings left out), from the code index:
        path-like strings and every constant of TEXT_MIN_CHARS or more."""
        idx = self.code.get(path)
        if idx is None:
            return []
        return sorted(set(idx.strings) | set(idx.texts), key=lambda t: (t[1], t[0]))

    @cached_property
    def test_invocations(self) -> List[Tuple[str, int, str]]:
        """(path, line, arguments) for every test-runner command (pytest, tox, nox, unittest) in CI
        steps, Makefiles, shell scripts and tox configs: which tests something actually runs."""
        out: List[Tuple[str, int, str]] = []
        for job in self.ci_jobs:
            for step in job.steps:
                for t in cfg.command_targets(step.run):
                    if t.kind == "tests":
                        out.append((job.path, step.line, t.target))
        for path, line, command in self.shell_commands:
            for t in cfg.command_targets(command):
                if t.kind == "tests":
                    out.append((path, line, t.target))
        return out

    # ---- names behind re-exports, literal assignments (additive) -------------------------------
    def external_name(self, idx: CodeIndex, name: str) -> str:
        """The library name a call resolves to, seen through the repo's re-exports
        (`pkg.config.mlflow.log_metric` -> `mlflow.log_metric`) and optional-import fallbacks
        (`?wandb.log` after `wandb = None` -> `wandb.log`); other names come back unchanged."""
        from mlscan.facts.symbols import canonical_name
        cache = self.__dict__.setdefault("_external_names", {})
        key = (idx.path, name)
        if key not in cache:
            cache[key] = canonical_name(self.graph, idx, name, self.__dict__.setdefault("_import_aliases", {}))
        return cache[key]

    def literal_assignments(self, path: str):
        """Names bound to literals at module level and in class bodies of one file
        (`lr = 3e-4`, `class Cfg: epochs: int = 10`), from the code index."""
        idx = self.code.get(path)
        return list(idx.assignments) if idx is not None else []

    # ---- Makefile targets (additive) -----------------------------------------------------------
    @cached_property
    def makefile_targets(self):
        """Targets of every Makefile (name, prerequisites, recipe lines): see facts/make.py."""
        from mlscan.facts.make import parse_makefile
        out = []
        for f in self.named("Makefile", "makefile", "GNUmakefile"):
            text = self.text(f.path)
            if text:
                out.extend(parse_makefile(f.path, text))
        return out

    def yaml_file(self, path: str) -> Optional[cfg.ConfigDoc]:
        """A file parsed as YAML whatever its name says (`dvc.lock`, lock files in YAML), cached;
        `config()` picks the parser by file name and leaves these unparsed."""
        cache = self.__dict__.setdefault("_yaml_files", {})
        if path not in cache:
            doc = None
            text = self.text(path) if self.exists(path) else None
            if text is not None:
                doc = self.parsed_once("yaml", path, lambda: cfg.parse_yaml(path, text))
                if doc.error:
                    self._extra_diagnostics.append(Diagnostic(path, doc.error))
            cache[path] = doc
        return cache[path]

    # ---- code lines as indexed (additive) -------------------------------------------------------
    def source_lines(self, path: str) -> List[str]:
        """The code lines of a .py file or notebook, numbered as the code index numbers them
        (a notebook's code cells joined), to quote a few lines the index points at. Read once."""
        cache = self.__dict__.setdefault("_source_lines", {})
        if path not in cache:
            text = self.text(path) or ""
            if path.endswith(".ipynb"):
                from mlscan.facts.notebooks import notebook_source
                text = notebook_source(text)[0] or ""
            cache[path] = text.splitlines()
        return cache[path]


# A recording scan (`mlscan history`, see facts/track.py) learns what each cached fact was computed from.
track.track_cached_properties(Facts, views={"graph": track.GraphView})
track.track_method(Facts, "config", lambda path: path)
track.track_method(Facts, "document", lambda path: path)
track.track_method(Facts, "yaml_file", lambda path: path)
track.track_method(Facts, "source_lines", lambda path: path)
track.track_method(Facts, "external_name")   # very many calls, all resting on the graph and the code
track.track_method(Facts, "memo", lambda key, compute: key)
