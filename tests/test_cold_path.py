"""The cold path's scheduling: work done while workers run must still be done, once, and change
nothing (facts kept for later reach the cache on disk; every rule is handed out exactly once)."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from gitrepo import run_mlscan
from mlscan.engine import COSTLY_RULES, _handout_order
from mlscan.facts.cache import FILE_NAME, FactStore
from mlscan.facts.indexing import PARALLEL_MIN_BYTES, index_all, share_out
from mlscan.rulekit import all_rules
from test_cache import FILLER, big_repo


def _rows(db: Path, kind: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM facts WHERE kind = ?", (kind,)).fetchone()[0]


def test_facts_put_for_later_reach_the_disk_only_when_flushed(tmp_path):
    store = FactStore(tmp_path / FILE_NAME)
    store.put_encoded("code", [("a:x.py", ("value", 1), None), ("b:y.py", ("other", 2), None)], later=True)
    assert store.get_many("code", ["a:x.py"]) == {"a:x.py": ("value", 1)}   # in memory at once
    assert _rows(tmp_path / FILE_NAME, "code") == 0
    store.flush()
    assert _rows(tmp_path / FILE_NAME, "code") == 2
    fresh = FactStore(tmp_path / FILE_NAME)   # another process reads them back decoded
    assert fresh.get_many("code", ["a:x.py", "b:y.py"]) == {"a:x.py": ("value", 1), "b:y.py": ("other", 2)}


def test_a_cold_parallel_scan_writes_every_code_file_to_the_cache(tmp_path):
    repo = big_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    rc, out, err = run_mlscan(["scan", repo.root, "--format", "json", "--cache-dir", str(cache), "--jobs", "2"])
    assert rc == 0, err[-1500:]
    code_files = [p for p in repo.root.rglob("*") if p.suffix in (".py", ".ipynb") and ".git" not in p.parts]
    assert _rows(cache / FILE_NAME, "code") == len(code_files)
    assert _rows(cache / FILE_NAME, "graph") == len(code_files)


def test_index_workers_leave_this_process_time_for_other_tasks_and_the_same_result(tmp_path):
    items = [(f"pkg/m{i:03d}.py", FILLER.encode()) for i in range(PARALLEL_MIN_BYTES // len(FILLER) + 2)]
    ran = []
    parallel = index_all(items, 2, encode=True, meanwhile=[lambda k=k: ran.append(k) for k in range(3)])
    alone = index_all(items, 1, encode=True, meanwhile=[lambda: ran.append("never")])
    assert ran and ran == list(range(len(ran)))   # in order; never in the one-process path
    assert [r[0][0] for r in parallel] == [r[0][0] for r in alone]
    assert [r[0][0].path for r in parallel] == sorted(path for path, _ in items)


def test_rules_are_handed_out_costly_first_each_once():
    rules = all_rules()
    order = _handout_order(rules)
    assert sorted(order) == list(range(len(rules)))
    ids = [rules[i].id for i in order]
    costly = [rule_id for rule_id in COSTLY_RULES if rule_id in {r.id for r in rules}]
    assert costly and ids[:len(costly)] == costly
    rest = [r.id for r in rules if r.id not in COSTLY_RULES]
    assert ids[len(costly):] == rest   # the others keep their order


def _slowly_in_worker(chunk):
    time.sleep(0.2)
    return ("worker", [x * x for x in chunk])


def _dies(chunk):
    os._exit(3)   # the worker process is gone: its pool breaks


def test_share_out_gives_each_chunk_once_in_order_and_this_process_takes_a_share():
    chunks = [[k, k + 1] for k in range(0, 20, 2)]
    taken = []

    def here(chunk):
        taken.append(chunk[0])
        return ("here", [x * x for x in chunk])

    got = share_out(chunks, _slowly_in_worker, here, jobs=2)
    assert [squares for _, squares in got] == [[x * x for x in c] for c in chunks]
    assert {who for who, _ in got} == {"worker", "here"}   # neither side idled
    assert len(taken) == len(set(taken)) == sum(who == "here" for who, _ in got)
    assert taken == sorted(taken, reverse=True)   # this process takes from the back


def test_share_out_does_what_is_left_here_when_a_worker_dies():
    chunks = [[k] for k in range(6)]
    assert share_out(chunks, _dies, lambda c: [c[0] + 100], jobs=2) == [[k + 100] for k in range(6)]
