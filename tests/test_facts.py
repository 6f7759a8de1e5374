"""Unit tests of the facts room: name resolution, notebooks, configs, commands, inventory, graph."""
from __future__ import annotations

import json
import sys
import os
import subprocess
from pathlib import Path

import pytest

from mlscan.facts.configs import command_targets, parse_dockerfile, parse_requirements, parse_yaml
from mlscan.facts.notebooks import index_notebook
from mlscan.facts.pycode import NOT_LITERAL, index_source
from mlscan.facts.repo import Facts, ScanOptions, is_test_path


def names(src: str, path: str = "pkg/mod.py"):
    return [c.name for c in index_source(path, src).calls]


# ---- name resolution --------------------------------------------------------------------------
@pytest.mark.parametrize("src,expected", [
    ("import numpy as np\nnp.random.seed(0)\n", "numpy.random.seed"),
    ("from numpy import random as npr\nnpr.seed(0)\n", "numpy.random.seed"),
    ("import torch.cuda\ntorch.cuda.manual_seed_all(1)\n", "torch.cuda.manual_seed_all"),
    ("from fastapi import FastAPI\napp = FastAPI()\n@app.post('/p')\ndef f(): pass\n", "fastapi.FastAPI().post"),
    ("import logging\nlog = logging.getLogger('x')\nlog.info('hi')\n", "logging.getLogger().info"),
])
def test_aliases_resolve_to_qualified_names(src, expected):
    assert expected in names(src)


def test_comment_mentioning_a_call_is_not_a_call():
    assert names("# np.random.seed(0)\nimport numpy as np\nx = 'np.random.seed(1)'\n") == []


def test_local_binding_shadows_import():
    src = "import random\n\ndef f():\n    random = Rng()\n    random.seed(1)\n"
    got = names(src)
    assert "random.seed" not in got
    assert "pkg.mod.Rng().seed" in got or "Rng().seed" in got


def test_relative_import_resolves_against_package():
    ix = index_source("pkg/sub/train.py", "from ..utils import set_seeds\nset_seeds(3)\n")
    assert [c.name for c in ix.calls] == ["pkg.utils.set_seeds"]
    ix = index_source("pkg/__init__.py", "from .core import run\nrun()\n")
    assert [c.name for c in ix.calls] == ["pkg.core.run"]


def test_literal_arguments_and_keywords():
    ix = index_source("t.py", "from sklearn.model_selection import train_test_split as tts\n"
                              "tts(X, y, test_size=0.2, random_state=seed)\n")
    call = ix.calls[0]
    assert call.name == "sklearn.model_selection.train_test_split"
    assert call.kwarg("test_size") == 0.2
    assert call.kwarg("random_state") == NOT_LITERAL


def test_method_on_self_resolves_to_class_method():
    ix = index_source("m.py", "class T:\n    def a(self):\n        self.b()\n    def b(self): pass\n")
    assert "m.T().b" in [c.name for c in ix.calls]


def test_main_block_and_definitions():
    ix = index_source("s.py", "def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n")
    assert ix.main_line == 4
    assert "main" in ix.defs and ix.defs["main"].kind == "function"


def test_statements_under_a_module_level_argv_dispatch_count_as_top_level_work():
    dispatch = "import sys\nroot = '/data'\nif sys.argv[1] == 'run_all':\n    load()\n    fit()\nelse:\n    plot()\n"
    assert index_source("main.py", dispatch).top_level_statements == 5
    other = "import os\nroot = '/data'\nif os.environ.get('X'):\n    load()\n    fit()\n"
    assert index_source("main.py", other).top_level_statements == 2


def test_python2_and_syntax_errors_are_described():
    assert "Python 2" in index_source("a.py", "print 'hello'\n").error
    err = index_source("b.py", "def f(:\n  pass\n").error
    assert err.startswith("syntax error") and "line 1" in err


