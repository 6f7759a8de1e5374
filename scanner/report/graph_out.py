"""`mlscan graph`: the dependency graph as JSON or Graphviz dot."""
from __future__ import annotations

import json


def render_graph(code_graph, fmt: str) -> str:
    data = code_graph.to_json()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lines = ["digraph mlscan {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    shapes = {"entry-point": "oval", "config": "note", "data": "cylinder", "model": "component",
              "ci-job": "hexagon", "pipeline-stage": "parallelogram"}
    for n in data["nodes"]:
        label = n.get("label") or n.get("name") or n.get("path") or n["id"]
        shape = shapes.get(n.get("kind", ""), "box")
        lines.append(f"  {json.dumps(n['id'])} [label={json.dumps(str(label))}, shape={shape}];")
    for e in data["edges"]:
        if e["kind"] == "defines":
            continue
        lines.append(f"  {json.dumps(e['source'])} -> {json.dumps(e['target'])} [label={json.dumps(e['kind'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
