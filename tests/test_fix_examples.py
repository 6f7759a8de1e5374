"""Every fix's before/after example repos run as tests: `pytest -k seed-entry-points` tests one fix.

For each example: the planned files match `after` byte for byte, the rescan gives the expected
status, writing and fixing again changes nothing, and every written Python file parses."""
from __future__ import annotations

import ast

import pytest

from mlscan.config import Config
from mlscan.engine import scan
from mlscan.fix.engine import FIXES, plan_fixes, write_plan
from mlscan.rulekit import all_rules, materialise
from mlscan.catalogue import load_catalogue

CASES = [pytest.param(fix, i, ex, id=f"{fix.id}-{i}") for fix in FIXES for i, ex in enumerate(fix.examples)]


def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fix,i,example", CASES)
def test_fix_example(fix, i, example, tmp_path):
    materialise(example.files, tmp_path)
    before = _snapshot(tmp_path)
    plan = plan_fixes(tmp_path, Config(), (fix.id,), jobs=1)
    assert _snapshot(tmp_path) == before, "planning must not write"
    for path, text in example.after.items():
        if text is None:
            assert path not in plan.changes, f"{fix.id} example {i}: {path} must not be written"
        else:
            assert plan.changes.get(path) == text, f"{fix.id} example {i} ({example.note}): {path}:\n{plan.changes.get(path)}"
    assert set(plan.changes) <= set(example.after), f"unexpected files written: {set(plan.changes) - set(example.after)}"
    for want in example.skips:
        assert any(want in s.reason or want == s.path for _, s in plan.skips), (want, plan.skips)
    for want in example.suggests:
        assert any(want == s.path for _, s in plan.suggestions), (want, plan.suggestions)
    write_plan(plan)
    for path in plan.changes:
        if path.endswith(".py"):
            ast.parse((tmp_path / path).read_text(encoding="utf-8"))
    report = scan(tmp_path, Config())
    status = next(p for p in report.practices if p.id == fix.practice)
    assert status.status == example.status, f"{fix.id} example {i}: {status.status}: {status.reason}"
    again = plan_fixes(tmp_path, Config(), (fix.id,), jobs=1)
    assert again.changes == {}, f"a second fix must be a no-op: {sorted(again.changes)}"


@pytest.mark.parametrize("fix", FIXES, ids=lambda f: f.id)
def test_fix_is_documented_and_answers_real_rules(fix):
    assert fix.__doc__ and fix.title()
    assert fix.practice in load_catalogue().practice_ids
    rule_ids = {r.id for r in all_rules() if r.practice == fix.practice}
    assert fix.answers and set(fix.answers) <= rule_ids, (fix.answers, rule_ids)
    assert any(ex.after and any(v is not None for v in ex.after.values()) for ex in fix.examples), \
        "a fix needs an example it changes"
