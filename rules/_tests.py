"""Which Python files make up a repo's test suite, and whether they exercise ML code (shared by the
ml-tests and ci rules)."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from mlscan.rules._mlcode import DATA_LIBS, ML_LIBS, imported_repo_file, module_kind, uses_libs
from mlscan.rules._vocab import MODEL_LOAD_ATTRS, MODEL_LOAD_CALLS, PREDICT_ATTRS

if TYPE_CHECKING:
    from mlscan.facts.pycode import CodeIndex
    from mlscan.facts.repo import Facts

DATA_CHECK_LIBS = {"great_expectations", "pandera", "deepchecks", "evidently", "tensorflow_data_validation", "pydantic"}
def test_suite(facts: "Facts") -> List["CodeIndex"]:
    """Python test files (test functions or TestCase classes) and their helpers (conftest.py, files in
    test folders). Notebooks never count. Empty when no file defines a test."""
    from mlscan.facts.repo import TEST_DIRS
    files, has_tests = [], False
    for idx in facts.test_code():
        if idx.is_notebook or idx.error:
            continue
        defines = any(
            (d.kind == "function" and q.rsplit(".", 1)[-1].startswith("test"))
            or (d.kind == "class" and (q.startswith("Test") or any(b.endswith("TestCase") for b in d.bases)))
            for q, d in idx.defs.items())
        parts = PurePosixPath(idx.path).parts
        helper = parts[-1] == "conftest.py" or any(p.lower() in TEST_DIRS for p in parts[:-1])
        if defines or helper:
            files.append(idx)
            has_tests = has_tests or defines
    return files if has_tests else []


def test_functions(idx: "CodeIndex") -> List[str]:
    """The test functions a file defines (`test_*` functions and methods; a parametrised test counts once)."""
    return [q for q, d in idx.defs.items() if d.kind == "function" and q.rsplit(".", 1)[-1].startswith("test")]


def exercised(facts: "Facts") -> Dict[str, List[Tuple[str, int, str, str]]]:
    """kind ("ml"/"data") -> [(test file, line, repo module, how)] for repo code the test suite imports."""
    return facts.memo("tests-exercised", lambda: _exercised(facts))


def _exercised(facts: "Facts") -> Dict[str, List[Tuple[str, int, str, str]]]:
    from mlscan.facts.repo import is_test_path
    out: Dict[str, List[Tuple[str, int, str, str]]] = {"ml": [], "data": []}
    for idx in test_suite(facts):
        seen = set()
        for ref in idx.imports:
            full = f"{ref.module}.{ref.name}" if ref.name else ref.module
            got = imported_repo_file(facts, idx.path, ref)
            target = got[0] if got else None
            if not target or target == idx.path or is_test_path(target) or target in seen:
                continue
            seen.add(target)
            kind = module_kind(facts, target)
            if kind in out:
                out[kind].append((idx.path, ref.line, target, full))
    return out


def model_checks(facts: "Facts", idx: "CodeIndex") -> Optional[Tuple[int, str]]:
    """(line, what) when a test file loads a trained model and predicts or scores with it, or runs a
    data-validation library."""
    loads = predicts = None
    for call in idx.calls:
        if loads is None and ("load" in call.attr.lower() or call.attr in MODEL_LOAD_ATTRS or call.attr == "InferenceSession"):
            name = facts.external_name(idx, call.name)
            if name.startswith(MODEL_LOAD_CALLS) or call.attr in MODEL_LOAD_ATTRS and not name.startswith("?self"):
                loads = call
        if predicts is None and call.attr in PREDICT_ATTRS:
            predicts = call
    metric_lib = any((r.module or "").startswith(("sklearn.metrics", "torchmetrics", "evaluate")) for r in idx.imports)
    if loads is not None and (predicts is not None or metric_lib):
        return loads.line, f"loads a trained model ({facts.external_name(idx, loads.name)}) and checks its output"
    lib = uses_libs(idx, DATA_CHECK_LIBS - {"pydantic"})
    if lib:
        line = next(r.line for r in idx.imports if (r.module or "").split(".")[0] == lib)
        return line, f"validates data with {lib}"
    return None


def handles_data(idx: "CodeIndex") -> Optional[str]:
    return uses_libs(idx, ML_LIBS) or uses_libs(idx, DATA_LIBS)


def ml_tests_exist(facts: "Facts") -> bool:
    """Whether some test exercises ML code or checks a model (what the ml-tests practice calls present)."""
    if exercised(facts)["ml"]:
        return True
    return any(model_checks(facts, idx) for idx in test_suite(facts))
