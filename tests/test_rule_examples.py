"""Every rule's embedded example repos run as tests: `pytest -k seed-calls` tests one rule."""
from __future__ import annotations

import pytest

from mlscan.catalogue import load_catalogue
from mlscan.rulekit import all_rules, run_example

CASES = [pytest.param(rule, i, ex, id=f"{rule.id}-{i}") for rule in all_rules() for i, ex in enumerate(rule.examples)]


@pytest.mark.parametrize("rule,i,example", CASES)
def test_rule_example(rule, i, example, tmp_path):
    status, own = run_example(rule, example, tmp_path)
    assert status == example.expect, f"{rule.id} example {i} ({example.note}): got {status}, findings {own}"
    if example.fires is not None:
        assert bool(own) == example.fires, f"{rule.id} example {i}: fires={bool(own)}: {own}"
    for f in own:
        assert f.rule == rule.id
        if f.kind in ("supports", "partial", "gap"):
            assert f.path in example.files or any(c.get(f.path) for c in example.commits) or f.path == ".", f
            assert f.line is None or f.line >= 1
            text = example.files.get(f.path)
            if isinstance(text, str) and f.line and not f.path.endswith(".ipynb") \
                    and not any(f.path in c for c in example.commits):
                assert f.line <= text.count("\n") + 1, f"{rule.id} example {i}: {f.path}:{f.line} is past the file's end"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_is_documented_and_has_examples(rule):
    assert rule.__doc__ and rule.title(), f"{rule.id} needs a docstring whose first line is its title"
    assert rule.practice in load_catalogue().practice_ids, f"{rule.id}: unknown practice {rule.practice}"
    assert rule.id == rule.id.lower() and " " not in rule.id
    expects = {ex.expect for ex in rule.examples}
    assert len(rule.examples) >= 2 and len(expects) >= 2, f"{rule.id} needs a passing and a failing example"
