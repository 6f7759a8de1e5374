"""A small runner for the composite action in ``action.yml``, for tests.

It runs each ``run:`` step in order with the step's shell, the way the GitHub runner does,
against a fake GitHub environment: per-step ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH``/
``GITHUB_STEP_SUMMARY`` files, an event JSON, ``RUNNER_TEMP`` and a fake ``gh`` executable
early on ``PATH`` that records how it was called.

``${{ }}`` expressions in ``inputs.*.default``, ``env:``, ``with:``, ``if:`` and
``outputs.*.value`` are evaluated for the subset the action uses: the contexts ``inputs``,
``github``, ``steps``, ``env`` and ``runner``; literals; ``==``, ``!=``, ``&&``, ``||``, ``!``
and parentheses; and ``success()``, ``always()``, ``failure()``, ``cancelled()``,
``contains()``, ``startsWith()``, ``endsWith()``. Anything else raises, so the harness never
silently gets an expression wrong. ``uses:`` steps are recorded, not run.

A step's script can be replaced (``replace_run={"install": script}``), which is how the tests
skip the slow ``pip install`` while keeping ``action.yml`` free of test switches. The real
install step is exercised by its own test.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION_YML = ROOT / "action.yml"

SHELLS = {
    # What the runner uses for `shell: bash` / `shell: sh`.
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
}


# --------------------------------------------------------------------------- expressions

class ExpressionError(ValueError):
    pass


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|&&|\|\||<=|>=|[!()\[\].,<>])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.VERBOSE)


def _tokenize(text: str) -> List[tuple]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse expression at {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "name" and value in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            out.append((kind, value))
    return out


def _lookup(obj: Any, key: str) -> Any:
    """Property access: case-insensitive on objects, null on anything missing."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        lowered = key.lower()
        for k, v in obj.items():
            if isinstance(k, str) and k.lower() == lowered:
                return v
        return None
    if isinstance(obj, list) and isinstance(key, (int, float)):
        idx = int(key)
        return obj[idx] if 0 <= idx < len(obj) else None
    return None


def truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, str):
        return v != ""
    return True


def _to_number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 0)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return float("nan")
    return float("nan")


def loose_equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings compare case-insensitively, mixed types as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and not isinstance(a, (dict, list)):
        return a == b
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    return _to_number(a) == _to_number(b)


def to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, indent=2)
    return str(v)


class _Parser:
    def __init__(self, tokens: List[tuple], contexts: Dict[str, Any], status: Dict[str, bool]):
        self.t, self.i, self.ctx, self.status = tokens, 0, contexts, status
        self.used_status_function = False

    def peek(self) -> Optional[tuple]:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, value: Optional[str] = None) -> tuple:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"expected {value!r}, got {tok!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        v = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return v

    def or_(self) -> Any:
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            rhs = self.and_()
            v = v if truthy(v) else rhs
        return v

    def and_(self) -> Any:
        v = self.eq()
        while self.peek() == ("op", "&&"):
            self.take()
            rhs = self.eq()
            v = rhs if truthy(v) else v
        return v

    def eq(self) -> Any:
        v = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            rhs = self.unary()
            v = loose_equal(v, rhs) if op == "==" else not loose_equal(v, rhs)
        return v

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        tok = self.take()
        if tok[0] == "lit":
            return tok[1]
        if tok == ("op", "("):
            v = self.or_()
            self.take(")")
            return v
        if tok[0] != "name":
            raise ExpressionError(f"unexpected {tok!r}")
        name = tok[1]
        if self.peek() == ("op", "("):
            return self.call(name)
        if name not in self.ctx:
            raise ExpressionError(f"unsupported context {name!r}")
        v = self.ctx[name]
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                v = _lookup(v, self.take()[1])
            else:
                key = self.or_()
                self.take("]")
                v = _lookup(v, key)
        return v

    def call(self, name: str) -> Any:
        self.take("(")
        args: List[Any] = []
        if self.peek() != ("op", ")"):
            args.append(self.or_())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_())
        self.take(")")
        fn = name.lower()
        if fn in ("success", "always", "failure", "cancelled"):
            if args:
                raise ExpressionError(f"{name}() takes no arguments")
            self.used_status_function = True
            return self.status[fn]
        if fn == "contains" and len(args) == 2:
            hay, needle = args
            if isinstance(hay, list):
                return any(loose_equal(x, needle) for x in hay)
            return to_str(needle).casefold() in to_str(hay).casefold()
        if fn == "startswith" and len(args) == 2:
            return to_str(args[0]).casefold().startswith(to_str(args[1]).casefold())
        if fn == "endswith" and len(args) == 2:
            return to_str(args[0]).casefold().endswith(to_str(args[1]).casefold())
        raise ExpressionError(f"unsupported function {name}() with {len(args)} argument(s)")


