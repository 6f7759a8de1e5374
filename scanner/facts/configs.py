"""Config documents parsed with real parsers: YAML (multi-document), TOML, JSON, INI-style DVC
config, requirements files, .gitattributes and Dockerfiles. Parse errors become messages."""
from __future__ import annotations

import configparser
import functools
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple


@dataclass
class ConfigDoc:
    path: str
    format: str                   # yaml | toml | json | ini
    docs: List[Any]               # YAML may hold several documents; others hold one
    error: Optional[str] = None

    @property
    def data(self) -> Any:
        return self.docs[0] if self.docs else None

    def mappings(self) -> List[Dict[str, Any]]:
        return [d for d in self.docs if isinstance(d, dict)]


@functools.lru_cache(maxsize=None)
def _yaml_loader():
    """The safe loader (C when available) that reads application tags (CloudFormation `!Ref`,
    GitLab `!reference`, `!!python/tuple`, ...) as the plain value they tag; it never builds objects."""
    import yaml

    class TagTolerantLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def untagged(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    TagTolerantLoader.add_multi_constructor("!", untagged)
    TagTolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", untagged)
    return TagTolerantLoader


def parse_yaml(path: str, text: str) -> ConfigDoc:
    import yaml
    try:
        docs = [d for d in yaml.load_all(text, Loader=_yaml_loader()) if d is not None]
        return ConfigDoc(path, "yaml", docs)
    except yaml.YAMLError as exc:
        if "{{" in text or "{%" in text:  # Helm, Jinja or cookiecutter: YAML only once rendered
            return ConfigDoc(path, "yaml", [], "templated YAML ({{ }} or {% %} placeholders); not parsed")
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        return ConfigDoc(path, "yaml", [], f"invalid YAML{where}: {problem}")
    except (RecursionError, ValueError, TypeError) as exc:
        return ConfigDoc(path, "yaml", [], f"cannot load YAML: {exc.__class__.__name__}")


def parse_toml(path: str, text: str) -> ConfigDoc:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return ConfigDoc(path, "toml", [tomllib.loads(text)])
    except tomllib.TOMLDecodeError as exc:
        return ConfigDoc(path, "toml", [], f"invalid TOML: {exc}")


def parse_json(path: str, text: str) -> ConfigDoc:
    try:
        return ConfigDoc(path, "json", [json.loads(text)])
    except json.JSONDecodeError as exc:
        if JSONC_COMMENT.search(text):  # devcontainer.json, tsconfig.json, VS Code settings
            return ConfigDoc(path, "json", [], "JSON with comments (JSONC); not parsed")
        return ConfigDoc(path, "json", [], f"invalid JSON at line {exc.lineno}: {exc.msg}")
    except RecursionError:
        return ConfigDoc(path, "json", [], "JSON nested too deeply")


JSONC_COMMENT = re.compile(r"^\s*(//|/\*)", re.M)


def parse_ini(path: str, text: str) -> ConfigDoc:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        cp.read_string(text)
    except configparser.Error as exc:
        return ConfigDoc(path, "ini", [], f"invalid config: {exc.__class__.__name__}")
    data = {s: dict(cp.items(s)) for s in cp.sections()}
    return ConfigDoc(path, "ini", [data])


# ---- requirements ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    path: str
    line: int
    name: str                    # normalised project name
    specifier: str               # e.g. "==1.2.3", ">=1", ""
    pinned: bool                 # exact == / === pin or a hash
    raw: str


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


CONDA_EXPORT = re.compile(r"^([A-Za-z0-9_.-]+)=([\w.+!*-]+)(=[\w.+-]+)?$")


def parse_requirement_line(path: str, line_no: int, raw: str) -> Optional[Requirement]:
    from packaging.requirements import InvalidRequirement, Requirement as PkgReq
    text = raw.split(" #", 1)[0].strip()
    if not text or text.startswith(("#", "-r", "-c", "--", "-f", "-i")):
        return None
    has_hash = "--hash" in text
    text = re.split(r"\s+--", text, 1)[0].strip()
    if text.startswith(("-e ", "git+", "http://", "https://", "file:", ".", "/")):
        pinned = bool(re.search(r"@[0-9a-f]{7,40}\b", text))
        name = re.sub(r".*[#&]egg=", "", text) if "egg=" in text else text.rsplit("/", 1)[-1]
        return Requirement(path, line_no, _normalise(name.split("@")[0]), "", pinned, raw.strip())
    conda = CONDA_EXPORT.match(text)
    if conda:   # `conda list --export` writes name=version=build
        return Requirement(path, line_no, _normalise(conda.group(1)), f"=={conda.group(2)}", "*" not in conda.group(2), raw.strip())
    try:
        req = PkgReq(text)
    except InvalidRequirement:
        return None
    spec = str(req.specifier)
    pinned = has_hash or bool(req.url and re.search(r"@[0-9a-f]{7,40}\b", req.url)) or any(
        s.operator in ("==", "===") and "*" not in s.version for s in req.specifier)
    return Requirement(path, line_no, _normalise(req.name), spec, pinned, raw.strip())


def parse_requirements(path: str, text: str) -> List[Requirement]:
    out = []
    joined: List[Tuple[int, str]] = []
    buf, start = "", 0
    for i, line in enumerate(text.splitlines(), 1):
        if not buf:
            start = i
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        joined.append((start, buf + line))
        buf = ""
    for line_no, line in joined:
        req = parse_requirement_line(path, line_no, line)
        if req:
            out.append(req)
    return out


def pep508_list(path: str, items: Any, line_of) -> List[Requirement]:
    """Requirements from a list of PEP 508 strings (pyproject dependencies, conda pip: lists)."""
    out = []
    if not isinstance(items, list):
        return out
    for item in items:
        if isinstance(item, str):
            req = parse_requirement_line(path, line_of(item), item)
            if req:
                out.append(req)
    return out


# ---- .gitattributes --------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributeRule:
    path: str
    line: int
    pattern: str
    attrs: Tuple[str, ...]

    @property
    def lfs(self) -> bool:
        return "filter=lfs" in self.attrs


def parse_gitattributes(path: str, text: str) -> List[AttributeRule]:
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        out.append(AttributeRule(path, i, parts[0], tuple(parts[1:])))
    return out


# ---- Dockerfiles -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DockerInstruction:
    line: int
    keyword: str
    value: str

    def command(self) -> str:
        """CMD/ENTRYPOINT/RUN as one shell-like string (exec form decoded)."""
        v = self.value.strip()
        if v.startswith("["):
            try:
                parts = json.loads(v)
                if isinstance(parts, list):
                    return " ".join(shlex.quote(str(p)) for p in parts)
            except json.JSONDecodeError:
                pass
        return v


def parse_dockerfile(text: str) -> List[DockerInstruction]:
    out = []
    buf, start = "", 0
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if not buf:
            start = i
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        m = re.match(r"([A-Za-z]+)\s+(.*)", buf, re.S)
        if m:
            out.append(DockerInstruction(start, m.group(1).upper(), m.group(2)))
        buf = ""
    return out


# ---- commands in CI steps, dvc stages, Dockerfiles, MLproject ---------------------------------
@dataclass(frozen=True)
class CommandTarget:
    kind: str      # "script" (a .py path), "module" (python -m), "app" (module:attr served), "notebook"
    target: str
    tool: str      # python, uvicorn, gunicorn, streamlit, pytest, ...


_PY = re.compile(r"^(python[0-9.]*|py|ipython|pypy3?|\$\{?python\}?)$")
_LAUNCHERS = {"torchrun", "accelerate", "deepspeed", "horovodrun", "mpirun", "srun", "uv", "poetry", "pipenv",
              "conda", "coverage", "nohup", "time", "exec", "xvfb-run", "mlflow"}
_SERVERS = {"uvicorn", "gunicorn", "hypercorn", "daphne", "waitress-serve", "flask", "bentoml", "serve",
            "streamlit", "gradio", "panel", "chainlit", "fastapi"}


def command_targets(command: str) -> List[CommandTarget]:
    """What Python code a shell command line runs. Handles `&&`, `;`, line continuations."""
    if not isinstance(command, str):
        return []
    return list(_command_targets(command))


@functools.lru_cache(maxsize=8192)
def _command_targets(command: str) -> Tuple[CommandTarget, ...]:
    """command_targets(), kept: the same lines recur in every scan of a history (shlex is slow)."""
    out: List[CommandTarget] = []
    for segment in re.split(r"&&|\|\||;|\n|\|", command.replace("\\\n", " ")):
        try:
            tokens = shlex.split(segment, comments=True)
        except ValueError:
            tokens = segment.split()
        out.extend(_targets_in_tokens(tokens))
    return tuple(out)


def _targets_in_tokens(tokens: List[str]) -> List[CommandTarget]:
    out: List[CommandTarget] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        base = tok.rsplit("/", 1)[-1]
        if _PY.match(base):
            j = i + 1
            while j < len(tokens) and tokens[j].startswith("-") and tokens[j] not in ("-m", "-c"):
                j += 1
            if j < len(tokens) and tokens[j] == "-m" and j + 1 < len(tokens):
                mod = tokens[j + 1]
                out.append(CommandTarget("module", mod, "python"))
                if mod in ("pytest", "unittest"):
                    out.append(CommandTarget("tests", " ".join(tokens[j + 2:]), mod))
                return out
            if j < len(tokens) and tokens[j].endswith(".py"):
                return out + [CommandTarget("script", tokens[j], "python")]
            return out
        if base in ("pytest", "py.test", "nox", "tox"):
            return out + [CommandTarget("tests", " ".join(tokens[i + 1:]), base)]
        if base in _SERVERS:
            for t in tokens[i + 1:]:
                if t.startswith("-") or t in ("run", "serve", "launch", "dev"):
                    continue
                if t.endswith(".py"):
                    return out + [CommandTarget("script", t, base)]
                if re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.()]*$", t):  # module:app, not host:port
                    return out + [CommandTarget("app", t, base)]
            return out
        if base in ("jupyter", "papermill") or (base == "jupyter-nbconvert"):
            for t in tokens[i + 1:]:
                if t.endswith(".ipynb"):
                    return out + [CommandTarget("notebook", t, base)]
            return out
        if base in _LAUNCHERS or base.startswith("torch.distributed"):
            rest = tokens[i + 1:]
            for k, t in enumerate(rest):
                if t == "-m" and k + 1 < len(rest):
                    return out + [CommandTarget("module", rest[k + 1], base)]
                if t.endswith(".py"):
                    return out + [CommandTarget("script", t, base)]
                if _PY.match(t.rsplit("/", 1)[-1]) or t in ("pytest",):
                    return out + _targets_in_tokens(rest[k:])
            return out
        if tok.endswith(".py") and i == 0:
            return out + [CommandTarget("script", tok, "exec")]
        i += 1
    return out


# ---- bounded traversal of parsed documents ----------------------------------------------------
WALK_BUDGET = 20000


def walk(data: Any, budget: int = WALK_BUDGET):
    """Yield (key, value) for every mapping entry and (None, item) for every list item, depth
    first, visiting each shared container once and at most `budget` entries in all. YAML anchors
    can make a tiny file a huge tree (an alias bomb); walkers that follow every reference hang."""
    seen: set = set()
    stack = [data]
    while stack and budget > 0:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                budget -= 1
                yield k, v
                stack.append(v)
        elif isinstance(node, list):
            for v in node:
                budget -= 1
                yield None, v
                stack.append(v)


def strip_dot_slash(path: str) -> str:
    """`./a/b` -> `a/b` (a prefix, not characters: `str.lstrip("./")` turns `./.ci/x` into `ci/x`)."""
    while path.startswith("./"):
        path = path[2:]
    return path
