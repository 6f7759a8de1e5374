"""Answers payload-capture (rules/payload_capture.py)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from mlscan.facts.graph import looks_predictive
from mlscan.fix import cst as C
from mlscan.fix.base import Edit, Fix, FixExample, Skip, top_level_names

FRAMEWORKS = ("fastapi", "flask")
NOT_PAYLOAD = {"Request", "Response", "BackgroundTasks", "WebSocket", "Session", "AsyncSession", "HTTPConnection"}
LOGGER = "payload_log"


class LogPayloads(Fix):
    """Log each prediction request's payload and its prediction as one structured record

    In every FastAPI or Flask endpoint that predicts, each `return VALUE` becomes: keep the
    value, log `{"payload": ..., "prediction": ...}` as one JSON record through a standard
    `logging` logger of the serving module, return the value. The payload is the endpoint's
    request parameters (FastAPI, through `jsonable_encoder`) or the request's JSON or form
    data (Flask). Where the records go (a file, a collector) is the logging configuration's job.
    """

    id = "log-payloads"
    practice = "payload-logging"
    answers = ("payload-capture",)
    examples = (
        FixExample({
            "app.py": "from fastapi import FastAPI\nfrom pydantic import BaseModel\n\napp = FastAPI()\n\n\n"
                      "class Row(BaseModel):\n    x: float\n\n\n"
                      "@app.post(\"/predict\")\nasync def predict(row: Row):\n"
                      "    # the model is loaded at start-up\n    y = MODEL.predict([[row.x]])\n"
                      "    return {\"y\": float(y[0])}\n",
        }, {
            "app.py": "from fastapi import FastAPI\nfrom pydantic import BaseModel\nimport json\nimport logging\n"
                      "from fastapi.encoders import jsonable_encoder\n\n"
                      "payload_log = logging.getLogger(__name__ + \".payloads\")\n\napp = FastAPI()\n\n\n"
                      "class Row(BaseModel):\n    x: float\n\n\n"
                      "@app.post(\"/predict\")\nasync def predict(row: Row):\n"
                      "    # the model is loaded at start-up\n    y = MODEL.predict([[row.x]])\n"
                      "    result = {\"y\": float(y[0])}\n"
                      "    payload_log.info(json.dumps({\"payload\": jsonable_encoder({\"row\": row}), "
                      "\"prediction\": result}, default=str))\n"
                      "    return result\n",
        }, "present", "FastAPI: the request model and the prediction in one JSON record"),
        FixExample({
            "serve.py": "import flask\n\napp = flask.Flask(__name__)\n\n\n"
                        "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                        "    return str(MODEL.predict(flask.request.json))\n",
        }, {
            "serve.py": "import flask\nimport json\nimport logging\n\n"
                        "payload_log = logging.getLogger(__name__ + \".payloads\")\n\napp = flask.Flask(__name__)\n\n\n"
                        "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                        "    result = str(MODEL.predict(flask.request.json))\n"
                        "    payload_log.info(json.dumps({\"payload\": (flask.request.get_json(silent=True) or "
                        "flask.request.values.to_dict()), \"prediction\": result}, default=str))\n"
                        "    return result\n",
        }, "present", "Flask: the request's JSON (or form) data"),
        FixExample({
            "api.py": "import json\nimport logging\n\nfrom fastapi import APIRouter, Request\n\nrouter = APIRouter()\n\n\n"
                      "@router.post(\"/predict\")\ndef predict(request: Request, rows: list):\n"
                      "    prediction = request.app.state.model.predict(rows)\n\n    return prediction\n",
        }, {
            "api.py": "import json\nimport logging\n\nfrom fastapi import APIRouter, Request\n"
                      "from fastapi.encoders import jsonable_encoder\n\n"
                      "payload_log = logging.getLogger(__name__ + \".payloads\")\n\nrouter = APIRouter()\n\n\n"
                      "@router.post(\"/predict\")\ndef predict(request: Request, rows: list):\n"
                      "    prediction = request.app.state.model.predict(rows)\n\n"
                      "    payload_log.info(json.dumps({\"payload\": jsonable_encoder({\"rows\": rows}), "
                      "\"prediction\": prediction}, default=str))\n    return prediction\n",
        }, "present", "`return NAME` is logged as is; the Request object is not payload; json/logging already imported"),
        FixExample({
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, {}, "not-applicable", "no serving code: nothing to do"),
    )

    def plan(self, ctx):
        facts = ctx.facts
        graph = facts.graph
        by_file: Dict[str, List[Tuple[str, str]]] = {}
        odd = 0
        for ep in graph.serving_endpoints:
            if ep.framework not in FRAMEWORKS:
                continue
            if not ep.handler.startswith("def:") or "." in ep.handler.rsplit(":", 1)[1]:
                odd += 1
                yield Skip(ep.path, f"{ep.label}: not a plain function endpoint; log its payloads by hand")
                continue
            if not any(looks_predictive(c.attr) for _, c in graph.calls_in(graph.reachable(ep.handler))):
                continue
            by_file.setdefault(ep.path, []).append((ep.handler.rsplit(":", 1)[1], ep.framework))
        if not by_file:
            if not odd:
                yield Skip(".", "no FastAPI or Flask endpoint that predicts")
            return
        for path, handlers in sorted(by_file.items()):
            text = ctx.workspace.read(path)
            if text is None:
                yield Skip(path, "not readable UTF-8 text")
                continue
            new, skipped = rewrite(text, handlers, facts.code.get(path))
            for reason in skipped:
                yield Skip(path, reason)
            if new is not None:
                yield Edit(path, new, f"log payload and prediction of {', '.join(h for h, _ in handlers)} "
                                      f"(records reach the log only at INFO level: configure logging to keep them)")


def rewrite(text: str, handlers, idx) -> Tuple[Optional[str], List[str]]:
    module = C.parse(text)
    taken = top_level_names(module.code)
    skipped: List[str] = []
    new = module
    needs: List[str] = []
    done = 0
    for qual, framework in handlers:
        trail, func = C.find_function(new, qual)
        if func is None or not isinstance(func.body, cst.IndentedBlock):
            skipped.append(f"{qual}: cannot find its body")
            continue
        payload, imports, why = _payload(func, framework, idx, taken)
        if payload is None:
            skipped.append(f"{qual}: {why}")
            continue
        local = _names_in(func)
        result = C.free_name(local | taken, "result", "prediction_result", "logged_result")
        def log_line(name: str, payload: str = payload) -> str:
            return f"{LOGGER}.info(json.dumps({{\"payload\": {payload}, \"prediction\": {name}}}, default=str))\n"
        rewriter = returns_rewriter(new, result, log_line)
        body = func.body.visit(rewriter)
        if rewriter.problem:
            skipped.append(f"{qual}: {rewriter.problem}")
            continue
        if not rewriter.done:
            skipped.append(f"{qual}: no `return VALUE` to log")
            continue
        new = C.replace_function(new, trail, func.with_changes(body=body))
        needs.extend(i for i in imports if i not in needs)
        done += 1
    if not done:
        return None, skipped
    if LOGGER in taken:
        return None, [f"the name {LOGGER} is already used in the module"]
    aliases = C.bound_modules(new)
    head = [f"import {m}\n" for m in ("json", "logging") if aliases.get(m) != m]
    if any(m in taken and aliases.get(m) != m for m in ("json", "logging")):
        return None, ["the names json/logging mean something else in the module"]
    head += [i for i in needs if i.split()[-1] not in taken]
    setup = C.statements(new, "".join(head) + f"\n{LOGGER} = logging.getLogger(__name__ + \".payloads\")\n")
    return C.insert_module_level(new, C.import_end(new), setup).code, skipped


def returns_rewriter(module, result: str, log_line):
    """A transformer that rewrites the `return VALUE` statements of one function body (not of
    nested functions): keep the value in `result`, log it with `log_line(name)`, return it."""

    class Rewriter(cst.CSTTransformer):
        def __init__(self):
            super().__init__()
            self.done = 0
            self.problem = ""

        def visit_FunctionDef(self, node):
            return False

        def visit_Lambda(self, node):
            return False

        def visit_ClassDef(self, node):
            return False

        def visit_SimpleStatementSuite(self, node):
            if any(isinstance(s, cst.Return) and s.value is not None for s in node.body):
                self.problem = "a `return` on the same line as its `if`/`with`; log it by hand"
            return False

        def leave_SimpleStatementLine(self, original, updated):
            if len(updated.body) != 1 or not isinstance(updated.body[0], cst.Return) or updated.body[0].value is None:
                return updated
            value = updated.body[0].value
            if isinstance(value, cst.Name):      # `return prediction`: log the name itself
                self.done += 1
                log = C.statements(module, log_line(value.value))[0].with_changes(leading_lines=updated.leading_lines)
                return cst.FlattenSentinel([log, updated.with_changes(leading_lines=[])])
            returned = cst.Name(result)
            if _wraps_response(value):          # log what `jsonify(...)` wraps, not the Response object
                returned = value.with_changes(args=[value.args[0].with_changes(value=cst.Name(result))])
                value = value.args[0].value
            assign = cst.SimpleStatementLine(
                body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(result))], value=value)],
                leading_lines=updated.leading_lines)
            log = C.statements(module, log_line(result))[0]
            ret = updated.with_changes(body=[updated.body[0].with_changes(value=returned)], leading_lines=[])
            self.done += 1
            return cst.FlattenSentinel([assign, log, ret])

    return Rewriter()


def _wraps_response(value) -> bool:
    """`jsonify(x)` / `flask.jsonify(x)` / `JSONResponse(x)`: one positional argument, the data."""
    if not isinstance(value, cst.Call) or len(value.args) != 1 or value.args[0].keyword is not None \
            or value.args[0].star:
        return False
    func = value.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    return name in ("jsonify", "JSONResponse", "ORJSONResponse")


def _payload(func, framework: str, idx, taken) -> Tuple[Optional[str], List[str], str]:
    if framework == "flask":
        req = _flask_request(idx)
        if req is None:
            if "request" in taken:
                return None, [], "the Flask request object is not imported as `request` and the name is taken"
            req, imports = "request", ["from flask import request\n"]
        else:
            imports = []
        return f"({req}.get_json(silent=True) or {req}.values.to_dict())", imports, ""
    names = []
    for p in [*func.params.posonly_params, *func.params.params, *func.params.kwonly_params]:
        name = p.name.value
        ann = p.annotation.annotation if p.annotation else None
        ann_name = ann.attr.value if isinstance(ann, cst.Attribute) else ann.value if isinstance(ann, cst.Name) else ""
        dep = isinstance(p.default, cst.Call) and "Depends" in cst.Module([]).code_for_node(p.default.func)
        if name in ("self", "cls") or ann_name in NOT_PAYLOAD or dep:
            continue
        names.append(name)
    if not names:
        return None, [], "its request data is read inside the handler (no request parameters to log)"
    encoder = "jsonable_encoder" if "jsonable_encoder" not in taken else None
    if encoder is None:
        return None, [], "the name jsonable_encoder is taken in the module"
    body = ", ".join(f"\"{n}\": {n}" for n in names)
    return f"jsonable_encoder({{{body}}})", ["from fastapi.encoders import jsonable_encoder\n"], ""


def _flask_request(idx) -> Optional[str]:
    if idx is None:
        return None
    for ref in idx.imports:
        if ref.scope != "<module>":
            continue
        if ref.module == "flask" and ref.name == "request":
            return ref.alias
        if ref.module == "flask" and ref.name is None:
            return f"{ref.alias}.request"
    return None


def _names_in(func) -> set:
    out = set()

    class Names(cst.CSTVisitor):
        def visit_Name(self, node):
            out.add(node.value)
    func.visit(Names())
    return out
