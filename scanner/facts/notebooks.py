"""Jupyter notebooks as code: code cells joined into one script, IPython magics and shell
escapes blanked (line numbers kept), so notebooks go through the same code index as modules."""
from __future__ import annotations

import json
import re
from typing import List, Optional, Tuple

from mlscan.facts.pycode import PEP701_NOTE, CodeIndex, index_source


AUTOMAGIC = ("pip install ", "pip uninstall ", "conda install ")  # IPython runs these without the %
ASSIGNED_MAGIC = re.compile(r"^\s*[\w.,\[\] ]+=\s*%")  # home = %env HOME


# IPython help (`df.merge?`, `np.*load*??`); a code line whose comment ends in `?` is code
HELP_LINE = re.compile(r"[\w.*\[\]'\"()]+\?{1,2}")


def notebook_source(text: str) -> Tuple[Optional[str], Tuple[int, ...], List[Tuple[str, int]], Optional[str]]:
    """(script, first line of each code cell, shell lines, error)."""
    try:
        nb = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, (), [], f"notebook is not valid JSON ({getattr(exc, 'msg', exc.__class__.__name__)}); not analysed"
    if not isinstance(nb, dict):
        return None, (), [], "notebook JSON is not an object; not analysed"
    language = _language(nb)
    if language and not language.lower().startswith(("py", "ipython")):  # python, python3, pyspark
        return None, (), [], f"notebook kernel language is {language}, not Python; not analysed"
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(cells, list):
        return None, (), [], "notebook has no cells list; not analysed"
    out: List[str] = []
    starts: List[int] = []
    shell: List[Tuple[str, int]] = []
    line_no = 1
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            continue
        starts.append(line_no)
        lines = _without_leading_indent(src.splitlines() or [""])
        in_cell_magic = lines[0].lstrip().startswith("%%") if lines else False
        continued, escape_line = False, 0  # a magic or shell escape ending in a backslash goes on
        for raw in lines:
            stripped = raw.lstrip()
            if continued:
                if shell and shell[-1][1] == escape_line:
                    shell[-1] = (shell[-1][0][:-1].rstrip() + " " + stripped, escape_line)
                out.append("")
                continued = stripped.endswith("\\")
            elif in_cell_magic or stripped.startswith(("%", "!", "?") + AUTOMAGIC) or HELP_LINE.fullmatch(stripped):
                if stripped.startswith(("!", "%pip", "%conda", "%%bash", "%%sh", "%sh") + AUTOMAGIC):
                    shell.append((stripped, line_no))
                out.append("" if in_cell_magic else _placeholder(raw, out))
                escape_line, continued = line_no, not in_cell_magic and stripped.endswith("\\")
            elif "= !" in raw or "=!" in raw or ASSIGNED_MAGIC.match(raw):
                shell.append((stripped, line_no))
                out.append(_placeholder(raw, out))
                escape_line, continued = line_no, stripped.endswith("\\")
            else:
                out.append(raw)
            line_no += 1
        out.append("")  # a blank line between cells
        line_no += 1
    return "\n".join(out), tuple(starts), shell, None


def _language(nb: dict) -> str:
    """The notebook's kernel language ("" when it does not say)."""
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return ""
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        value = meta.get(key, {}).get(field) if isinstance(meta.get(key), dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _placeholder(line: str, out: List[str]) -> str:
    """What a magic or shell escape line becomes: `pass` at its indent when it opens a block (so
    `if x:\n    !pip install y` still parses), else a blank line."""
    previous = next((o for o in reversed(out) if o.strip()), "")
    if previous.rstrip().endswith(":") and not previous.lstrip().startswith("#"):
        return line[:len(line) - len(line.lstrip())] + "pass"
    return ""


def _without_leading_indent(lines: List[str]) -> List[str]:
    """IPython runs a cell whose first line is indented with that indent taken off every line."""
    indent = lines[0][:len(lines[0]) - len(lines[0].lstrip(" \t"))]
    if not indent:
        return lines
    return [line[len(indent):] if line.startswith(indent) else line for line in lines]


def index_notebook(path: str, text: str) -> CodeIndex:
    script, starts, shell, error = notebook_source(text)
    if script is None:
        idx = CodeIndex(path=path, module="", is_notebook=True, error=error)
        return idx
    idx = index_source(path, script, is_notebook=True, cell_starts=starts)
    if idx.error and not idx.error.startswith(PEP701_NOTE):  # one bad cell should not hide the rest: index cell by cell
        idx = _index_cellwise(path, script, starts, idx.error)
    idx.shell_lines = shell
    return idx


def _index_cellwise(path: str, script: str, starts: Tuple[int, ...], first_error: str) -> CodeIndex:
    lines = script.split("\n")
    merged: Optional[CodeIndex] = None
    bad = 0
    bounds = list(starts) + [len(lines) + 1]
    good_src = [""] * len(lines)
    for i in range(len(starts)):
        chunk = "\n".join(lines[bounds[i] - 1: bounds[i + 1] - 1])
        probe = index_source(path, chunk)
        if probe.error and not probe.error.startswith(PEP701_NOTE):
            bad += 1
            continue
        for j in range(bounds[i] - 1, min(bounds[i + 1] - 1, len(lines))):
            good_src[j] = lines[j]
    merged = index_source(path, "\n".join(good_src), is_notebook=True, cell_starts=starts)
    if merged.error:
        merged.error = first_error
    elif bad:
        merged.error = f"{bad} code cell(s) could not be parsed ({first_error}); the other cells were analysed"
    return merged
