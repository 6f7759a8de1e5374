"""`[tool.mlscan]` configuration, merged with the command line (the command line wins)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from mlscan.errors import UsageError

KEYS = {"select", "ignore", "exclude", "history-depth", "fail-under", "model", "format"}


@dataclass(frozen=True)
class Config:
    select: Tuple[str, ...] = ()
    ignore: Dict[str, str] = field(default_factory=dict)     # id -> reason
    exclude: Tuple[str, ...] = ()
    history_depth: int = 2000
    fail_under: Optional["FailUnder"] = None
    model: Optional[Path] = None
    source: str = "defaults"


@dataclass(frozen=True)
class FailUnder:
    overall: Optional[int]
    stages: Dict[str, int]

    def describe(self) -> str:
        parts = [f"overall>={self.overall}"] if self.overall is not None else []
        parts += [f"{k}>={v}" for k, v in sorted(self.stages.items())]
        return ", ".join(parts)


def parse_fail_under(value: Any, where: str) -> FailUnder:
    """`3`, `"3"`, `"train=3,data=2"`, `"overall=2,train=3"` or a table `{train = 3}`."""
    def level(v: Any, what: str) -> int:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: {what} must be a level from 1 to 5, got {v!r}") from None
        if not 1 <= n <= 5:
            raise UsageError(f"{where}: {what} must be a level from 1 to 5, got {n}")
        return n
    if isinstance(value, bool):
        raise UsageError(f"{where}: expected a level or stage=level pairs, got {value!r}")
    if isinstance(value, int):
        return FailUnder(level(value, "fail-under"), {})
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return FailUnder(level(text, "fail-under"), {})
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise UsageError(f"{where}: expected N or stage=N[,stage=N], got {value!r}")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    else:
        raise UsageError(f"{where}: expected a level or stage=level pairs, got {value!r}")
    from mlscan.catalogue import load_catalogue
    stage_ids = {s.id for s in load_catalogue().stages}
    overall = None
    stages: Dict[str, int] = {}
    for k, v in items:
        if k == "overall":
            overall = level(v, "overall")
        elif k in stage_ids:
            stages[k] = level(v, k)
        else:
            raise UsageError(f"{where}: unknown stage {k!r} (stages: overall, {', '.join(sorted(stage_ids))})")
    return FailUnder(overall, stages)


def _load_toml(path: Path) -> Dict[str, Any]:
    try:
        return _parse_toml(path.read_bytes(), path)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror or exc}") from None


def _parse_toml(data: bytes, where: Any) -> Dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config {where} is not valid TOML: {exc}") from None


def load_config_at_commit(root: Path, commit: Any) -> Config:
    """`[tool.mlscan]` from the pyproject.toml of the commit being scanned (a `CommitTree`), read
    from git objects: a bare repository has no work tree, and a work tree's file may belong to
    another commit."""
    import subprocess

    from mlscan.facts.gitsafe import run_git
    spec = f"{commit.sha}:{commit.prefix}pyproject.toml"
    label = Path(f"{commit.sha[:12]}:{commit.prefix}pyproject.toml")
    try:
        r = run_git(commit.toplevel, ["cat-file", "-p", spec], timeout=60)
    except (OSError, subprocess.SubprocessError):
        return Config(source=f"{label} (unreadable: git failed)")
    if r.returncode != 0:   # no pyproject.toml in that commit
        return Config()
    try:
        table = _parse_toml(r.stdout, label).get("tool", {}).get("mlscan", {})
    except UsageError as exc:
        return Config(source=f"{label} (unreadable: {exc})")
    if not isinstance(table, dict):
        raise UsageError(f"{label}: [tool.mlscan] must be a table")
    if "model" in table:
        raise UsageError(f"{label} [tool.mlscan]: a custom model is not read from git objects; "
                         "pass --model, or scan a checkout")
    return _from_table(table, label, root, trusted=False)


def load_config(root: Path, explicit: Optional[Path] = None) -> Config:
    """Read `[tool.mlscan]` from --config, or from ROOT/pyproject.toml when present."""
    if explicit is not None:
        path = explicit
        data = _load_toml(path)
        table = data.get("tool", {}).get("mlscan", data if "tool" not in data else {})
    else:
        path = root / "pyproject.toml"
        if not path.is_file() or path.is_symlink():
            return Config()
        try:
            data = _load_toml(path)
        except UsageError as exc:
            # the scanned repo's own pyproject is broken: that is a finding about the repo, not a usage error
            return Config(source=f"{path} (unreadable: {exc})")
        table = data.get("tool", {}).get("mlscan", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.mlscan] must be a table")
    return _from_table(table, path, root, trusted=explicit is not None)


def _from_table(table: Dict[str, Any], path: Path, root: Path, trusted: bool) -> Config:
    where = f"{path} [tool.mlscan]"
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")

    def str_list(key: str) -> Tuple[str, ...]:
        v = table.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise UsageError(f"{where}: {key} must be a list of strings")
        return tuple(v)

    ignore_raw = table.get("ignore", {})
    if isinstance(ignore_raw, list):
        if not all(isinstance(x, str) for x in ignore_raw):
            raise UsageError(f"{where}: ignore must be a list of ids or a table of id = \"reason\"")
        ignore = {x: "" for x in ignore_raw}
    elif isinstance(ignore_raw, dict):
        if not all(isinstance(v, str) for v in ignore_raw.values()):
            raise UsageError(f"{where}: ignore reasons must be strings")
        ignore = dict(ignore_raw)
    else:
        raise UsageError(f"{where}: ignore must be a list of ids or a table of id = \"reason\"")
    depth = table.get("history-depth", 2000)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise UsageError(f"{where}: history-depth must be a whole number >= 0")
    model = None
    if "model" in table:
        if not isinstance(table["model"], str):
            raise UsageError(f"{where}: model must be a path string")
        model = (path.parent / table["model"]).resolve()
        if not trusted and root.resolve() not in model.parents:
            raise UsageError(f"{where}: model {table['model']!r} points outside the repository")
    fail = parse_fail_under(table["fail-under"], f"{where} fail-under") if "fail-under" in table else None
    return Config(select=str_list("select"), ignore=ignore, exclude=str_list("exclude"), history_depth=depth,
                  fail_under=fail, model=model, source=str(path))


def merge(cfg: Config, **cli: Any) -> Config:
    """Command-line values override the file's; None means 'not given'."""
    updates = {k: v for k, v in cli.items() if v is not None}
    return replace(cfg, **updates)