def evaluate(expr: str, contexts: Dict[str, Any], status: Optional[Dict[str, bool]] = None) -> Any:
    status = status or {"success": True, "always": True, "failure": False, "cancelled": False}
    return _Parser(_tokenize(expr), contexts, status).parse()


_INTERP = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(value: Any, contexts: Dict[str, Any]) -> str:
    """Replace every ``${{ expr }}`` in a string (the way env:/with:/defaults are evaluated)."""
    if not isinstance(value, str):
        return to_str(value)
    return _INTERP.sub(lambda m: to_str(evaluate(m.group(1), contexts)), value)


def evaluate_if(condition: Any, contexts: Dict[str, Any], job_failed: bool) -> bool:
    status = {"success": not job_failed, "always": True, "failure": job_failed, "cancelled": False}
    if condition is None or condition == "":
        return status["success"]
    if isinstance(condition, bool):
        return condition and status["success"]
    text = str(condition).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if m:
        text = m.group(1)
    parser = _Parser(_tokenize(text), contexts, status)
    value = truthy(parser.parse())
    # A condition without a status function implicitly means `success() && (...)`.
    return value if parser.used_status_function else (status["success"] and value)


# --------------------------------------------------------------------------- files

def parse_file_commands(path: Path) -> Dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file: ``k=v`` lines and ``k<<DELIM`` blocks."""
    out: Dict[str, str] = {}
    if not path.exists():
        return out
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            buf = []
            while i < len(lines) and lines[i] != delim:
                buf.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"{path}: unterminated heredoc for {key!r}")
            i += 1
            out[key] = "\n".join(buf)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        else:
            raise ValueError(f"{path}: malformed line {line!r}")
    return out


FAKE_GH = textwrap.dedent("""\
    #!{python}
    # Fake `gh`: records each call as one JSON line in $FAKE_GH_LOG.
    import json, os, sys
    argv = sys.argv[1:]
    record = {{"argv": argv, "token_set": bool(os.environ.get("GH_TOKEN"))}}
    if "--input" in argv:
        with open(argv[argv.index("--input") + 1], encoding="utf-8") as fh:
            record["input"] = fh.read()
    with open(os.environ["FAKE_GH_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\\n")
    method = argv[argv.index("--method") + 1] if "--method" in argv else "GET"
    if argv[:1] == ["api"] and method == "GET":
        sys.stdout.write(os.environ.get("FAKE_GH_LIST_OUTPUT", ""))
    sys.exit(int(os.environ.get("FAKE_GH_EXIT", "0")))
    """)


# --------------------------------------------------------------------------- runner

@dataclass
class StepResult:
    index: int
    id: Optional[str]
    name: str
    kind: str  # "run" | "uses"
    ran: bool
    returncode: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    env: Dict[str, str] = field(default_factory=dict)
    with_: Dict[str, str] = field(default_factory=dict)
    uses: Optional[str] = None
    outputs: Dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ActionRun:
    returncode: int
    steps: List[StepResult]
    outputs: Dict[str, str]
    summary: str
    gh_calls: List[Dict[str, Any]]
    env_file: Dict[str, str]

    def step(self, key: str) -> StepResult:
        for s in self.steps:
            if s.id == key or s.name == key:
                return s
        raise KeyError(key)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} (ran={s.ran}, rc={s.returncode})\n{s.stdout}{s.stderr}"
                         for s in self.steps)

    @property
    def uses_run(self) -> List[StepResult]:
        return [s for s in self.steps if s.kind == "uses" and s.ran]


def load_action(path: Path = ACTION_YML) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def run_action(
    *,
    workspace: Path,
    tmp: Path,
    event: Dict[str, Any],
    inputs: Optional[Dict[str, str]] = None,
    event_name: str = "pull_request",
    repository: str = "acme/ml",
    replace_run: Optional[Dict[str, str]] = None,
    extra_env: Optional[Dict[str, str]] = None,
    action_path: Path = ROOT,
    timeout: float = 600,
) -> ActionRun:
    action = load_action(action_path / "action.yml")
    tmp.mkdir(parents=True, exist_ok=True)
    runner_temp = tmp / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    files = tmp / "files"
    files.mkdir(exist_ok=True)
    fakebin = tmp / "fakebin"
    fakebin.mkdir(exist_ok=True)
    gh = fakebin / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable), encoding="utf-8")
    gh.chmod(0o755)
    gh_log = files / "gh-calls.jsonl"
    event_path = files / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")

    token = "ghs_faketoken"
    github = {
        "event": event,
        "event_name": event_name,
        "repository": repository,
        "token": token,
        "workspace": str(workspace),
        "action_path": str(action_path),
        "server_url": "https://github.com",
        "run_id": "4242",
        "sha": (event.get("pull_request") or {}).get("head", {}).get("sha", ""),
        "ref": "refs/pull/%s/merge" % (event.get("pull_request") or {}).get("number", ""),
    }
    runner = {"temp": str(runner_temp), "os": "Linux"}
    base_env = {k: v for k, v in os.environ.items()
                if k in ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "PATH", "SHELL", "TERM",
                         "PYENV_ROOT", "PYENV_VERSION", "PIP_FIND_LINKS", "PIP_CERT",
                         "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK")}
    base_env.update({
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": repository,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(action_path),
        "GITHUB_SERVER_URL": github["server_url"],
        "GITHUB_RUN_ID": github["run_id"],
        "GITHUB_SHA": github["sha"],
        "GITHUB_REF": github["ref"],
        "RUNNER_TEMP": str(runner_temp),
        "RUNNER_OS": "Linux",
        "FAKE_GH_LOG": str(gh_log),
    })
    base_env.update(extra_env or {})

    # inputs: explicit values, else the (evaluated) defaults
    given = dict(inputs or {})
    unknown = set(given) - set(action.get("inputs") or {})
    if unknown:
        raise ValueError(f"unknown inputs: {sorted(unknown)}")
    ctx: Dict[str, Any] = {"github": github, "runner": runner, "env": dict(base_env),
                           "steps": {}, "inputs": {}}
    for name, spec in (action.get("inputs") or {}).items():
        ctx["inputs"][name] = (given[name] if name in given
                               else interpolate((spec or {}).get("default", ""), ctx))

    env_file_vars: Dict[str, str] = {}
    extra_path: List[str] = [str(fakebin)]
    results: List[StepResult] = []
    failed_rc = 0
    summary_parts: List[str] = []
    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("id") or f"step {index}"
        sid = step.get("id")
        kind = "uses" if "uses" in step else "run"
        ctx["env"] = {**base_env, **env_file_vars}
        res = StepResult(index=index, id=sid, name=name, kind=kind, ran=False,
                         uses=step.get("uses"))
        results.append(res)
        if not evaluate_if(step.get("if"), ctx, job_failed=failed_rc != 0):
            if sid:
                ctx["steps"][sid] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            continue
        res.ran = True
        res.env = {k: interpolate(v, ctx) for k, v in (step.get("env") or {}).items()}
        if kind == "uses":
            res.with_ = {k: interpolate(v, ctx) for k, v in (step.get("with") or {}).items()}
            if sid:
                ctx["steps"][sid] = {"outputs": {}, "outcome": "success", "conclusion": "success"}
            continue

        script = step["run"]
        if replace_run and sid in replace_run:
            script = replace_run[sid]
        shell = SHELLS.get(step.get("shell", ""))
        if shell is None:
            raise ValueError(f"step {name!r}: unsupported shell {step.get('shell')!r}")
        step_dir = files / f"step{index:02d}"
        step_dir.mkdir(exist_ok=True)
        script_path = step_dir / "script.sh"
        script_path.write_text(script, encoding="utf-8")
        out_file, env_file, path_file, summary_file = (
            step_dir / "output", step_dir / "env", step_dir / "path", step_dir / "summary")
        for f in (out_file, env_file, path_file, summary_file):
            f.write_text("", encoding="utf-8")
        proc_env = {**base_env, **env_file_vars, **res.env,
                    "GITHUB_OUTPUT": str(out_file), "GITHUB_ENV": str(env_file),
                    "GITHUB_PATH": str(path_file), "GITHUB_STEP_SUMMARY": str(summary_file)}
        proc_env["PATH"] = os.pathsep.join(extra_path + [base_env.get("PATH", "")])
        cwd = Path(interpolate(step["working-directory"], ctx)) if "working-directory" in step \
            else workspace
        proc = subprocess.run([a.replace("{0}", str(script_path)) for a in shell], cwd=cwd,
                              env=proc_env, capture_output=True, text=True, timeout=timeout)
        res.returncode, res.stdout, res.stderr = proc.returncode, proc.stdout, proc.stderr
        res.outputs = parse_file_commands(out_file)
        res.summary = summary_file.read_text(encoding="utf-8")
        summary_parts.append(res.summary)
        env_file_vars.update(parse_file_commands(env_file))
        extra_path = [p for p in path_file.read_text(encoding="utf-8").splitlines() if p][::-1] \
            + extra_path
        outcome = "success" if proc.returncode == 0 else "failure"
        if sid:
            ctx["steps"][sid] = {"outputs": res.outputs, "outcome": outcome, "conclusion": outcome}
        coe = step.get("continue-on-error", False)
        if isinstance(coe, str):
            coe = interpolate(coe, ctx) == "true"
        if proc.returncode != 0 and not coe:
            failed_rc = failed_rc or proc.returncode

    outputs = {name: interpolate(spec.get("value", ""), ctx)
               for name, spec in (action.get("outputs") or {}).items()}
    gh_calls = ([json.loads(line) for line in gh_log.read_text(encoding="utf-8").splitlines()]
                if gh_log.exists() else [])
    return ActionRun(returncode=failed_rc, steps=results, outputs=outputs,
                     summary="".join(summary_parts), gh_calls=gh_calls, env_file=env_file_vars)


def use_installed_mlscan_script() -> str:
    """A stand-in for the install step that points the action at the mlscan under test.

    It writes the same outputs as the real step (``version``, ``dir``, ``python``, ``mlscan``)."""
    from mlscan import __version__
    bindir = Path(sys.executable).parent
    mlscan = bindir / "mlscan"
    if not mlscan.exists():
        raise RuntimeError(f"mlscan is not installed next to {sys.executable}")
    return textwrap.dedent(f"""\
        set -euo pipefail
        work="$(mktemp -d "$RUNNER_TEMP/mlscan.XXXXXX")"
        {{
          echo "version={__version__}"
          echo "dir=$work"
          echo "python={sys.executable}"
          echo "mlscan={mlscan}"
        }} >> "$GITHUB_OUTPUT"
        """)


FAKE_MLSCAN = textwrap.dedent("""\
    #!{python}
    # Fake mlscan that follows the CLI contract closely enough to drive the action's control
    # flow without the scanner core. Each call is recorded in $FAKE_MLSCAN_LOG.
    import argparse, json, os, sys
    with open(os.environ["FAKE_MLSCAN_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
    p = argparse.ArgumentParser(prog="mlscan")
    p.add_argument("command", choices=["scan", "render"])
    p.add_argument("path")  # a folder to scan, or the JSON report to render
    p.add_argument("--format", default="terminal")
    p.add_argument("--output")
    p.add_argument("--base")
    p.add_argument("--fail-under")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args()
    if a.command == "render":  # views of a report written by an earlier scan
        saved = json.load(open(a.path, encoding="utf-8"))
        os.environ["FAKE_MLSCAN_LEVEL"] = str(saved["level"])
        a.base = (saved.get("delta") or {{}}).get("base")
        a.fail_under = None
    else:
        print(os.environ.get("FAKE_MLSCAN_STDOUT", ""))
        rc = int(os.environ.get("FAKE_MLSCAN_RC", "0"))
        if rc:
            sys.exit(rc)
    if a.command == "scan" and not os.path.isdir(a.path):
        print("mlscan: no such directory: %s" % a.path, file=sys.stderr)
        sys.exit(2)
    level = int(os.environ.get("FAKE_MLSCAN_LEVEL", "1"))
    policy_ok = True
    if a.fail_under:
        if "=" in a.fail_under:
            policy_ok = all(level >= int(part.split("=")[1]) for part in a.fail_under.split(","))
        else:
            policy_ok = level >= int(a.fail_under)
    if a.format == "json":
        report = {{"schema_version": 1, "level": level, "root": a.path}}
        if a.base:
            report["delta"] = {{"base": a.base, "level_before": level - 1, "level_after": level}}
        text = json.dumps(report)
    elif a.format == "markdown":
        md_file = os.environ.get("FAKE_MLSCAN_MARKDOWN_FILE")
        text = open(md_file, encoding="utf-8").read() if md_file else (
            "**mlscan verdict:** level %d%s\\n\\n| stage | level |\\n|---|---|\\n| train | %d |\\n"
            % (level, " (base %s)" % a.base[:7] if a.base else "", level))
    elif a.format == "github":
        text = "::warning file=train.py,line=1,title=mlscan%3A seed-control::Random seeds: not found.\\n"
    elif a.format == "sarif":
        text = json.dumps({{"version": "2.1.0", "runs": [{{"tool": {{"driver": {{"name": "mlscan"}}}},
                                                         "results": []}}]}})
    else:
        text = "level %d\\n" % level
    if a.output:
        with open(a.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    sys.exit(0 if policy_ok else 1)
    """)


def fake_mlscan_install_script(tmp: Path) -> str:
    """Install-step stand-in that points the action at :data:`FAKE_MLSCAN`."""
    tmp.mkdir(parents=True, exist_ok=True)
    fake = tmp / "fake-mlscan"
    fake.write_text(FAKE_MLSCAN.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    return textwrap.dedent(f"""\
        set -euo pipefail
        work="$(mktemp -d "$RUNNER_TEMP/mlscan.XXXXXX")"
        {{
          echo "version=0.0.0-fake"
          echo "dir=$work"
          echo "python={sys.executable}"
          echo "mlscan={fake}"
        }} >> "$GITHUB_OUTPUT"
        """)
