"""Prose documents parsed into structure: YAML front matter (with pyyaml), headings (Markdown ATX,
setext and HTML <hN>, reStructuredText underlines) and the sections under them, with fenced code
blocks set apart from prose and Markdown tables read into header and body rows.

A heading inside a fenced code block is not a heading (`# comment` in a bash block), and a
section whose body is only code says nothing in prose.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt")

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")   # also fences indented under a list item


def fence_opener(raw: str) -> Optional[str]:
    """The backtick or tilde run that opens a code fence on this line, or None. A line that starts with
    backticks but holds a code span ("```data```| a folder ..." in a table) opens none: a backtick
    fence's info string holds no backtick (CommonMark)."""
    m = _FENCE.match(raw)
    if m is None or m.group(1)[0] == "`" and "`" in raw.strip()[len(m.group(1)):]:
        return None
    return m.group(1)
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_H = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.I | re.S)
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RST_UNDER = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


@dataclass
class Table:
    line: int
    header: Tuple[str, ...]
    rows: List[Tuple[str, ...]] = field(default_factory=list)


@dataclass
class Section:
    title: str                    # "" for the text before the first heading
    level: int                    # 0 for the preamble
    line: int                     # line of the heading (or 1)
    end_line: int
    prose: str = ""               # body text outside code blocks, tags and link targets stripped
    code_lines: int = 0
    tables: List[Table] = field(default_factory=list)
    links: int = 0
    prose_spans: List[Tuple[int, int]] = field(default_factory=list)   # (first, last) line runs of prose and tables

    @property
    def words(self) -> int:
        return len(_WORD.findall(self.prose))

    def note_prose(self, first: int, last: int) -> None:
        """Lines first..last are prose or a table (a run joins the one it continues)."""
        spans = self.prose_spans
        if spans and spans[-1][1] == first - 1:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((first, last))


@dataclass
class Document:
    path: str
    front_matter: Optional[Dict[str, Any]] = None
    front_matter_line: Optional[int] = None
    front_matter_error: Optional[str] = None
    sections: List[Section] = field(default_factory=list)

    @property
    def headings(self) -> List[Section]:
        return [s for s in self.sections if s.level > 0]

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sections)

    @property
    def tables(self) -> List[Table]:
        return [t for s in self.sections for t in s.tables]


