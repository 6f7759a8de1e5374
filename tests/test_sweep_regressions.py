"""Regressions found by the crash-free sweep of public ML repos (benchmarks/sweep.py): each test
builds the smallest repo that showed the problem and runs the real CLI on it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from gitrepo import GitRepo, run_mlscan


def scan_repo(root: Path, files: Dict[str, object]) -> dict:
    repo = GitRepo.init(root)
    for rel, text in files.items():
        repo.write(rel, text)
    repo.commit("init")
    rc, out, err = run_mlscan(["scan", str(root), "--format", "json", "--no-progress"])
    assert rc == 0, err
    return json.loads(out)


def practice(report: dict, practice_id: str) -> dict:
    return next(p for p in report["practices"] if p["id"] == practice_id)


def test_a_seed_given_positionally_to_a_library_helper_is_evidence_not_a_rule_failure(tmp_path):
    # sklearn.utils.check_random_state(0) seeds through its first argument (seen in darts, sktime).
    report = scan_repo(tmp_path / "repo", {"train.py": (
        "from sklearn.utils import check_random_state\nfrom sklearn.linear_model import LogisticRegression\n\n"
        "rng = check_random_state(0)\nX = rng.rand(10, 2)\nLogisticRegression().fit(X, X[:, 0] > 0.5)\n")})
    assert not [d for d in report["diagnostics"] if "failed" in d["message"]], report["diagnostics"]
    seed = practice(report, "seed-control")
    assert seed["status"] == "present"
    assert any("check_random_state seeds a library RNG" in e["message"] for e in seed["evidence"])


def notebook(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": cell.splitlines(keepends=True)} for cell in cells]})


def test_notebook_cells_are_read_the_way_ipython_runs_them(tmp_path):
    # A shell escape continued with a backslash, and a cell whose first line is indented (IPython
    # takes the indent off), gave "unexpected indent" on 80+ cells of seldon-core and sagemaker examples.
    report = scan_repo(tmp_path / "repo", {"train.ipynb": notebook(
        "!curl -v http://localhost:8080/infer \\\n    -d '{\"inputs\": [1, 2]}'\n",
        "  import numpy as np\n  np.random.seed(0)\n",
        "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit([[0], [1]], [0, 1])\n")})
    assert report["diagnostics"] == []
    seed = practice(report, "seed-control")
    assert seed["status"] == "present"
    assert [(e["path"], e["line"]) for e in seed["evidence"]] == [("train.ipynb", 5)]


def test_yaml_with_application_tags_is_read_not_reported_broken(tmp_path):
    # CloudFormation/SAM templates (sagemaker examples) and `!!python/tuple` dumps were "invalid YAML".
    report = scan_repo(tmp_path / "repo", {
        "template.yaml": "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
                         "    Properties:\n      BucketName: !Sub '${AWS::StackName}-data'\n"
                         "      Tags: !If [IsProd, !Ref ProdTags, []]\n",
        "configs/train.yaml": "image_size: !!python/tuple [224, 224]\nlr: 0.1\n",
        "train.py": "import yaml\ncfg = yaml.safe_load(open('configs/train.yaml'))\n"})
    assert report["diagnostics"] == []


def test_a_utf16_requirements_file_is_read_like_pip_reads_it(tmp_path):
    # `pip freeze > requirements.txt` in Windows PowerShell writes UTF-16 with a BOM (raminmohammadi/MLOps).
    report = scan_repo(tmp_path / "repo", {
        "requirements.txt": "scikit-learn==1.5.1\r\nstreamlit==1.36.0\r\n".encode("utf-16"),
        "app.py": "import streamlit as st\nst.write('hi')\n"})
    assert report["diagnostics"] == []
    pins = practice(report, "dependency-pinning")
    assert pins["status"] == "present", pins
    assert any(e["path"] == "requirements.txt" for e in pins["evidence"])


def test_large_yaml_manifests_are_left_out_of_config_reading_with_one_diagnostic(tmp_path):
    # kserve keeps 44 MB of rendered install manifests in 56 YAML files; loading them all took the
    # scan past 60 s. Big YAML is generated, not edited: it is counted, not parsed.
    crd = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value-{i}\n"
                  for i in range(4000))
    report = scan_repo(tmp_path / "repo", {
        "install/v1/kserve.yaml": crd + "broken: [\n",
        "config/small.yaml": "broken: [\n",
        "train.py": "import numpy as np\nnp.random.seed(0)\n"})
    messages = {d["path"]: d["message"] for d in report["diagnostics"]}
    assert messages["."].startswith("1 YAML file(s) over 256 KiB not read as configs")
    assert "install/v1/kserve.yaml" in messages["."]
    assert "install/v1/kserve.yaml" not in messages
    assert messages["config/small.yaml"].startswith("invalid YAML")


def test_a_helm_template_is_reported_as_templated_not_as_broken_yaml(tmp_path):
    report = scan_repo(tmp_path / "repo", {
        "charts/svc/Chart.yaml": "apiVersion: v2\nname: svc\nversion: 0.1.0\n",
        "charts/svc/templates/deployment.yaml": "{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: Deployment\n"
                                                "spec:\n  resources:\n    {{- toYaml .Values.resources | nindent 4 }}\n"
                                                "{{- end }}\n",
        "config/broken.yaml": "a: [\n"})
    messages = {d["path"]: d["message"] for d in report["diagnostics"]}
    assert messages == {"charts/svc/templates/deployment.yaml": "templated YAML ({{ }} or {% %} placeholders); not parsed",
                        "config/broken.yaml": "invalid YAML at line 2: did not find expected node content"}


def test_python_312_type_syntax_is_not_called_a_syntax_error(tmp_path):
    # shap and others use PEP 695 `type X = ...`; on an older Python it read as "invalid syntax".
    import sys
    report = scan_repo(tmp_path / "repo", {"shapes.py": "import numpy as np\n\ntype ArrayLike = np.ndarray | list\n"})
    if sys.version_info >= (3, 12):
        assert report["diagnostics"] == []
    else:
        assert [d["message"] for d in report["diagnostics"]] == [
            f"uses type-parameter syntax of Python 3.12+ that Python {sys.version_info[0]}.{sys.version_info[1]} "
            "(running mlscan) cannot parse; not analysed (line 3)"]


def test_python_312_fstrings_cost_only_their_lines(tmp_path):
    # An f-string that reuses its quote inside {...} (PEP 701) is Python 3.12+; on an older Python the
    # whole training script read as a syntax error and its training, seeds and tracking were lost.
    import sys
    report = scan_repo(tmp_path / "repo", {"train.py": (
        "import numpy as np\nfrom sklearn.ensemble import RandomForestClassifier\n\nnp.random.seed(0)\n"
        "clf = RandomForestClassifier(random_state=0)\nclf.fit([[0], [1]], [0, 1])\n"
        "print(f\"saved to {'/'.join([\"models\", \"m.pkl\"])}\")\n"
        "print(f\"{dict(a=1)[\"a\"]}\",\n      f\"{'x'}\")\n")})
    seed = next(p for p in report["practices"] if p["id"] == "seed-control")
    assert seed["status"] == "present"
    if sys.version_info >= (3, 12):
        assert report["diagnostics"] == []
    else:
        assert [d["message"] for d in report["diagnostics"]] == [
            f"f-strings of Python 3.12+ on line(s) 7, 8, which Python {sys.version_info[0]}.{sys.version_info[1]} "
            "(running mlscan) cannot parse, were read with their inner quotes swapped (or left out)"]


def test_an_fstring_error_of_every_python_is_a_syntax_error_not_newer_syntax(tmp_path):
    # sagemaker examples: `f"s3://{bucket}/{}-outputdir/"` (an empty expression, rejected by every
    # Python) was reported as "f-strings of Python 3.12+": any "f-string: ..." error was taken for
    # PEP 701 syntax, since blanking the line made the file parse.
    train = ("import numpy as np\nfrom sklearn.ensemble import RandomForestClassifier\n\nnp.random.seed(0)\n"
             "clf = RandomForestClassifier(random_state=0)\nclf.fit([[0], [1]], [0, 1])\n"
             "out = f\"s3://{np.__name__}/{}-outputdir/\"\n")
    report = scan_repo(tmp_path / "repo", {"train.py": train, "explore.ipynb": notebook("import numpy as np",
                                                                                         "print(f'{x}}')\n")})
    seed = practice(report, "seed-control")
    assert seed["status"] == "present"
    messages = {d["path"]: d["message"] for d in report["diagnostics"]}
    assert "3.12" not in str(messages), messages
    assert messages["train.py"].startswith("syntax error (line 7): f-string")
    assert messages["train.py"].endswith("line 7 skipped, the rest analysed")
    assert messages["explore.ipynb"].startswith("1 code cell(s) could not be parsed (syntax error (line 3): f-string")


def test_a_here_document_in_a_shell_script_is_data_not_commands(tmp_path):
    # kserve's install scripts embed 1.7 MB of manifests in here-documents; every manifest line was
    # taken for a shell command and the scan ran past 60 s. Commands after the body still count.
    repo = GitRepo.init(tmp_path / "repo")
    repo.write("train.py", "print('train')\n")
    repo.write("evaluate.py", "print('evaluate')\n")
    repo.write("run.sh", "#!/bin/sh\ncat <<'EOF' > notes.txt\npython train.py\nEOF\n"
                         "kubectl apply -f - <<-MANIFEST\n\tkind: Job\n\tMANIFEST\npython evaluate.py\n")
    repo.commit("init")
    rc, out, err = run_mlscan(["graph", str(repo.root), "--format", "json"])
    assert rc == 0, err
    entries = {(n.get("path"), n.get("label")) for n in json.loads(out)["nodes"] if n.get("kind") == "entry-point"}
    labels = " ".join(str(label) for _, label in entries)
    assert "evaluate.py" in labels
    assert "train.py" not in labels, entries


def test_a_magic_inside_a_block_keeps_the_block_and_r_notebooks_are_not_read_as_python(tmp_path):
    # `if local:\n    %pip install x` was "expected an indented block" in many sagemaker and tfx
    # notebooks; R-kernel notebooks gave dozens of "invalid decimal literal" cells each.
    r_notebook = json.loads(notebook("x <- 1e-3L\nprint(x)\n"))
    r_notebook["metadata"] = {"kernelspec": {"display_name": "R", "language": "R", "name": "ir"}}
    report = scan_repo(tmp_path / "repo", {
        "train.ipynb": notebook("local = True\nif local:\n    %pip install -q torch\n    !nvidia-smi\n",
                                "import torch\ntorch.manual_seed(0)\n"),
        "analysis.ipynb": json.dumps(r_notebook)})
    assert report["diagnostics"] == [{"path": "analysis.ipynb", "message": "notebook kernel language is R, not Python; not analysed"}]
    seed = practice(report, "seed-control")
    assert [(e["path"], e["line"]) for e in seed["evidence"]] == [("train.ipynb", 7)]


def test_automagic_and_assigned_magics_do_not_fail_their_cell(tmp_path):
    # `pip install x` without the % (IPython automagic) and `home = %env HOME` failed whole cells in
    # tfx, autogluon and sagemaker notebooks.
    report = scan_repo(tmp_path / "repo", {"train.ipynb": notebook(
        "pip install -q torch==2.3.0\nhome = %env HOME\n",
        "for i in range(2):\n    %time print(i)\n",
        "import torch\ntorch.manual_seed(0)\n")})
    assert report["diagnostics"] == []
    seed = practice(report, "seed-control")
    assert [(e["path"], e["line"]) for e in seed["evidence"]] == [("train.ipynb", 8)]


def test_json_with_comments_is_named_as_such_not_invalid_json(tmp_path):
    # devcontainer.json and tsconfig.json allow comments (BentoML, accelerate, recommenders, evidently).
    report = scan_repo(tmp_path / "repo", {
        ".devcontainer/devcontainer.json": '// created by VS Code\n{"name": "dev", "image": "python:3.11"}\n',
        "config/bad.json": '{"a": 1,}\n'})
    assert {d["path"]: d["message"] for d in report["diagnostics"]} == {
        ".devcontainer/devcontainer.json": "JSON with comments (JSONC); not parsed",
        "config/bad.json": "invalid JSON at line 1: Expecting property name enclosed in double quotes"}
