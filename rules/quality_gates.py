from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._monitoring import test_runner_for
from mlscan.rules._ops import expand_make, step_texts
from mlscan.rules._vocab import IDENT_METRIC, METRIC_FRAGMENT, MODEL_LOAD_ATTRS, PREDICT_ATTRS

_W = r"(?:^|[^a-z0-9])"
_E = r"(?:[^a-z]|$)"
# names of thresholds and parameters: a metric operand named like this is a setting, not a result
PARAM = re.compile(r"(?i)thresh|threshold|min_|max_|minimum|maximum|tolerance|(^|_)tol($|_)|cutoff|limit|"
                   r"(^|_)(gate|floor|ceiling|budget|target|expected|required|sla|slo)($|_)|margin|weight|scale|"
                   r"alpha|beta|gamma|factor|ratio|coef|lambda|temperature|patience|epsilon|eps|smooth|decay|"
                   r"(^|_)(lr|n|num|k|idx|index|step|epoch|iter|batch|size|count|len|dim)($|_)")
# names of what a metric is held against
BASELINE = re.compile(r"(?i)thresh|threshold|min_|max_|minimum|maximum|tolerance|(^|_)tol($|_)|cutoff|limit|"
                      r"(^|_)(gate|floor|ceiling|budget|target|expected|required|sla|slo|bar)($|_)|baseline|champion|"
                      r"production|(^|_)prod($|_)|deployed|(^|_)(old|prev|previous|reference|ref|current_best)($|_)")
NOT_A_VALUE = re.compile(r"(?i)len\(|\.(shape|ndim|size|dtype|numel)\b|\bshape\b|isnan|isfinite|isinf|"
                         r"(^|_)(num|n|count|idx|index|step|epoch|iter|size|dim|id|ids|names?|keys?|type)($|_)")
EVAL_LOSS = re.compile(r"(?i)(val|valid|validation|test|eval|holdout|dev)[\w\[\]'\"]*loss|loss[\w\[\]'\"]*(val|valid|test|eval)")
ORDER = {"Gt": ">", "GtE": ">=", "Lt": "<", "LtE": "<="}
MLFLOW_THRESHOLDS = {"mlflow.models.MetricThreshold", "mlflow.models.evaluation.MetricThreshold",
                     "mlflow.validate_evaluation_results", "mlflow.models.evaluation.validation.MetricThreshold"}
TFMA_THRESHOLDS = ("tensorflow_model_analysis.MetricThreshold", "tensorflow_model_analysis.GenericValueThreshold",
                   "tensorflow_model_analysis.GenericChangeThreshold", "tensorflow_model_analysis.config.MetricThreshold",
                   "tensorflow_model_analysis.proto.config_pb2.MetricThreshold")
REPORT_CMD = re.compile(r"\bdvc\s+(metrics|exp|plots)\s+diff\b|\bcml[\s-](comment|send-comment|publish|pr)\b|"
                        r"\bcml\s+comment\s+(create|update)\b|\bmlflow\s+runs\s+compare\b")
COMMENT_ACTIONS = re.compile(r"(?i)^(thollander/actions-comment-pull-request|marocchino/sticky-pull-request-comment|"
                             r"peter-evans/create-or-update-comment|mshick/add-pr-comment|actions/github-script)")
INLINE_GATE = re.compile(rf"(?i)(\bassert\b[^\n]*{IDENT_METRIC.pattern[4:]}[^\n]*[<>]=?\s*[\d.]+|"
                         rf"\bjq\s+-e\b[^\n]*{METRIC_FRAGMENT.pattern[4:]}\w*[^\n]*[<>]=?\s*[\d.]+)")
FLAG = re.compile(r"--((?:fail[-_]?(?:under|below|if)|min|max|thresh(?:old)?)[-_][\w-]+|[\w-]+[-_]thresh(?:old)?)\b")
HARD_FLAG = re.compile(r"--(hard[-_]fail|fail[-_](under|below|if[-_]below))[= ]+[\d.]+")
def _metric_side(op: str) -> bool:
    if not IDENT_METRIC.search(op) or PARAM.search(op) or NOT_A_VALUE.search(op):
        return False
    if re.search(r"(?i)loss", op) and not EVAL_LOSS.search(op) and not re.search(r"(?i)auc|acc|f1|score|map|rmse", op):
        return False   # a training-loss guard (divergence check), not a model-quality gate
    return True