def test_one_unparsable_line_does_not_hide_the_file():
    # a Python 3.12 f-string (quotes reused inside) that Python 3.11 cannot parse: read with its quotes swapped
    src = ("import logging\nfrom sklearn.svm import SVC\n\nclf = SVC().fit([[0], [1]], [0, 1])\n"
           "logging.info(f\"saved to {'/'.join([\"models\", \"m.pkl\"])}\")\nlogging.info('done')\n")
    ix = index_source("train.py", src)
    names = [c.name for c in ix.calls]
    assert "sklearn.svm.SVC().fit" in names and names.count("logging.info") == 2
    if sys.version_info < (3, 12):
        assert ix.error.startswith("f-strings of Python 3.12+ on line(s) 5")
    # one stray line of another kind is left out, and the rest is analysed
    stray = index_source("t.py", "import logging\nfrom sklearn.svm import SVC\n$ not python\nSVC().fit([[0]], [0])\n"
                                 "logging.info('done')\n")
    assert [c.name for c in stray.calls if c.name.endswith(".fit")] == ["sklearn.svm.SVC().fit"]
    assert stray.error.startswith("syntax error (line 3)") and "the rest analysed" in stray.error
    broken = index_source("c.py", "x = (1,\n  2 +\n")
    assert broken.error.endswith("not analysed") and not broken.calls


def test_comparisons_record_quality_gates():
    ix = index_source("e.py", "import sys\nif auc < 0.8:\n    sys.exit(1)\nassert metrics['f1'] > 0.5\n")
    ctx = {(c.context, c.literals) for c in ix.comparisons}
    assert ("if-fails", (0.8,)) in ctx and ("assert", (0.5,)) in ctx


def test_a_function_checks_when_it_asserts_raises_compares_or_asks_a_predicate():
    src = ("def check_a(df):\n    for c in df.columns:\n        print(c)\n\n"
           "def check_b(df, verbose):\n    if verbose:\n        df = df.dropna()\n    return df\n\n"
           "def check_c(df):\n    return df.isnull().any()\n\n"
           "def check_d(df):\n    def inner(x):\n        assert x > 0\n    inner(df)\n\n"
           "def check_e(df):\n    return validate_schema(df)\n")
    checks = {q: d.checks for q, d in index_source("c.py", src).defs.items()}
    assert checks == {"check_a": False, "check_b": False, "check_c": True, "check_d": True, "check_d.inner": True,
                      "check_e": True}


def test_a_line_opening_with_a_code_span_is_not_a_fence():
    from mlscan.facts.docs import parse_document
    doc = parse_document("README.md", "# P\n\n| Column | Description |\n|---|---|\n```data```| the data folder\n\n"
                                      "## Results\n\nThe model's accuracy is 23%.\n\n```bash\n# not a heading\n```\n")
    assert [s.title for s in doc.headings] == ["P", "Results"]


# ---- notebooks --------------------------------------------------------------------------------
def _nb(*cells):
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": t, "metadata": {}, "source": src, **({"outputs": []} if t == "code" else {})}
                                 for t, src in cells]})


def test_notebook_code_cells_are_indexed_and_magics_blanked():
    nb = _nb(("markdown", "# np.random.seed(0) in prose"),
             ("code", "%matplotlib inline\n!pip install torch\nimport numpy as np\n"),
             ("code", ["np.random.seed(42)\n", "x = np.random.rand(3)\n"]))
    ix = index_notebook("nb.ipynb", nb)
    assert ix.error is None
    seed = [c for c in ix.calls if c.name == "numpy.random.seed"]
    assert len(seed) == 1 and ix.cell_of(seed[0].line) == 2
    assert any("pip install" in s for s, _ in ix.shell_lines)


def test_one_broken_cell_does_not_hide_the_others():
    ix = index_notebook("nb.ipynb", _nb(("code", "def broken(:\n"), ("code", "import random\nrandom.seed(1)\n")))
    assert "random.seed" in [c.name for c in ix.calls]
    assert ix.error and "could not be parsed" in ix.error