def clean_inline(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = re.sub(r"[*_`]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _split_row(line: str) -> Tuple[str, ...]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return tuple(clean_inline(c) for c in s.split("|"))


_HTML_ROW = re.compile(r"<tr\b[^>]*>(.*?)(?=<tr\b|</table>)", re.I | re.S)
_HTML_CELL = re.compile(r"<t([hd])\b[^>]*>(.*?)(?=<t[hd]\b|</tr>|$)", re.I | re.S)


def _html_table(line_no: int, html: str) -> Optional[Table]:
    """An HTML `<table>` as a Table: the first row of `<th>` cells is the header."""
    # header cells written before the first `<tr>` (`<tbody><th>..</th>..<tr>`, the model-zoo tables of FAIR repos)
    lead = re.split(r"<tr\b", html, maxsplit=1, flags=re.I)[0]
    rows = [[(kind.lower(), clean_inline(re.sub(r"</t[hd]>", "", cell, flags=re.I))) for kind, cell in _HTML_CELL.findall(r)]
            for r in [lead] + _HTML_ROW.findall(html)]
    rows = [r for r in rows if r]
    if not rows or not all(kind == "h" for kind, _ in rows[0]):
        return None
    return Table(line_no, tuple(c for _, c in rows[0]), [tuple(c for _, c in r) for r in rows[1:]])


def _front_matter(lines: List[str]) -> Tuple[Optional[Dict[str, Any]], Optional[str], int]:
    """(mapping, error, number of lines it takes) for a leading `---` YAML block."""
    if not lines or lines[0].strip() != "---":
        return None, None, 0
    for i in range(1, min(len(lines), 2000)):
        if lines[i].strip() in ("---", "..."):
            import yaml
            from mlscan.facts.configs import _yaml_loader
            try:
                data = yaml.load("\n".join(lines[1:i]), Loader=_yaml_loader())
            except yaml.YAMLError as exc:
                return None, f"invalid YAML front matter: {getattr(exc, 'problem', None) or exc.__class__.__name__}", i + 1
            except (RecursionError, ValueError, TypeError):
                return None, "cannot load YAML front matter", i + 1
            return (data if isinstance(data, dict) else None), None, i + 1
    return None, None, 0


def parse_document(path: str, text: str) -> Document:
    lines = text.splitlines()
    doc = Document(path)
    fm, err, skip = _front_matter(lines)
    if skip:
        doc.front_matter, doc.front_matter_error, doc.front_matter_line = fm, err, 1
    rst = path.lower().endswith(".rst")
    current = Section("", 0, 1, 1)
    doc.sections.append(current)
    prose: List[str] = []
    fence: Optional[str] = None
    in_rst_code = False
    table: Optional[Table] = None

    def close() -> None:
        current.prose = clean_inline(" ".join(prose))

    def start(title: str, level: int, line_no: int) -> None:
        nonlocal current, prose, table
        close()
        current.end_line = max(current.line, line_no - 1)
        current = Section(clean_inline(title), level, line_no, line_no)
        doc.sections.append(current)
        prose = []
        table = None

    i = skip
    while i < len(lines):
        raw = lines[i]
        line_no = i + 1
        stripped = raw.strip()
        m = _FENCE.match(raw)
        if fence is not None:
            current.code_lines += 1
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not raw.strip()[len(m.group(1)):].strip():
                fence = None
            i += 1
            continue
        if m and fence_opener(raw):
            fence = m.group(1)
            i += 1
            continue
        if rst:
            if in_rst_code:
                if stripped and not raw[:1].isspace():
                    in_rst_code = False
                else:
                    current.code_lines += 1 if stripped else 0
                    i += 1
                    continue
            if stripped.endswith("::") or stripped.startswith(".. code"):
                in_rst_code = True
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if stripped and _RST_UNDER.match(nxt.strip()) and len(nxt.strip()) >= len(stripped) \
                    and not _RST_UNDER.match(stripped):
                start(stripped, {"=": 1, "-": 2, "~": 3, "^": 4}.get(nxt.strip()[0], 3), line_no)
                i += 2
                continue
            if _RST_UNDER.match(stripped):  # overline
                i += 1
                continue
        else:
            a = _ATX.match(raw)
            if a:
                start(a.group(2), len(a.group(1)), line_no)
                i += 1
                continue
            h = _HTML_H.search(raw)
            if h and stripped.lower().startswith("<h"):
                start(h.group(2), int(h.group(1)), line_no)
                i += 1
                continue
            if stripped.lower().startswith("<table"):
                end = next((j for j in range(i, min(len(lines), i + 500)) if "</table>" in lines[j].lower()), None)
                html = _html_table(line_no, "\n".join(lines[i:end + 1])) if end is not None else None
                if html is not None:
                    current.tables.append(html)
                    current.note_prose(line_no, end + 1)
                    i = end + 1
                    continue
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if stripped and not stripped.startswith(("|", ">", "<", "-", "*", "+")) and _SETEXT.match(nxt) \
                    and "|" not in nxt:
                start(stripped, 1 if nxt.strip().startswith("=") else 2, line_no)
                i += 2
                continue
            if "|" in stripped and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
                table = Table(line_no, _split_row(stripped))
                current.tables.append(table)
                current.note_prose(line_no, line_no)
                i += 2
                continue
            if table is not None:
                if "|" in stripped:
                    table.rows.append(_split_row(stripped))
                    current.note_prose(line_no, line_no)
                    i += 1
                    continue
                table = None
        if "](" in raw or "http://" in raw or "https://" in raw:
            current.links += 1
        if stripped:
            prose.append(stripped)
            current.note_prose(line_no, line_no)
        i += 1
    close()
    current.end_line = max(current.line, len(lines))
    return doc
