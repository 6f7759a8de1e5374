"""A word list lives in one place: two rule modules that each keep a near copy of the same list drift apart
(one gets the fix, the other does not). Shared lists belong in rules/_vocab.py or a rule family's module."""
from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Dict, FrozenSet

RULES = Path(__file__).resolve().parents[1] / "rules"
SIMILAR = 0.7     # shared words over all words of the two lists
MIN_SHARED = 4


def word_lists(source: str) -> Dict[str, FrozenSet[str]]:
    """Module-level constants that are collections of four or more strings."""
    out = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("frozenset", "set", "tuple") and value.args:
            value = value.args[0]
        if isinstance(value, (ast.Set, ast.Tuple, ast.List)):
            words = frozenset(e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
            if len(words) >= MIN_SHARED:
                out[node.targets[0].id] = words
    return out


def near_copies(modules: Dict[str, str]):
    lists = {(module, name): words for module, source in modules.items() for name, words in word_lists(source).items()}
    for (a, x), (b, y) in itertools.combinations(sorted(lists.items()), 2):
        shared = x & y
        if a[0] != b[0] and len(shared) >= MIN_SHARED and len(shared) / len(x | y) >= SIMILAR:
            yield f"{a[0]}:{a[1]} and {b[0]}:{b[1]} share {sorted(shared)}"


def test_no_two_rule_modules_keep_near_copies_of_one_word_list():
    modules = {p.name: p.read_text(encoding="utf-8") for p in sorted(RULES.glob("*.py"))}
    assert list(near_copies(modules)) == []


def test_near_copies_are_found():
    modules = {
        "a.py": 'ENV_READS = {"os.getenv", "os.environ.get", "environs.Env", "decouple.config"}\n',
        "b.py": 'ENV = frozenset({"os.getenv", "os.environ.get", "environs.Env", "decouple.config", "dotenv.get_key"})\n'
                'OTHER = ("x", "y", "z", "w")\n',
    }
    assert list(near_copies(modules)) == [
        "a.py:ENV_READS and b.py:ENV share ['decouple.config', 'environs.Env', 'os.environ.get', 'os.getenv']"]
