"""Which inputs a computation read, so that its result can be reused where they did not change.

While a Recorder is ACTIVE, the facts' primitive reads (a file's content, its size, whether it
exists, the file listing, the history) are written into the innermost open frame, and frames fold
into their parents when they close. A derived fact that is computed once and cached (a cached
property of Facts, a per-path cache such as `config(path)`, a memo, the whole graph with its own
lazy caches) is a *key*: its frame is kept under that key, and every later use of the cached
value adds the key (not the reads again) to the frame that uses it. resolve() expands keys into
the primitive reads behind them, whenever they happened in the scan; `changed_tokens()` says which
tokens two trees give different values.

Nothing here changes what a scan computes; with no ACTIVE recorder each hook is one global test.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Dict, FrozenSet, Hashable, List, Optional, Set, Tuple

ACTIVE: Optional["Recorder"] = None

LISTING = ("listing",)
HISTORY = ("history",)
GRAPH = ("attr", "graph")


def read(token: Tuple) -> None:
    """A primitive read (called by the facts' hooks)."""
    rec = recording()
    if rec is not None and rec.stack:
        rec.stack[-1].add(token)


def recording() -> Optional["Recorder"]:
    """The ACTIVE recorder if it records this thread (scans in other threads are not recorded)."""
    rec = ACTIVE
    return rec if rec is not None and rec.thread == threading.get_ident() else None


class Recorder:
    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.stack: List[Set[Tuple]] = []
        self.keys: Dict[Tuple, Set[Tuple]] = {}

    # ---- frames -----------------------------------------------------------------------------
    def open(self) -> None:
        self.stack.append(set())

    def close(self, key: Optional[Tuple] = None) -> Set[Tuple]:
        frame = self.stack.pop()
        if key is not None:
            self.keys.setdefault(key, set()).update(frame)
            frame = {key}
        if self.stack:
            self.stack[-1].update(frame)
        return frame

    def used(self, key: Tuple) -> None:
        """A cached derived value was used: the frame depends on whatever computed it."""
        if self.stack:
            self.stack[-1].add(key if key in self.keys else ("unknown",) + key)

    def compute(self, key: Tuple, fn: Callable, *args, **kwargs) -> Any:
        self.stack.append(set())
        try:
            return fn(*args, **kwargs)
        finally:
            self.close(key)

    def inside(self, key: Tuple, fn: Callable, *args, **kwargs) -> Any:
        """fn(...) with its reads added straight to `key`'s inputs (a key that already has some)."""
        stack = self.stack
        if key not in self.keys:  # computed before recording began: what it read is unknown
            if stack:
                stack[-1].add(("unknown",) + key)
            return fn(*args, **kwargs)
        stack.append(self.keys[key])
        try:
            return fn(*args, **kwargs)
        finally:
            stack.pop()
            if stack:
                stack[-1].add(key)

    @functools.cached_property
    def graph_views(self) -> Dict[int, "GraphView"]:
        return {}

    # ---- inputs -----------------------------------------------------------------------------
    def resolve(self, frame: Set[Tuple]) -> Optional[FrozenSet[Tuple]]:
        """The primitive reads behind a frame, or None when it used something computed unseen.
        Call it once the scan is over: a key's inputs (the graph's above all) grow until then."""
        out: Set[Tuple] = set()
        seen: Set[Tuple] = set()
        todo = list(frame)
        closures = self._closures
        while todo:
            token = todo.pop()
            if token[0] == "unknown":
                return None
            if token[0] != "attr":
                out.add(token)
            elif token not in seen:
                seen.add(token)
                if token not in self.keys:
                    return None
                if len(token) == 2:  # a cached property: its closure is shared by many frames
                    closure = closures.get(token)
                    if closure is None:
                        closure = closures[token] = self._closure(token)
                    if closure is _UNKNOWN:
                        return None
                    out |= closure
                else:
                    todo.extend(self.keys[token])
        return frozenset(out)

    @functools.cached_property
    def _closures(self) -> Dict[Tuple, FrozenSet[Tuple]]:
        return {}

    def _closure(self, key: Tuple) -> FrozenSet[Tuple]:
        out: Set[Tuple] = set()
        seen = {key}
        todo = list(self.keys[key])
        while todo:
            token = todo.pop()
            if token[0] == "unknown":
                return _UNKNOWN
            if token[0] != "attr":
                out.add(token)
            elif token not in seen:
                seen.add(token)
                if token not in self.keys:
                    return _UNKNOWN
                todo.extend(self.keys[token])
        return frozenset(out)


_UNKNOWN: FrozenSet[Tuple] = frozenset({("unknown",)})


class TreeState:
    """What one scanned tree gives each primitive token: every file's blob, size and tracked
    flag, and an id of its history (the commit and the depth read)."""

    def __init__(self, inventory, history_id: Hashable):
        blobs = getattr(inventory, "_blobs", {})
        self.files: Dict[str, Tuple[Optional[str], int, bool]] = {
            p: (blobs.get(p), e._size, e.tracked) for p, e in inventory._by_path.items()}
        self.history_id = history_id


def changed_tokens(old: TreeState, new: TreeState) -> Set[Tuple]:
    """The primitive tokens whose value differs between two trees."""
    out: Set[Tuple] = set()
    if old.history_id != new.history_id:
        out.add(HISTORY)
    listing = False
    for path in old.files.keys() | new.files.keys():
        a, b = old.files.get(path), new.files.get(path)
        if a == b:
            continue
        if a is None or b is None:
            out.update((("exists", path), ("content", path), ("size", path)))
            listing = True
            continue
        if a[0] != b[0] or a[0] is None:  # no blob id (a work tree): its content cannot be compared
            out.add(("content", path))
        if a[1] != b[1]:
            out.add(("size", path))
        if a[2] != b[2]:
            listing = True
    if listing:
        out.add(LISTING)
    return out


# ---- hooks for the classes whose values are cached ------------------------------------------------
class _TrackedCachedProperty:
    """functools.cached_property that tells the ACTIVE recorder when its value is computed or used.
    Outside a recording scan the value lands under the property's own name, so later reads skip
    this descriptor altogether (as with cached_property); in one it lands under another name, so
    that every use passes here."""

    def __init__(self, func: Callable, name: str, view: Optional[Callable] = None):
        self.func, self.name, self.view = func, name, view
        self.key = ("attr", name)
        self.stored = f"_tracked_{name}"
        self.__doc__ = func.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        d = obj.__dict__
        rec = ACTIVE
        if rec is not None and rec.thread != threading.get_ident():
            rec = None
        if rec is None:
            if self.stored in d:
                return d[self.stored]
            value = d[self.name] = self.func(obj)
            return value
        if self.stored in d:
            value = d[self.stored]
            if rec.stack:
                rec.stack[-1].add(self.key if self.key in rec.keys else ("unknown",) + self.key)
        else:
            value = d[self.stored] = rec.compute(self.key, self.func, obj)
        return value if self.view is None else self.view(value, rec)


def track_cached_properties(cls, views: Optional[Dict[str, Callable]] = None) -> None:
    """Make every functools.cached_property of `cls` report to the ACTIVE recorder."""
    for name, attr in list(vars(cls).items()):
        if isinstance(attr, functools.cached_property):
            setattr(cls, name, _TrackedCachedProperty(attr.func, name, (views or {}).get(name)))


def track_method(cls, name: str, key_of: Optional[Callable[..., Hashable]] = None) -> None:
    """A method with its own cache per argument: the first call per key is a frame, later calls
    use the key. Without `key_of`, every call adds to one key shared by all arguments (cheaper
    for a method called very often whose results all depend on much the same inputs)."""
    fn = getattr(cls, name)
    shared = ("attr", name)

    @functools.wraps(fn)
    def tracked(self, *args, **kwargs):
        rec = ACTIVE
        if rec is None or rec.thread != threading.get_ident():
            return fn(self, *args, **kwargs)
        if key_of is None:
            rec.keys.setdefault(shared, set())
            return rec.inside(shared, fn, self, *args, **kwargs)
        key = ("attr", name, key_of(*args, **kwargs))
        if key in rec.keys:
            if rec.stack:
                rec.stack[-1].add(key)
            return fn(self, *args, **kwargs)
        return rec.compute(key, fn, self, *args, **kwargs)

    setattr(cls, name, tracked)


class GraphView:
    """The graph as rules see it while recording: each use runs inside the graph's own key, so
    what its lazy parts read counts for every rule that used the graph."""
    __slots__ = ("_graph", "_rec", "_methods")

    def __new__(cls, graph, rec: Recorder):
        view = rec.graph_views.get(id(graph))
        if view is None:
            view = rec.graph_views[id(graph)] = object.__new__(cls)
            object.__setattr__(view, "_graph", graph)
            object.__setattr__(view, "_rec", rec)
            object.__setattr__(view, "_methods", {})
        return view

    def __init__(self, graph, rec: Recorder):
        pass

    def __getattr__(self, name: str):
        method = self._methods.get(name)
        if method is not None:
            return method
        rec = self._rec
        value = rec.inside(GRAPH, getattr, self._graph, name)
        if callable(value) and getattr(value, "__self__", None) is self._graph:
            method = self._methods[name] = functools.partial(rec.inside, GRAPH, value)
            return method
        return value