def test_a_comment_ending_in_a_question_mark_is_code_and_help_lines_are_not():
    ix = index_notebook("nb.ipynb", _nb(("code", "import gradio as gr\ndemo = gr.Interface(fn=str,  # the inputs?\n"
                                                 "                    inputs='text', outputs='text')\n"),
                                        ("code", "np.random.seed??\nimport random\nrandom.seed(1)\n")))
    assert ix.error is None
    assert {"gradio.Interface", "random.seed"} <= {c.name for c in ix.calls}


def test_broken_notebook_json_is_an_error_not_a_crash():
    assert "not valid JSON" in index_notebook("nb.ipynb", "{not json").error


# ---- configs and commands ---------------------------------------------------------------------
def test_requirements_pins_ranges_hashes_and_continuations():
    reqs = {r.name: r for r in parse_requirements("requirements.txt", "\n".join([
        "numpy==1.26.4", "pandas>=2", "torch", "scikit-learn==1.5.* ; python_version > '3.8'",
        "requests==2.32.3 \\", "    --hash=sha256:abc", "-r dev.txt", "# comment", "git+https://x/y@0123abcd#egg=thing"]))}
    assert reqs["numpy"].pinned and not reqs["pandas"].pinned and not reqs["torch"].pinned
    assert not reqs["scikit-learn"].pinned  # a wildcard is a range
    assert reqs["requests"].pinned and reqs["requests"].line == 5
    assert reqs["thing"].pinned


def test_yaml_errors_carry_a_line():
    doc = parse_yaml("p.yaml", "a: [1, 2\nb: 3\n")
    assert doc.docs == [] and "invalid YAML" in doc.error and "line" in doc.error
    assert len(parse_yaml("m.yaml", "a: 1\n---\nb: 2\n").docs) == 2


@pytest.mark.parametrize("cmd,kind,target", [
    ("python -m src.train --epochs 3", "module", "src.train"),
    ("cd app && uvicorn serve.app:app --port 80", "app", "serve.app:app"),
    ("torchrun --nproc_per_node=2 train.py", "script", "train.py"),
    ("pip install -r requirements.txt && pytest -q", "tests", "-q"),
    ("accelerate launch scripts/finetune.py --lr 1e-4", "script", "scripts/finetune.py"),
])
def test_command_targets(cmd, kind, target):
    assert any(t.kind == kind and t.target == target for t in command_targets(cmd))


def test_dockerfile_exec_form_and_continuations():
    ins = parse_dockerfile('FROM python:3.11\nRUN pip install \\\n  fastapi==0.1\nCMD ["uvicorn", "app:app"]\n')
    assert [i.keyword for i in ins] == ["FROM", "RUN", "CMD"]
    assert ins[2].command() == "uvicorn app:app" and ins[1].line == 2


# ---- inventory and safety ---------------------------------------------------------------------
def test_bad_files_become_diagnostics(tmp_path: Path):
    (tmp_path / "ok.py").write_text("import random\nrandom.seed(1)\n")
    (tmp_path / "latin.py").write_bytes("# café\nx = 'é'\n".encode("latin-1"))
    (tmp_path / "bin.py").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("secret = 1\n")
    (tmp_path / "out.py").symlink_to(outside)
    facts = Facts(tmp_path, ScanOptions(jobs=1))
    _ = facts.code
    diags = {d.path: d.message for d in facts.diagnostics}
    assert "UTF-8" in diags["latin.py"]
    assert "binary" in diags["bin.py"]
    assert "outside" in diags["out.py"]
    assert "loop" in diags["loop"] or "broken" in diags["loop"]
    assert "out.py" not in facts.code and "ok.py" in facts.code


