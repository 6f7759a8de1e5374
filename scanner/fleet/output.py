"""What a fleet run leaves in OUT: fleet.json (the canonical form), fleet.parquet and fleet.csv
(one row per repository: its status, overall level, stage levels and practice statuses), and
index.html. Everything is deterministic: repositories sorted by name, no timestamps.

fleet.json, schema_version 1:
  {"schema_version": 1, "tool": {"name", "version"},
   "stages": [{"id", "name"}...],               model order
   "practices": [{"id", "title", "stage"}...],  catalogue order (plugin practices included)
   "repos": [{"name", "source", "commit", "status": ok|error|timeout, "error", "report",
              "level", "stages": {stage: level}, "practices": {practice: status}}...],
   "summary": {"adoption": {practice: {status: n}}, "levels": {"1".."5": n}, "repos": n, "failed": n}}
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Sequence

from mlscan import __version__
from mlscan.catalogue import load_catalogue
from mlscan.report.model import STATUSES

FLEET_SCHEMA_VERSION = 1
ROW_COLUMNS = ("repo", "source", "commit", "status", "error", "report", "level")


def fleet_document(rows: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The fleet JSON document from one row per repository (see the module docstring)."""
    cat = load_catalogue()
    repos = sorted(rows, key=lambda r: r["name"])
    practices = [{"id": p.id, "title": p.title, "stage": p.stage} for p in cat.practices]
    known = {p["id"] for p in practices}
    extra = sorted({pid for r in repos for pid in r["practices"] if pid not in known})
    practices += [{"id": pid, "title": pid, "stage": ""} for pid in extra]   # from workers' plugins
    ok = [r for r in repos if r["status"] == "ok"]
    adoption = {p["id"]: {s: sum(1 for r in ok if r["practices"].get(p["id"]) == s) for s in STATUSES}
                for p in practices}
    levels = {str(n): sum(1 for r in ok if r["level"] == n) for n in range(1, 6)}
    return {
        "schema_version": FLEET_SCHEMA_VERSION,
        "tool": {"name": "mlscan", "version": __version__},
        "stages": [{"id": s.id, "name": s.name} for s in cat.stages],
        "practices": practices,
        "repos": repos,
        "summary": {"adoption": adoption, "levels": levels, "repos": len(repos), "failed": len(repos) - len(ok)},
    }


def table_columns(fleet: Dict[str, Any]) -> Dict[str, List[Any]]:
    """repo x (status, level, each stage's level, each practice's status), column by column."""
    repos = fleet["repos"]
    cols: Dict[str, List[Any]] = {
        "repo": [r["name"] for r in repos], "source": [r["source"] for r in repos],
        "commit": [r["commit"] for r in repos], "status": [r["status"] for r in repos],
        "error": [r["error"] for r in repos], "report": [r["report"] for r in repos],
        "level": [r["level"] for r in repos]}
    for s in fleet["stages"]:
        cols[f"stage:{s['id']}"] = [r["stages"].get(s["id"]) for r in repos]
    for p in fleet["practices"]:
        cols[f"practice:{p['id']}"] = [r["practices"].get(p["id"]) for r in repos]
    return cols


def write_parquet(fleet: Dict[str, Any], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    cols = table_columns(fleet)
    fields = [pa.field(name, pa.int8() if name == "level" or name.startswith("stage:") else pa.string())
              for name in cols]
    table = pa.table({name: pa.array(values, type=f.type) for (name, values), f in zip(cols.items(), fields)},
                     schema=pa.schema(fields))
    pq.write_table(table, path)


def csv_text(fleet: Dict[str, Any]) -> str:
    cols = table_columns(fleet)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(cols))
    for i in range(len(fleet["repos"])):
        writer.writerow(["" if cols[c][i] is None else cols[c][i] for c in cols])
    return buf.getvalue()


def index_html(fleet: Dict[str, Any], out: Path) -> str:
    """The HTML report's fleet page for OUT/index.html (charts need the html extra, matplotlib),
    else a plain list of the repositories and their reports."""
    try:
        from mlscan.report.html import MissingExtra, render_fleet, report_links
    except ImportError:
        return plain_index(fleet)
    try:
        return render_fleet(fleet, report_links(fleet, out, out))
    except MissingExtra:
        return plain_index(fleet)


def plain_index(fleet: Dict[str, Any]) -> str:
    esc = html.escape
    items = []
    for r in fleet["repos"]:
        what = (f'<a href="{esc(r["report"])}">level {r["level"]}</a>' if r["report"]
                else f'{esc(r["status"])}: {esc(r["error"] or "")}')
        items.append(f"<li><b>{esc(r['name'])}</b> ({esc(r['source'])}): {what}</li>")
    summary = fleet["summary"]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mlscan fleet</title></head>\n"
            f"<body><h1>mlscan fleet: {summary['repos']} repositories, {summary['failed']} failed</h1>\n"
            "<p>Tables: <a href=\"fleet.csv\">fleet.csv</a>, <a href=\"fleet.parquet\">fleet.parquet</a>, "
            "<a href=\"fleet.json\">fleet.json</a></p>\n<ul>\n" + "\n".join(items) + "\n</ul></body></html>\n")


_preparing: List[threading.Thread] = []


def prepare_writers() -> None:
    """Load the writers' libraries (pyarrow, matplotlib) in a background thread, so that a run can do
    it on a core its last scans leave idle rather than after them. `write_fleet` waits for it
    (matplotlib's settings are global: two threads must not draw at once)."""
    def load() -> None:
        try:
            load_catalogue()   # the document's stages and practices (0.1 s to parse, the first time)
            import pyarrow.parquet  # noqa: F401
            from mlscan.report.html import warm_up
            warm_up()
        except Exception:  # noqa: BLE001 - the writers will meet the problem and handle it
            pass
    thread = threading.Thread(target=load, name="mlscan-writers", daemon=True)
    _preparing.append(thread)
    thread.start()


def _write(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


def write_fleet(out: Path, rows: Sequence[Dict[str, Any]], interrupted: bool = False) -> Dict[str, Any]:
    """Write fleet.json, fleet.parquet, fleet.csv and index.html into OUT; returns the document.
    `interrupted` (Ctrl-C): the same tables, and index.html as the plain list without charts, so
    that the run stops in moments instead of drawing first. The writers' loading thread is waited
    for either way: a process that exits while it imports pyarrow aborts ("terminate called
    without an active exception")."""
    while _preparing:
        _preparing.pop().join()
    fleet = fleet_document(rows)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "fleet.json", json.dumps(fleet, indent=2, ensure_ascii=False) + "\n")
    _write(out / "fleet.csv", csv_text(fleet))
    tmp = out / ".fleet.parquet.tmp"
    write_parquet(fleet, tmp)
    os.replace(tmp, out / "fleet.parquet")
    _write(out / "index.html", plain_index(fleet) if interrupted else index_html(fleet, out))
    return fleet
