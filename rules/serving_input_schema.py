from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._monitoring import serving_modules

SCHEMA_BASES = ("pydantic.BaseModel", "pydantic.main.BaseModel", "pydantic.v1.BaseModel", "pydantic.RootModel",
                "marshmallow.Schema", "msgspec.Struct")
SCHEMA_CALLS = ("pydantic.create_model", "pydantic.TypeAdapter", "pydantic.validate_call", "pydantic.parse_obj_as")


class ServingInputSchema(Rule):
    """Serving inputs are validated against a schema

    Partial evidence for data validation: request or record models (pydantic `BaseModel`
    subclasses, `pydantic.create_model`, marshmallow schemas, msgspec structs) in the modules a
    serving endpoint loads, so malformed inputs are rejected before they reach the model.
    Training data is not covered by it, hence partial. Settings classes (`BaseSettings`) are
    configuration, not data, and do not count, nor does a model whose every data field accepts
    anything (`Any`, `dict`, `Dict[str, list]`; fields that only pick a model or name a record,
    `model_name`, `model_version`, `*_id`, are not data), nor a request to train (`TrainRequest`).
    """

    id = "serving-input-schema"
    practice = "data-validation"
    examples = (
        Example({
            "app.py": "from fastapi import FastAPI\nfrom pydantic import BaseModel, Field\n\napp = FastAPI()\n\n"
                      "class Crab(BaseModel):\n    length: float = Field(gt=0)\n    sex: str\n\n"
                      "@app.post('/predict')\ndef predict(crab: Crab):\n    return {'age': 3}\n",
        }, "partial", "pydantic request model on a FastAPI route", fires=True),
        Example({
            "config.py": "from pydantic import BaseModel\n\nclass TrainConfig(BaseModel):\n    lr: float = 0.1\n",
            "train.py": "from config import TrainConfig\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "cfg = TrainConfig()\nLogisticRegression(C=cfg.lr).fit([[0], [1]], [0, 1])\n",
        }, "absent", "a pydantic config model with no serving code", fires=False),
        Example({
            "backend/main.py": "from typing import Any, Dict\nfrom fastapi import FastAPI\nfrom pydantic import BaseModel\n\n"
                               "app = FastAPI()\n\n\nclass Request(BaseModel):\n    data: Dict[str, list]\n    image: Any\n\n\n"
                               "@app.post('/predict')\ndef predict(r: Request):\n    return {'y': 1}\n",
        }, "absent", "a request model whose fields accept anything checks no shape", fires=False),
        Example({
            "backend/models.py": "from typing import Any, Optional\nfrom pydantic import BaseModel\n\n\n"
                                 "class TrainApiData(BaseModel):\n    model_name: str\n    epochs: int\n\n\n"
                                 "class PredictApiData(BaseModel):\n    input_image: Any\n    model_name: str\n\n\n"
                                 "class DeleteApiData(BaseModel):\n    model_name: str\n    model_version: Optional[int]\n",
            "backend/main.py": "from fastapi import FastAPI\nfrom backend.models import PredictApiData, TrainApiData\n\n"
                               "app = FastAPI()\n\n\n@app.post('/train')\ndef train(d: TrainApiData):\n    return {}\n\n\n"
                               "@app.post('/predict')\ndef predict(d: PredictApiData):\n    return {'y': 1}\n",
        }, "absent", "a training request, an untyped image beside the model's name, a delete by version", fires=False),
    )

    def check(self, facts):
        modules = serving_modules(facts)
        for path in sorted(modules):
            idx = facts.code.get(path)
            if idx is None:
                continue
            hit = None
            for qual, d in idx.defs.items():
                base = next((b for b in d.bases if b.replace("()", "").startswith(SCHEMA_BASES)
                             and "Settings" not in b), None)
                if d.kind == "class" and base and "Settings" not in qual and not qual.rsplit(".", 1)[-1].startswith("Train") \
                        and not _untyped(idx, qual):
                    hit = (d.line, f"{qual} ({base.rsplit('.', 1)[-1]}) defines the shape of served data")
                    break
            if hit is None:
                call = next((c for c in idx.calls if c.name.startswith(SCHEMA_CALLS)), None)
                if call is not None:
                    hit = (call.line, f"{call.name} builds a schema for served data")
            if hit:
                yield self.found("partial", path, hit[0], hit[1])


# annotations that accept anything: `Any`, a bare `dict`/`list`, or a container of those (`Dict[str, list]`)
_ANY = {"Any", "object", "dict", "Dict", "list", "List", "Mapping", "Sequence", "Json", "bytes"}
_CONTAINER = re.compile(r"^(?:typing\.)?(\w+)\[(.*)\]$")


def _loose(annotation: str) -> bool:
    a = annotation.replace(" ", "").replace("typing.", "")
    m = _CONTAINER.match(a)
    if m is None:
        return a in _ANY
    depth, last = 0, 0   # the value type: the last top-level argument (`Dict[str, list]` -> list)
    for i, ch in enumerate(m.group(2)):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            last = i + 1
    return m.group(1) in _ANY | {"Optional"} and _loose(m.group(2)[last:])


# fields that pick a model or name a record, not the data sent to the model
SELECTOR_FIELD = re.compile(r"(?i)^(model|model_\w+|version|id|\w+_id)$")


def _untyped(idx, qual: str) -> bool:
    """A schema class whose every data field is typed `Any`, `dict`, `Dict[str, list]`...: the shape is not
    checked (`input_image: Any` beside a `model_name: str` that only picks the model)."""
    fields = [(name.rsplit(".", 1)[1], a) for name, a, _ in getattr(idx, "fields", ()) if name.rsplit(".", 1)[0] == qual]
    data = [a for name, a in fields if not SELECTOR_FIELD.match(name)]
    return bool(fields) and all(_loose(a) for a in data)