def test_gitignore_and_virtualenvs_are_skipped_without_git(tmp_path: Path):
    (tmp_path / ".gitignore").write_text("secret/\n*.log\n")
    for rel in ("secret/a.py", "x.log", ".venv/lib/site.py", "node_modules/m.py", "src/a.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    (tmp_path / "env2").mkdir()
    (tmp_path / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "env2" / "b.py").write_text("x = 1\n")
    paths = {f.path for f in Facts(tmp_path).files}
    assert "src/a.py" in paths
    assert not {"secret/a.py", "x.log", ".venv/lib/site.py", "node_modules/m.py", "env2/b.py"} & paths


def test_is_test_path():
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/x_test.py") and is_test_path("conftest.py")
    assert not is_test_path("src/train.py")


# ---- git history ------------------------------------------------------------------------------
def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def test_history_is_read_and_bounded(tmp_path: Path):
    _git(tmp_path, "init", "-q")
    for i in range(5):
        (tmp_path / f"f{i}.py").write_text(f"x = {i}\n")
        _git(tmp_path, "add", "-A")
        _git(tmp_path, "commit", "-qm", f"c{i}")
    hist = Facts(tmp_path, ScanOptions(history_depth=3)).history
    assert hist.available and len(hist.commits) == 3 and hist.truncated
    assert hist.commits[0].changes[0].path == "f4.py"
    assert Facts(tmp_path, ScanOptions(history_depth=3)).history.head == hist.head


def test_no_git_means_no_history(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    hist = Facts(tmp_path).history
    assert not hist.available and hist.head is None


# ---- graph ------------------------------------------------------------------------------------
def test_calls_are_followed_across_files(tmp_path: Path):
    (tmp_path / "utils.py").write_text("import numpy as np\n\ndef set_seeds(s):\n    np.random.seed(s)\n")
    (tmp_path / "train.py").write_text("from utils import set_seeds\nfrom sklearn.svm import SVC\n\n"
                                       "def main():\n    set_seeds(0)\n    SVC().fit([[0]], [0])\n\n"
                                       "if __name__ == '__main__':\n    main()\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert [ep.path for ep in graph.training_entry_points] == ["train.py"]
    reached = {c.name for _, c in graph.calls_in(graph.training_closure)}
    assert "numpy.random.seed" in reached


def test_names_resolve_through_star_reexports(tmp_path: Path):
    """`from src.utils import get_config` where src/utils/__init__.py does `from src.utils.config import *`."""
    (tmp_path / "src/utils").mkdir(parents=True)
    (tmp_path / "src/__init__.py").write_text("")
    (tmp_path / "src/utils/__init__.py").write_text("from src.utils.config import *\nfrom src.utils.timer import *\n")
    (tmp_path / "src/utils/config.py").write_text("from omegaconf import OmegaConf\n\n\ndef get_config(name):\n"
                                                  "    return OmegaConf.load(f'config/{name}.yaml')\n")
    (tmp_path / "src/utils/timer.py").write_text("import time\n\n\ndef now():\n    return time.time()\n")
    (tmp_path / "src/main.py").write_text("from src.utils import get_config\n\nconfig = get_config('exp')\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert graph.resolve_name("src/main.py", "src.utils.get_config") == "def:src/utils/config.py:get_config"
    assert graph.resolve_name("src/main.py", "src.utils.missing") is None


def test_star_imports_that_name_their_own_module_do_not_blow_up(tmp_path: Path):
    """A vendored `transformers__init__.py` star-imports `<itself>.utils.dummy_*`: names must not grow
    through it without end (one level of star imports is followed)."""
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok/__init__.py").write_text("")
    (tmp_path / "tok/big_init.py").write_text("".join(f"from tok.big_init.utils.dummy_{i} import *\n" for i in range(12)))
    (tmp_path / "train.py").write_text("import tok.big_init\n\ntok.big_init.thing.other.more()\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert graph.resolve_name("train.py", "tok.big_init.thing.other.more") is None


def _graph_shape(graph):
    return (list(graph.g.nodes(data=True)), list(graph.g.edges(data=True)),
            [(ep.kind, ep.path, ep.line, ep.target) for ep in graph.entry_points],
            sorted(graph.training_closure), [(i.path, c.line) for i, c in graph.calls_in(graph.training_closure)])


def test_graph_pieces_from_the_cache_follow_changed_reexports(tmp_path: Path):
    """Each file's share of the graph is cached; a file whose names resolved through a module
    that changed is rebuilt, the others are reused, and the graph is the one a fresh build makes."""
    from mlscan.facts import graph as graph_module
    repo, cache = tmp_path / "repo", str(tmp_path / "cache")
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg/__init__.py").write_text("from pkg.core import fit_model\n")
    (repo / "pkg/core.py").write_text("def fit_model(x):\n    return x.fit()\n")
    (repo / "pkg/loop_a.py").write_text("from pkg.loop_b import thing\n")   # re-exports in a loop
    (repo / "pkg/loop_b.py").write_text("from pkg.loop_a import thing\n")
    (repo / "train.py").write_text("import pkg\nfrom pkg.loop_a import thing\n\n"
                                   "def main():\n    pkg.fit_model(1)\n    thing()\n\n"
                                   "if __name__ == '__main__':\n    main()\n")
    built = []
    real = graph_module.CodeGraph._file_piece

    def counting(self, path, idx):
        built.append(path)
        return real(self, path, idx)

    graph_module.CodeGraph._file_piece = counting
    try:
        def graph(cache_dir):
            built.clear()
            return Facts(repo, ScanOptions(jobs=1, cache_dir=cache_dir)).graph

        first = graph(cache)
        assert len(built) == 5
        assert first.resolve_name("train.py", "pkg.fit_model") == "def:pkg/core.py:fit_model"
        assert first.resolve_name("train.py", "pkg.loop_a.thing") is None
        assert _graph_shape(graph(cache)) == _graph_shape(first) and built == []
        # a body changes, its definitions do not: only that file is rebuilt
        (repo / "pkg/core.py").write_text("def fit_model(x):\n    return x\n")
        warm = graph(cache)
        assert built == ["pkg/core.py"]
        assert _graph_shape(warm) == _graph_shape(graph("off"))
        # the definition goes: the files whose names resolved through core.py are rebuilt with it
        (repo / "pkg/core.py").write_text("class Other:\n    pass\n")
        warm = graph(cache)
        assert sorted(built) == ["pkg/__init__.py", "pkg/core.py", "train.py"]
        assert warm.resolve_name("train.py", "pkg.fit_model") is None
        assert _graph_shape(warm) == _graph_shape(graph("off"))
        # a new module changes the module tables: every piece is rebuilt
        (repo / "pkg/extra.py").write_text("VALUE = 1\n")
        warm = graph(cache)
        assert len(built) == 6
        assert _graph_shape(warm) == _graph_shape(graph("off"))
    finally:
        graph_module.CodeGraph._file_piece = real


def test_top_level_script_and_ci_entry_points(tmp_path: Path):
    (tmp_path / "train.py").write_text("import torch\nm = torch.nn.Linear(1, 1)\nloss = m(torch.zeros(1)).sum()\nloss.backward()\n")
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").write_text("on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n"
                                                      "      - run: python train.py\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    kinds = {(ep.kind, ep.path) for ep in graph.entry_points}
    assert ("script", "train.py") in kinds and ("ci", ".github/workflows/ci.yml") in kinds


def test_ci_steps_with_the_same_text_get_their_own_lines(tmp_path: Path):
    wf = tmp_path / ".github/workflows/t.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text("on: push\njobs:\n  linux:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n"
                  "  mac:\n    runs-on: macos-latest\n    steps:\n      - run: pytest\n")
    jobs = {j.name: j for j in Facts(tmp_path).ci_jobs}
    assert (jobs["linux"].line, jobs["linux"].steps[0].line) == (3, 6)
    assert (jobs["mac"].line, jobs["mac"].steps[0].line) == (7, 10)


def test_comparison_operands_are_always_strings():
    ix = index_source("g.py", "assert loss < base / 1.03\nif f(x)[0] > y.z:\n    raise SystemExit\n")
    assert all(isinstance(o, str) for c in ix.comparisons for o in c.operands)


def test_pipeline_framework_nodes_are_entry_points(tmp_path: Path):
    (tmp_path / "nodes.py").write_text("from sklearn.svm import SVC\n\ndef train_model(X, y):\n    return SVC().fit(X, y)\n")
    (tmp_path / "pipeline.py").write_text("from kedro.pipeline import Pipeline, node\nfrom nodes import train_model\n\n"
                                          "def create_pipeline():\n"
                                          "    return Pipeline([node(train_model, ['X', 'y'], 'model')])\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert [(ep.kind, ep.target) for ep in graph.training_entry_points] == [("pipeline", "def:nodes.py:train_model")]


def test_committed_files_missing_from_the_work_tree_are_listed_with_their_size(tmp_path):
    # A partial clone leaves large blobs out (and a user may delete data locally): git still lists
    # the files, and they are still committed. Known blobs give their size, missing blobs None.
    from gitrepo import GitRepo
    repo = GitRepo.init(tmp_path / "repo")
    repo.write("train.py", "print(1)\n")
    repo.write("data/raw/sales.csv", "a,b\n" + "1,2\n" * 3000)
    repo.write("data/raw/big.xlsx", "x" * 5000)
    repo.write("notes.md", "gone\n")
    repo.commit("init")
    blob = repo.git("ls-files", "-s", "data/raw/big.xlsx").split()[1]
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()   # as a partial clone would lack it
    for rel in ("data/raw/sales.csv", "data/raw/big.xlsx", "notes.md"):
        (repo.root / rel).unlink()
    facts = Facts(repo.root, ScanOptions(cache_dir="off"))
    assert [f.path for f in facts.files] == ["train.py"]
    assert facts.absent_tracked((".csv", ".xlsx")) == {"data/raw/big.xlsx": None, "data/raw/sales.csv": 12004}


def _trainer_by_name(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/trainers.py").write_text(
        "import torch\n\n\nclass Trainer:\n    def training_step(self, model, batch):\n"
        "        loss = model(batch).mean()\n        loss.backward()\n\n\n"
        "if __name__ == '__main__':\n    Trainer()\n")
    (tmp_path / "run.py").write_text(
        "import random\nimport hydra\nfrom hydra.utils import instantiate\nfrom pkg.trainers import Trainer\n\n\n"
        "@hydra.main(config_name='config')\ndef run(cfg):\n    random.seed(cfg.seed)\n"
        "    learner = instantiate(cfg.learner, trainers=[Trainer()])\n    learner.train()\n\n\n"
        "if __name__ == '__main__':\n    run()\n")


def test_training_dispatched_by_name_is_found_through_the_trainer_class(tmp_path: Path):
    _trainer_by_name(tmp_path)
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    # the library module's demo main block is not the training script when run.py runs the trainer
    assert [ep.path for ep in graph.training_entry_points] == ["run.py"]
    assert "def:pkg/trainers.py:Trainer.training_step" in graph.training_closure


def test_dispatch_is_a_fallback_only(tmp_path: Path):
    _trainer_by_name(tmp_path)
    (tmp_path / "train.py").write_text("from sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                                       "    SVC().fit([[0]], [0])\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert [ep.path for ep in graph.training_entry_points] == ["train.py"]


def test_fire_cli_reaches_its_training_command_only(tmp_path: Path):
    (tmp_path / "lib.py").write_text(
        "import random\nimport tensorflow as tf\n\n\ndef run_training(model_fn):\n"
        "    tf.estimator.Estimator(model_fn=model_fn).train(input_fn=None)\n\n\n"
        "def evaluate():\n    random.seed(0)\n")
    (tmp_path / "run.py").write_text("import fire\nimport lib\n\n\ndef train(lr=1e-3):\n    lib.run_training(None)\n\n\n"
                                     "def evaluation():\n    lib.evaluate()\n\n\nif __name__ == '__main__':\n    fire.Fire()\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert [ep.path for ep in graph.training_entry_points] == ["run.py"]
    closure = graph.training_closure
    assert "def:lib.py:run_training" in closure and "def:lib.py:evaluate" not in closure


def test_stage_runner_beside_training_notebooks_is_the_training_script(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/__init__.py").write_text("")
    (tmp_path / "src/stages.py").write_text(
        "from sklearn.svm import SVC\n\n\nclass ModelTrainerPipeline:\n    def initiate_model_training(self):\n"
        "        SVC().fit([[0]], [0])\n\n\nclass EvaluationPipeline:\n    def initiate_model_evaluation(self):\n"
        "        pass\n")
    (tmp_path / "main.py").write_text("from src.stages import ModelTrainerPipeline, EvaluationPipeline\n\n"
                                      "obj = ModelTrainerPipeline()\nobj.initiate_model_training()\n"
                                      "obj = EvaluationPipeline()\nobj.initiate_model_evaluation()\n")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["from sklearn.svm import SVC\n", "SVC().fit([[0]], [0])\n"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "research").mkdir()
    (tmp_path / "research/trainer.ipynb").write_text(json.dumps(nb))
    graph = Facts(tmp_path, ScanOptions(jobs=1)).graph
    assert [ep.path for ep in graph.primary_training_entry_points] == ["main.py"]
    assert "def:src/stages.py:ModelTrainerPipeline.initiate_model_training" in graph.training_closure
    # a stage object's method not named for training is not followed on this path
    (tmp_path / "src/stages.py").write_text(
        "from sklearn.svm import SVC\n\n\nclass ModelTrainerPipeline:\n    def run(self):\n"
        "        SVC().fit([[0]], [0])\n")
    (tmp_path / "main.py").write_text("from src.stages import ModelTrainerPipeline\n\nobj = ModelTrainerPipeline()\n")
    graph = Facts(tmp_path, ScanOptions(jobs=1, cache_dir="off")).graph
    assert [ep.path for ep in graph.primary_training_entry_points] == ["research/trainer.ipynb"]


def test_readme_commands_continued_with_backslashes_are_one_command(tmp_path: Path):
    (tmp_path / "README.md").write_text("# Demo\n\n```bash\npython scripts/main.py fit \\\n  --model config/model.yaml \\\n"
                                        "  --data config/data.yaml\npip install -e .\n```\n", encoding="utf-8")
    commands = Facts(tmp_path, ScanOptions(jobs=1)).doc_commands
    assert ("README.md", 4, "python scripts/main.py fit --model config/model.yaml --data config/data.yaml") in commands
    assert ("README.md", 7, "pip install -e .") in commands
    assert len(commands) == 2


@pytest.mark.parametrize("spec, held", [
    ("~=1.4", True), ("==1.27.*", True), ("1.2.*", True), ("<1.4", True), ("<=4.55.4", True),
    ("^1.2", True), ("~1.2", True), (">=1.2 <1.3", True), (">=1,!=1.5.*,<1.9", True), ("^1.2 || ^2.0", True),
    (">=2.1,<3", False), ("<2.0.0", False), ("~2", False), (">=1.0", False), ("", False), ("*", False),
    ("!=1.2.*", False), ("^1.2 || >=3", False), ("< 2", False), (">= 1.2, < 1.3", True), ("<= 4.5", True),
    ("< 1.4", True), ("<{next_minor}", True),
])
def test_a_range_holds_a_release_line_only_when_every_alternative_caps_below_the_next_major(spec, held):
    from mlscan.facts.deps import upper_bounded
    assert upper_bounded(spec) is held