def gate_in(comp, written=()):
    """(metric operand, op, against) when a comparison holds a metric against a threshold or baseline."""
    ops = [o for o in comp.ops if o in ORDER]
    if len(comp.ops) != 1 or not ops:
        return None
    for operands in (comp.operands, written):
        metric = next((o for o in operands if _metric_side(o)), None)
        if metric is None:
            continue
        nums = [v for v in comp.literals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums and nums[0] != 0:
            return metric, ORDER[ops[0]], repr(nums[0])
        other = [o for o in operands if o != metric]
        if other and BASELINE.search(other[0]) and not comp.literals:
            return metric, ORDER[ops[0]], other[0]
    return None


class _OneFile:
    """What `_gate` and `_describe` ask of the facts, for one file: its source lines, read when first asked."""

    def __init__(self, read_lines):
        self._read_lines = read_lines
        self._lines = None

    def source_lines(self, path: str):
        if self._lines is None:
            self._lines = self._read_lines()
        return self._lines


def _gated_comparison(path: str, idx, read_lines):
    """(line, description) of the file's first assert or failing `if` that gates a metric, else None
    (a per-file value: it depends on the file's code index and source lines alone)."""
    one = _OneFile(read_lines)
    for comp in idx.comparisons:
        if comp.context not in ("assert", "if-fails"):
            continue
        g = _gate(one, idx, comp)
        if g and not (comp.literals and _validates_argument(idx, comp.scope, g[0])):
            return comp.line, _describe(one, idx, comp, g)
    return None


def _gate(facts, idx, comp):
    if len(comp.ops) != 1 or comp.ops[0] not in ORDER:
        return None
    return gate_in(comp) or _named_floor(facts, idx, comp)


def _named_floor(facts, idx, comp):
    """`assert all(x > floor for x in metrics), "mAP below floor"`: a threshold-named operand on a
    line that names the metric (in the condition or the failure message)."""
    if comp.literals:
        return None
    lines = facts.source_lines(idx.path)
    src = lines[comp.line - 1] if 0 < comp.line <= len(lines) else ""
    cond = src.split(", f\"", 1)[0].split(", \"", 1)[0].split(", '", 1)[0]
    names = [o for o in comp.operands if "(" not in o] + re.findall(r"(?<![\w.])[A-Za-z_][\w.]*\s*(?=[<>]=?)|(?<=[<>])=?\s*[A-Za-z_][\w.]*", cond)
    floor = next((n.strip(" =") for n in names if BASELINE.search(n) and not IDENT_METRIC.search(n)), None)
    if floor is None:
        return None
    rest = src.replace(floor, " ")
    if NOT_A_VALUE.search(rest):
        return None
    m = IDENT_METRIC.search(rest)
    if m and not PARAM.search(m.group(0)):
        return m.group(1), ORDER[comp.ops[0]], floor
    return None


class QualityGated(Rule):
    """Model metrics are compared against thresholds or a baseline, and failing stops the run

    Evidence: in evaluation or pipeline code, an `assert`, or an `if` whose branch raises or exits,
    comparing a metric (accuracy, AUC, F1, mAP, RMSE, validation loss, score…) with a number or a
    threshold/baseline-named value (`min_auc`, `baseline_f1`, `prod_rmse`); MLflow
    `validation_thresholds`/`MetricThreshold` and TFMA thresholds (they block the model); CI steps
    that check metrics inline (`assert`, `jq -e`) or pass a metric threshold flag (`--min-accuracy`).
    Partial: the same checks only in a notebook; tests asserting metric thresholds that no CI job
    runs (CI-run ones support); deepchecks conditions or Evidently tests with thresholds outside
    CI or pipelines; and metric reports for human review (`dvc metrics diff`, `dvc exp diff`, CML
    comments, PR comments with evaluation results), which compare but fail nothing.
    """

    id = "quality-gated"
    practice = "quality-gates"
    examples = (
        Example({
            "evaluate.py": "import json\nimport sys\nfrom sklearn.metrics import roc_auc_score\n\n"
                           "def main(params):\n    auc = roc_auc_score(Y, MODEL.predict_proba(X)[:, 1])\n"
                           "    json.dump({'auc': auc}, open('metrics.json', 'w'))\n"
                           "    if auc < params['min_auc']:\n        sys.exit(f'AUC {auc:.3f} below the gate')\n",
        }, "present", "evaluation exits when AUC is under the configured minimum", fires=True),
        Example({
            "train.py": "import torch\n\nfor step in range(100):\n    loss = MODEL(X).sum()\n"
                        "    if loss > 1e6:\n        raise RuntimeError('diverged')\n    loss.backward()\n",
            "evaluate.py": "from sklearn.metrics import accuracy_score\nacc = accuracy_score(Y, P)\nprint(f'accuracy {acc}')\n",
        }, "absent", "a divergence guard on the training loss; metrics printed, not gated", fires=False),
        Example({
            "tests/test_model.py": "from sklearn.metrics import f1_score\n\ndef test_f1():\n"
                                   "    assert f1_score(Y, MODEL.predict(X)) >= 0.8\n",
        }, "partial", "a metric threshold test that nothing runs in CI", fires=True),
        Example({
            ".github/workflows/report.yml": "on: pull_request\njobs:\n  report:\n    runs-on: ubuntu-latest\n    steps:\n"
                                            "      - run: dvc pull && dvc repro\n"
                                            "      - run: dvc metrics diff main --md >> report.md && cml comment create report.md\n",
        }, "partial", "metrics compared with main and posted to the PR; nothing fails", fires=True),
        Example({
            "validate.py": "import mlflow\nfrom mlflow.models import MetricThreshold\n\n"
                           "mlflow.evaluate(candidate_uri, data, targets='y', model_type='classifier',\n"
                           "                validation_thresholds={'accuracy_score': MetricThreshold(threshold=0.8)},\n"
                           "                baseline_model=champion_uri)\n",
        }, "present", "MLflow validation thresholds against the champion"),
    )

    def check(self, facts):
        yield from self._code(facts)
        yield from self._tests(facts)
        yield from self._ci(facts)

    def _code(self, facts):
        automated = None
        serving = facts.graph.serving_files
        for idx in facts.non_test_code():
            found = None
            if idx.path not in serving:   # a handler rejecting a low score is no gate
                found = facts.per_file(_gated_comparison, idx.path, idx,
                                       lambda path=idx.path: facts.source_lines(path))
            if found:
                if idx.is_notebook:
                    yield self.found("partial", idx.path, found[0],
                                     f"{found[1]} (cell {idx.cell_of(found[0])}), in a notebook run by hand")
                else:
                    yield self.found("supports", idx.path, found[0], found[1])
                continue
            for call in facts.call_table.named(
                    _threshold_library, roots=("mlflow", "deepchecks", "evidently", "tensorflow_model_analysis")).get(idx.path, ()):
                name = call.name.replace("()", "")
                if name in MLFLOW_THRESHOLDS or call.attr == "evaluate" and name.startswith("mlflow") and \
                        call.has_kwarg("validation_thresholds"):
                    yield self.found("supports", idx.path, call.line,
                                     "MLflow model validation thresholds: evaluation fails when the candidate misses them")
                    break
                if name.startswith(TFMA_THRESHOLDS):
                    yield self.found("supports", idx.path, call.line,
                                     "TFMA metric thresholds: the Evaluator blesses only models that meet them")
                    break
                suite = None
                if name.startswith("deepchecks") and call.attr.startswith("add_condition_"):
                    suite = f"deepchecks condition {call.attr}"
                elif name.startswith("evidently") and METRIC_FRAGMENT.search(call.attr) and (
                        any(k in ("gt", "gte", "lt", "lte", "eq") for k, _ in call.kwargs) or call.has_kwarg("tests")):
                    suite = f"Evidently test {call.attr}"
                if suite:
                    if automated is None:
                        automated = _automated_nodes(facts)
                    auto = f"mod:{idx.path}" in automated or any(f"def:{idx.path}:{q}" in automated for q in idx.defs)
                    if auto and not idx.is_notebook:
                        yield self.found("supports", idx.path, call.line, f"{suite} thresholds, run by CI or a pipeline")
                    else:
                        yield self.found("partial", idx.path, call.line,
                                         f"{suite} declares thresholds, but nothing automated runs it")
                    break

    def _tests(self, facts):
        ci_files = set(facts.ci_files)
        for idx in facts.test_code():
            for comp in idx.comparisons:
                if comp.context != "assert":
                    continue
                g = _gate(facts, idx, comp)
                if not g or not _uses_model(idx, comp.scope):
                    continue   # a test of a metric function on made-up labels is no gate
                runner = test_runner_for(facts, idx.path)
                what = _describe(facts, idx, comp, g)
                if runner and runner[0] in ci_files:
                    yield self.found("supports", idx.path, comp.line, f"{what}, and CI runs it ({runner[0]})")
                else:
                    yield self.found("partial", idx.path, comp.line, f"{what}, but no CI job runs the test")
                break

    def _ci(self, facts):
        for job in facts.ci_jobs:
            for st in step_texts(facts, job):
                text = expand_make(facts, st.text) if st.text else ""
                m = INLINE_GATE.search(text)
                flag = next((f for f in FLAG.findall(text) if METRIC_FRAGMENT.search(f) and "cov" not in f.lower()), None)
                hard = HARD_FLAG.search(text)
                if hard and not re.search(r"(?i)cov|coverage|interrogate|pylint|docstr", text[max(0, hard.start() - 200):hard.end()]):
                    flag = flag or " ".join(hard.group(0).split())[2:]
                if m or flag:
                    what = f"checks `{' '.join(m.group(0).split())[:60]}`" if m else f"passes the threshold --{flag}"
                    yield self.found("supports", job.path, st.line, f"CI job {job.name!r} {what}")
                    break
                r = REPORT_CMD.search(text)
                if r:
                    yield self.found("partial", job.path, st.line,
                                     f"CI job {job.name!r} compares or reports metrics (`{' '.join(r.group(0).split())}`) for "
                                     "review, but nothing fails on them")
                    break
                if st.uses and COMMENT_ACTIONS.match(st.uses):
                    body = " ".join(str(v) for v in st.inputs.values())
                    if re.search(r"(?i)eval|metric|result|score|report", body):
                        yield self.found("partial", job.path, st.line,
                                         f"CI job {job.name!r} posts evaluation results to the pull request for review, "
                                         "but nothing fails on them")
                        break


MODEL_ATTRS = PREDICT_ATTRS | MODEL_LOAD_ATTRS | {"load", "val", "validate", "test", "eval", "run_evaluation"}
MODEL_PARAM = re.compile(r"(?i)model|predictor|classifier|regressor|estimator|pipeline|checkpoint|run_id|artifact")


def _validates_argument(idx, scope: str, operand: str) -> bool:
    """`def f(recall): if recall > 1: raise ValueError` checks an argument, not a model."""
    d = idx.defs.get(scope)
    return d is not None and operand in d.params


def _uses_model(idx, scope: str) -> bool:
    """The test loads or runs a model (or takes one as a fixture), so its metric is the model's."""
    d = idx.defs.get(scope)
    if d is not None and any(MODEL_PARAM.search(p) for p in d.params):
        return True
    return any(c.scope == scope and (c.attr in MODEL_ATTRS or c.name.startswith(("pickle.load", "joblib.load", "torch.load")))
               for c in idx.calls)


def _automated_nodes(facts):
    graph = facts.graph
    return graph.reach_all(ep.node for ep in graph.entry_points if ep.kind in ("ci", "pipeline"))


def _describe(facts, idx, comp, g) -> str:
    where = "" if comp.scope == "<module>" else f"{comp.scope}: "
    lines = facts.source_lines(idx.path)
    src = lines[comp.line - 1].strip() if 0 < comp.line <= len(lines) else ""
    how = "an assert" if comp.context == "assert" else "a raise/exit"
    if src and len(src) <= 100:
        return f"{where}`{src}` gates the metric on {g[2]} ({how})"
    return f"{where}{how} gates {g[0]} on {g[2]}"


def _threshold_library(call_name: str) -> bool:
    """The names the call loop of _code() acts on: MLflow, TFMA, deepchecks and Evidently."""
    name = call_name.replace("()", "")
    return name in MLFLOW_THRESHOLDS or name.startswith(("mlflow", "deepchecks", "evidently") + TFMA_THRESHOLDS)
