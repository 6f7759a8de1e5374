from __future__ import annotations

import re

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._ops import called_scripts, expand_make, job_manual_only, job_schedule, job_tests_changes, step_texts
from mlscan.rules._vocab import TEST_COMMAND, TRAIN_COMMAND, TRAIN_WORD

# resolved names (after `()` is dropped) that put a pipeline on a schedule -> tool
SCHEDULERS = {
    "kfp.Client.create_recurring_run": "Kubeflow recurring run", "kfp.client.Client.create_recurring_run": "Kubeflow recurring run",
    "kfp.v2.google.client.AIPlatformClient.create_schedule_from_job_spec": "Vertex AI pipeline schedule",
    "google.cloud.aiplatform.PipelineJobSchedule": "Vertex AI pipeline schedule",
    "google.cloud.aiplatform.PipelineJob.create_schedule": "Vertex AI pipeline schedule",
    "sagemaker.workflow.triggers.PipelineSchedule": "SageMaker pipeline schedule",
    "azure.ai.ml.entities.JobSchedule": "Azure ML job schedule", "azure.ai.ml.entities.CronTrigger": "Azure ML schedule",
    "azure.ai.ml.entities.RecurrenceTrigger": "Azure ML schedule",
    "prefect.client.schemas.schedules.CronSchedule": "Prefect schedule", "prefect.server.schemas.schedules.CronSchedule": "Prefect schedule",
    "prefect.orion.schemas.schedules.CronSchedule": "Prefect schedule", "prefect.schedules.CronSchedule": "Prefect schedule",
    "prefect.client.schemas.schedules.IntervalSchedule": "Prefect schedule",
    "prefect.server.schemas.schedules.IntervalSchedule": "Prefect schedule", "prefect.schedules.Cron": "Prefect schedule",
    "prefect.schedules.Interval": "Prefect schedule",
    "dagster.ScheduleDefinition": "Dagster schedule", "dagster.build_schedule_from_partitioned_job": "Dagster schedule",
    "dagster.schedule": "Dagster schedule", "dagster.sensor": "Dagster sensor", "dagster.asset_sensor": "Dagster sensor",
    "dagster.multi_asset_sensor": "Dagster sensor", "dagster.run_status_sensor": "Dagster sensor",
    "zenml.config.schedule.Schedule": "ZenML schedule", "zenml.Schedule": "ZenML schedule",
    "metaflow.schedule": "Metaflow schedule", "metaflow.trigger": "Metaflow event trigger",
    "metaflow.trigger_on_finish": "Metaflow event trigger",
}
AIRFLOW_DAGS = ("airflow.DAG", "airflow.models.DAG", "airflow.models.dag.DAG", "airflow.decorators.dag", "airflow.sdk.DAG",
                "airflow.sdk.dag")
TASK_KWARGS = {"task_id", "bash_command", "command", "cmds", "arguments", "name", "entrypoint", "dag_id", "job_name",
               "pipeline_name", "display_name", "flow_name"}
SCHEDULE_KWARGS = ("schedule_interval", "schedule", "timetable")
PREFECT_SCHEDULE_KWARGS = ("cron", "interval", "rrule", "schedule", "schedules")
DRIFT_ROOTS = ("evidently", "alibi_detect", "nannyml", "whylogs", "deepchecks", "frouros", "river.drift", "torchdrift")
TRIGGER_ATTRS = {"run_deployment", "create_run", "trigger_dag", "start_pipeline_execution", "create_run_from_pipeline_func",
                 "create_run_from_pipeline_package", "run_pipeline", "submit_pipeline_job", "create_dispatch", "dispatch",
                 "trigger_run", "run_now", "trigger_pipeline", "start_execution"}


