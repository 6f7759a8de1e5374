"""Every call site of the repo, indexed once per scan, so that rules ask for the calls they judge
instead of each walking all of them.

A large repo has a quarter of a million call sites but only about a fifth as many distinct call
names. Judgements on a name (`is this an explainer?`, `does it deploy?`) are therefore made once
per distinct name and remembered for the scan; `named(test)` hands back only the calls whose name
passes, file by file and in the order the files list them, which is the order a loop over
`idx.calls` would meet them.
"""
from __future__ import annotations

import bisect
from array import array
from typing import Callable, Collection, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

from mlscan.facts.pycode import CallSite, CodeIndex

NameTest = Callable[[str], object]
Hint = Union[None, Collection[str], Callable[[str], object]]


class CallTable:
    def __init__(self, code: Dict[str, CodeIndex], external: Callable[[CodeIndex, str], str],
                 alias_cache: Optional[Dict[str, Dict[str, str]]] = None):
        self._code = code
        self._external = external     # Facts.external_name
        self._alias_cache = alias_cache if alias_cache is not None else {}   # path -> its import aliases, shared with it
        self._renamed: Optional[Dict[str, Dict[str, str]]] = None
        self._paths = sorted(code)
        self._starts: List[int] = []   # position of each file's first call
        self._by_name: Optional[Dict[str, "array[int]"]] = None
        self._by_part: Optional[Tuple[Dict[str, List[str]], Dict[str, List[str]]]] = None
        self._named: Dict[tuple, Dict[str, List[CallSite]]] = {}
        self._keyword_calls: Dict[Tuple[str, ...], Dict[str, List[CallSite]]] = {}

    def prepare(self) -> None:
        """Build the indexes most rules ask for now (before rules run in forked workers that would
        each build their own)."""
        self._names_by_part()

    def _index(self) -> Dict[str, "array[int]"]:
        """call name -> positions of its calls, numbering every call of every file in path order."""
        if self._by_name is None:
            by_name: Dict[str, "array[int]"] = {}
            pos = 0
            for path in self._paths:
                self._starts.append(pos)
                for call in self._code[path].calls:
                    got = by_name.get(call.name)
                    if got is None:
                        by_name[call.name] = array("l", (pos,))   # compact: a quarter of a million positions
                    else:
                        got.append(pos)
                    pos += 1
            self._by_name = by_name
        return self._by_name

    def named(self, test: Optional[NameTest] = None, external: bool = False, attrs: Hint = None,
              roots: Optional[Collection[str]] = None) -> Dict[str, List[CallSite]]:
        """path -> that file's calls whose name passes `test`, in the file's call order; `test` is
        asked once per distinct name, and the answer is kept for the scan (pass a module-level
        function, so that rules asking the same share it). With `external`, `test` judges the
        name as `Facts.external_name` gives it.

        Hints, when given, narrow the names `test` is asked about to those it can pass: `attrs`,
        last names (`call.attr`: a collection, or a test on the last name), and `roots`, what the
        first part of the name starts with. A name that fits either hint is asked about."""
        key = (test, external, frozenset(attrs) if attrs is not None and not callable(attrs) else attrs,
               frozenset(roots) if roots is not None else None)
        got = self._named.get(key)
        if got is None:
            index = self._index()
            names: Iterable[str] = index.keys()
            if attrs is not None or roots is not None:
                names = dict.fromkeys(self._hinted(attrs, roots))
            passes = test if test is not None else bool
            renamed = self.renamed() if external else {}
            groups = [index[n] for n in names if n not in renamed and passes(n)]
            for name, moved in renamed.items():   # judged file by file, whatever the hints say
                groups.append([pos for pos in index[name] if passes(moved.get(self._path_at(pos), name))])
            got = self._named[key] = self._gather(groups)
        return got

    def _hinted(self, attrs: Hint, roots: Optional[Collection[str]]) -> Iterator[str]:
        if attrs is not None:
            by_attr = self._names_by_part()[1]
            if callable(attrs):
                for attr, names in by_attr.items():
                    if attrs(attr):
                        yield from names
            else:
                for attr in attrs:
                    yield from by_attr.get(attr, ())
        if roots is not None:
            starts = tuple(roots)
            for root, names in self._names_by_part()[0].items():
                if root.startswith(starts):
                    yield from names

    def _names_by_part(self) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
        """(first part -> call names, last part -> call names)."""
        if self._by_part is None:
            by_root: Dict[str, List[str]] = {}
            by_attr: Dict[str, List[str]] = {}
            for name in self._index():
                by_root.setdefault(name.partition(".")[0], []).append(name)
                by_attr.setdefault(name.rpartition(".")[2], []).append(name)
            self._by_part = by_root, by_attr
        return self._by_part

    def calls(self, test: Optional[NameTest] = None, code: Optional[Iterable[CodeIndex]] = None,
              external: bool = False, attrs: Hint = None,
              roots: Optional[Collection[str]] = None) -> Iterator[Tuple[CodeIndex, CallSite]]:
        """`Facts.calls(code)` with only the calls whose name passes `test` (see `named`)."""
        picked = self.named(test, external, attrs, roots)
        for idx in (code if code is not None else [self._code[p] for p in self._paths]):
            for call in picked.get(idx.path, ()):
                yield idx, call

    def renamed(self) -> Dict[str, Dict[str, str]]:
        """call name -> {path: its external name there}, for the few calls whose external name
        (through re-exports and optional-import fallbacks) is not the name itself.

        `may_differ` is judged per name where it can be: a `?name` by the files' aliases, a name
        with a re-exported part everywhere it is called, any other only in the files whose own
        module is a prefix of it (a local fallback shadowing an import): found through the module
        names, not by visiting every file that makes the call."""
        if self._renamed is None:
            from mlscan.facts.symbols import _import_targets, reexported_names
            code = self._code
            cache = self._alias_cache
            aliases = {path: _import_targets(code[path], cache) for path in self._paths}
            every_alias = {a for names in aliases.values() for a in names}
            by_module: Dict[str, List[str]] = {}
            for path in self._paths:
                if code[path].module:
                    by_module.setdefault(code[path].module, []).append(path)
            reexported = reexported_names(code.values(), aliases)
            renamed: Dict[str, Dict[str, str]] = {}
            for name, sites in self._index().items():   # one pass over each name's parts
                if not name:
                    continue
                if name[0] == "?":
                    head = name[1:].partition(".")[0]
                    if head not in every_alias:
                        continue
                    paths = [p for p in self._paths_of(sites) if head in aliases[p]]
                else:
                    parts = name.split(".")
                    shadowing: Set[str] = set()
                    prefix = parts[0]
                    for i in range(1, len(parts)):
                        head = parts[i]
                        if "(" in head:
                            head = head.replace("()", "")
                        if (parts[i - 1], head) in reexported:
                            paths = self._paths_of(sites)
                            break
                        if head in every_alias:
                            for p in by_module.get(prefix, ()):
                                if head in aliases[p]:
                                    shadowing.add(p)
                        prefix += "." + parts[i]
                    else:
                        if not shadowing:
                            continue
                        paths = [p for p in self._paths_of(sites) if p in shadowing]
                for path in paths:
                    ext = self._external(code[path], name)
                    if ext != name:
                        renamed.setdefault(name, {})[path] = ext
            self._renamed = renamed
        return self._renamed

    def _paths_of(self, sites: Iterable[int]) -> List[str]:
        """The files of ascending call positions, each once, in order (one lookup per file, not per call)."""
        out: List[str] = []
        starts, paths = self._starts, self._paths
        end = -1
        for pos in sites:
            if pos >= end:
                f = bisect.bisect_right(starts, pos) - 1
                out.append(paths[f])
                end = starts[f + 1] if f + 1 < len(starts) else float("inf")
        return out

    def _path_at(self, pos: int) -> str:
        return self._paths[bisect.bisect_right(self._starts, pos) - 1]

    def with_keyword(self, *keys: str) -> Dict[str, List[CallSite]]:
        """path -> that file's calls that pass one of `keys` as a keyword argument, in call order."""
        got = self._keyword_calls.get(keys)
        if got is not None:
            return got
        self._index()
        wanted = frozenset(keys)
        positions: List[int] = []   # one pass for the keys asked (rules ask for one set of keys)
        pos = 0
        for path in self._paths:
            for call in self._code[path].calls:
                if call.kwargs:
                    for k, _ in call.kwargs:
                        if k in wanted:
                            positions.append(pos)
                            break
                pos += 1
        got = self._keyword_calls[keys] = self._gather((positions,))
        return got

    def _gather(self, groups: Iterable[Iterable[int]]) -> Dict[str, List[CallSite]]:
        positions = sorted(set(pos for sites in groups for pos in sites))
        out: Dict[str, List[CallSite]] = {}
        starts, paths = self._starts, self._paths
        for pos in positions:
            f = bisect.bisect_right(starts, pos) - 1
            path = paths[f]
            got = out.get(path)
            if got is None:
                got = out[path] = []
            got.append(self._code[path].calls[pos - starts[f]])
        return out


def calls_in_scopes(calls: Iterable[CallSite], wanted: Collection[str]) -> List[CallSite]:
    """The calls made in one of the `wanted` scopes of their file ("<module>", "<main>" or a def
    qualname), or in a def nested inside one of them; judged once per distinct scope."""
    inner = tuple(w + "." for w in wanted if w != "<module>")
    verdicts: Dict[str, bool] = {}
    out = []
    for call in calls:
        scope = call.scope
        ok = verdicts.get(scope)
        if ok is None:
            ok = verdicts[scope] = scope in wanted or (bool(inner) and scope.startswith(inner))
        if ok:
            out.append(call)
    return out
