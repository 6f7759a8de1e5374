"""Makefile targets: name, prerequisites and recipe lines, read from the text with a small parser
(no `make` is run). Enough to see which targets chain into which: `train: features` and
`models/model.pkl: data/clean.csv`. Variables are not expanded; pattern rules and special targets
(`.PHONY`, `.ONESHELL`) are kept out; `include`d files are not followed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

_RULE = re.compile(r"^(?P<targets>[^\s:#=][^:#=]*?)\s*(?P<colons>::?)(?!=)\s*(?P<prereqs>[^=]*)$")
_ASSIGN = re.compile(r"^\s*(export\s+|override\s+)?[\w.${}()-]+\s*(\?|:|::|\+|!)?=")
_DIRECTIVE = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef|else|endif|include|-include|sinclude|define|endef|export|"
                        r"unexport|vpath|override)\b")


@dataclass(frozen=True)
class MakeTarget:
    path: str                       # the Makefile
    name: str
    line: int
    prerequisites: Tuple[str, ...]  # order-only prerequisites (after `|`) included
    recipe: Tuple[Tuple[int, str], ...]  # (line, command) with `@`, `-` and `+` prefixes removed


def parse_makefile(path: str, text: str) -> List[MakeTarget]:
    out: List[MakeTarget] = []
    lines = text.splitlines()
    current: List[Tuple[str, int, Tuple[str, ...]]] = []   # the targets of the rule being read
    recipe: List[Tuple[int, str]] = []
    in_define = False

    def flush() -> None:
        for name, line, prereqs in current:
            out.append(MakeTarget(path, name, line, prereqs, tuple(recipe)))

    i = 0
    while i < len(lines):
        raw = lines[i]
        line_no = i + 1
        # join backslash continuations
        while raw.endswith("\\") and i + 1 < len(lines):
            i += 1
            raw = raw[:-1] + " " + lines[i].strip()
        i += 1
        if in_define:
            if raw.strip().startswith("endef"):
                in_define = False
            continue
        if raw.startswith("\t"):
            cmd = raw.strip()
            if current and cmd and not cmd.startswith("#"):
                recipe.append((line_no, cmd.lstrip("@-+ ").strip()))
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("define "):
            in_define = True
            continue
        if _DIRECTIVE.match(stripped) or _ASSIGN.match(stripped):
            continue
        m = _RULE.match(stripped)
        if not m:
            continue
        flush()
        recipe = []
        current = []
        body = m.group("prereqs")
        inline = None
        if ";" in body:
            body, inline = body.split(";", 1)
        body = body.split("#", 1)[0]
        prereqs = tuple(p for p in body.replace("|", " ").split() if p)
        for name in m.group("targets").split():
            if name.startswith(".") and name.upper() == name or "%" in name:
                continue   # special targets (.PHONY, .DEFAULT_GOAL) and pattern rules
            current.append((name, line_no, prereqs))
        if inline and inline.strip():
            recipe.append((line_no, inline.strip().lstrip("@-+ ").strip()))
    flush()
    return out