class RetrainingAutomated(Rule):
    """Training runs on a schedule or a trigger, not only by hand

    Evidence: a scheduled CI job (GitHub Actions `schedule:` cron, GitLab pipeline schedules,
    Azure `schedules:`, CircleCI scheduled workflows) whose steps — with the scripts and Makefile
    targets they call — run a training entry point, `dvc repro`, `mlflow run` or a train script;
    Airflow DAGs with a `schedule`/`schedule_interval`; Prefect `serve`/`deploy` with `cron`/
    `interval` or cron schedules in `prefect.yaml`; Dagster schedules and sensors; Kubeflow
    recurring runs; SageMaker, Vertex AI and Azure ML pipeline schedules; ZenML and Metaflow
    schedules; Kubernetes CronJobs and crontab entries that train; and code that triggers a training
    run when a drift check fires. A schedule that does not visibly reach training is partial. A
    scheduled job that also runs on pull requests is a smoke test, not retraining. Training that
    only runs on manual dispatch, or as an unscheduled orchestrator flow, is a gap.
    """

    id = "retraining-automated"
    practice = "retraining-automation"
    examples = (
        Example({
            ".github/workflows/retrain.yml": "on:\n  schedule:\n    - cron: '0 3 * * 1'\n  workflow_dispatch:\njobs:\n"
                                             "  retrain:\n    runs-on: ubuntu-latest\n    steps:\n"
                                             "      - uses: actions/checkout@v4\n      - run: dvc pull && dvc repro && dvc push\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    outs: [model.pkl]\n",
            "train.py": "from sklearn.svm import SVC\nimport joblib\njoblib.dump(SVC().fit([[0]], [0]), 'model.pkl')\n",
        }, "present", "a weekly cron runs the DVC pipeline", fires=True),
        Example({
            ".github/workflows/ci.yml": "on:\n  push:\n  pull_request:\n  schedule:\n    - cron: '0 0 * * *'\njobs:\n"
                                        "  smoke:\n    runs-on: ubuntu-latest\n    steps:\n      - run: python train.py --epochs 1\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
        }, "absent", "a nightly smoke test that also runs on every PR is not retraining", fires=False),
        Example({
            ".github/workflows/train.yml": "on: workflow_dispatch\njobs:\n  train:\n    runs-on: ubuntu-latest\n    steps:\n"
                                           "      - run: python train.py\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
        }, "absent", "training only when someone clicks the button", fires=True),
        Example({
            "dags/retrain.py": "from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.python import PythonOperator\n"
                               "from pipeline.train import train_model\n\n"
                               "with DAG('retrain', schedule='@weekly', start_date=datetime(2024, 1, 1), catchup=False) as dag:\n"
                               "    PythonOperator(task_id='train', python_callable=train_model)\n",
            "pipeline/train.py": "from sklearn.linear_model import LogisticRegression\n\n"
                                 "def train_model():\n    return LogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "present", "an Airflow DAG on a weekly schedule runs the training task"),
        Example({
            ".gitlab-ci.yml": "retrain:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n  script:\n    - make train\n",
            "Makefile": "train:\n\tpython src/fit_model.py\n",
            "src/fit_model.py": "from sklearn.linear_model import LogisticRegression\n\ndef main():\n"
                                "    LogisticRegression().fit([[0], [1]], [0, 1])\n\nif __name__ == '__main__':\n    main()\n",
        }, "present", "a GitLab job that only runs from pipeline schedules calls `make train`"),
        Example({
            "flows/train.py": "from prefect import flow\nfrom sklearn.svm import SVC\n\n@flow\ndef train():\n"
                              "    SVC().fit([[0]], [0])\n\nif __name__ == '__main__':\n    train.serve(name='nightly', cron='0 2 * * *')\n",
        }, "present", "a Prefect flow served on a cron"),
    )

    def check(self, facts):
        found = False
        gaps = []
        for hit in self._ci(facts, gaps):
            found = True
            yield hit
        for hit in self._code(facts, gaps):
            found = True
            yield hit
        for hit in self._configs(facts):
            found = True
            yield hit
        if not found:
            for path, line, msg in gaps[:3]:
                yield self.found("gap", path, line, msg)

    # ---- CI ------------------------------------------------------------------------------------
    def _ci(self, facts, gaps):
        graph = facts.graph
        train_nodes = graph.training_call_nodes
        ci_entries = {}
        for ep in graph.entry_points:
            if ep.kind == "ci":
                ci_entries.setdefault((ep.path, ep.line), []).append(ep)
        for job in facts.ci_jobs:
            schedule = job_schedule(facts, job)
            manual = job_manual_only(facts, job)
            if not schedule and not manual:
                continue
            trains = None
            for orig, st in zip(job.steps, step_texts(facts, job)):
                for ep in ci_entries.get((job.path, orig.line), []):
                    if graph.reachable(ep.node) & train_nodes:
                        trains = (st.line, f"runs {ep.target.split(':', 1)[1]}, which trains")
                        break
                if trains is None and st.text:
                    for script in called_scripts(facts, st.text):
                        if any(graph.reachable(ep.node) & train_nodes for ep in graph.entry_points
                               if ep.kind == "shell" and ep.path == script):
                            trains = (st.line, f"runs {script}, which trains")
                            break
                if trains is None and st.text:
                    m = TRAIN_COMMAND.search(expand_make(facts, st.text))
                    if m:
                        trains = (st.line, f"runs `{' '.join(m.group(0).split())}`")
                if trains:
                    break
            if not trains:
                continue
            if schedule:
                if job_tests_changes(job) or any(TEST_COMMAND.search(st.text) for st in step_texts(facts, job)):
                    continue   # also runs on pull requests, or runs the test suite: a smoke test of training
                yield self.found("supports", job.path, trains[0],
                                 f"CI job {job.name!r} {trains[1]} on {schedule}")
            elif not job_tests_changes(job):
                gaps.append((job.path, trains[0], f"CI job {job.name!r} {trains[1]}, but only when started by hand"))

    # ---- orchestrators in code -----------------------------------------------------------------
    def _code(self, facts, gaps):
        graph = facts.graph
        train_nodes = graph.training_call_nodes
        flows = []
        for idx in facts.non_test_code():
            if idx.is_notebook:
                continue
            roots = idx.imported_roots
            if not roots & {"airflow", "prefect", "dagster", "kfp", "google", "sagemaker", "azure", "zenml", "metaflow",
                            "boto3", *{r.split(".")[0] for r in DRIFT_ROOTS}}:
                continue
            for call in idx.calls:
                name = call.name.replace("()", "")
                what = None
                if name in AIRFLOW_DAGS or name.endswith(".DAG") and name.startswith("airflow"):
                    sched = next(((k, v) for k, v in call.kwargs if k in SCHEDULE_KWARGS), None)
                    if sched and sched[1] is not None and sched[1] not in ("@once", "None"):
                        what = f"Airflow DAG scheduled ({sched[0]}={sched[1] if sched[1] != NOT_LITERAL else '…'})"
                elif name in SCHEDULERS:
                    what = SCHEDULERS[name]
                elif call.attr in ("serve", "deploy", "to_deployment") and "prefect" in roots and \
                        any(k in PREFECT_SCHEDULE_KWARGS for k, _ in call.kwargs):
                    what = f"Prefect deployment with a schedule ({next(k for k, _ in call.kwargs if k in PREFECT_SCHEDULE_KWARGS)}=)"
                elif name.startswith("prefect") and call.attr == "build_from_flow" and call.has_kwarg("schedule"):
                    what = "Prefect deployment with a schedule"
                elif call.attr == "put_rule" and name.startswith("boto3") and call.has_kwarg("ScheduleExpression"):
                    what = "EventBridge schedule rule"
                elif call.attr == "put_triggers" and name.startswith("sagemaker"):
                    what = "SageMaker pipeline trigger"
                if what:
                    trains = self._module_trains(facts, idx, train_nodes)
                    if trains:
                        yield self.found("supports", idx.path, call.line, f"{what}; the pipeline {trains}")
                    else:
                        yield self.found("partial", idx.path, call.line,
                                         f"{what}, but it does not visibly run training")
                    break
            else:
                flow = next((d for d in idx.defs.values() if any(dec.startswith("prefect.flow") for dec in d.decorators)),
                            None) if "prefect" in roots else None
                if flow and self._module_trains(facts, idx, train_nodes):
                    flows.append((idx.path, flow.line, flow.qualname))
                hit = self._drift_trigger(facts, idx, train_nodes)
                if hit:
                    yield self.found("supports", idx.path, hit[0], hit[1])
        for path, line, qual in flows[:2]:
            gaps.append((path, line, f"training runs as the Prefect flow {qual}, but nothing schedules or triggers it"))

    def _module_trains(self, facts, idx, train_nodes):
        graph = facts.graph
        if graph.reachable(f"mod:{idx.path}") & train_nodes:
            return "reaches training code"
        for qual in idx.defs:
            if graph.reachable(f"def:{idx.path}:{qual}") & train_nodes:
                return f"runs {qual}, which trains"
        for call in idx.calls:
            values = [v for k, v in call.kwargs if k in TASK_KWARGS]
            if call.name.replace("()", "") in AIRFLOW_DAGS and call.args:
                values.append(call.args[0])
            for v in values:
                if isinstance(v, str) and v != NOT_LITERAL and (TRAIN_COMMAND.search(v) or TRAIN_WORD.search(v)):
                    return f"has a training task ({v[:40]!r})"
        return None

    def _drift_trigger(self, facts, idx, train_nodes):
        graph = facts.graph
        scopes = {}
        for call in idx.calls:
            scopes.setdefault(call.scope, []).append(call)
        for scope, calls in scopes.items():
            drift = next((c for c in calls if c.name.startswith(DRIFT_ROOTS)), None)
            if not drift:
                continue
            for c in calls:
                if c.attr in TRIGGER_ATTRS and not c.name.startswith(DRIFT_ROOTS):
                    return c.line, f"{scope} checks drift ({drift.attr}) and triggers a pipeline run ({c.attr})"
                node = graph.resolve_name(idx.path, c.name)
                if node and node.startswith("def:") and graph.reachable(node) & train_nodes:
                    return c.line, f"{scope} checks drift ({drift.attr}) and retrains ({c.name.replace('()', '')})"
        return None

    # ---- config files --------------------------------------------------------------------------
    def _configs(self, facts):
        for doc in facts.yaml_docs():
            name = doc.path.rsplit("/", 1)[-1]
            text = None
            for d in doc.mappings():
                if d.get("kind") == "CronJob":
                    text = text if text is not None else (facts.text(doc.path) or "")
                    if TRAIN_COMMAND.search(text) or TRAIN_WORD.search(text):
                        yield self.found("supports", doc.path, facts.line_of(doc.path, "kind: CronJob"),
                                         "Kubernetes CronJob runs training on a schedule")
                        break
                if name in ("prefect.yaml", "prefect.yml") and isinstance(d.get("deployments"), list):
                    for dep in d["deployments"]:
                        if isinstance(dep, dict) and (dep.get("schedule") or dep.get("schedules")):
                            yield self.found("supports" if TRAIN_WORD.search(str(dep.get("entrypoint", "")) + str(dep.get("name", "")))
                                             else "partial", doc.path, facts.line_of(doc.path, "schedule"),
                                             f"Prefect deployment {dep.get('name', '')!r} runs on a schedule")
                            break
                jobs = ((d.get("resources") or {}).get("jobs") if isinstance(d.get("resources"), dict) else None)
                if isinstance(jobs, dict):
                    for jname, job in jobs.items():
                        if isinstance(job, dict) and (job.get("schedule") or job.get("trigger")):
                            trains = TRAIN_WORD.search(str(jname) + str(job.get("tasks", "")))
                            yield self.found("supports" if trains else "partial", doc.path,
                                             facts.line_of(doc.path, "schedule"),
                                             f"Databricks job {jname!r} runs on a schedule"
                                             + ("" if trains else ", but it does not visibly train"))
                            break
        for f in facts.files:
            if f.name in ("crontab", "cronjob", "cron") or f.suffix == ".cron":
                text = facts.text(f.path) or ""
                for i, line in enumerate(text.splitlines(), 1):
                    if re.match(r"^\s*(@\w+|([\d*/,-]+\s+){5})", line) and (TRAIN_COMMAND.search(line) or TRAIN_WORD.search(line)):
                        yield self.found("supports", f.path, i, "crontab entry runs training")
                        break
