from __future__ import annotations

from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule

# dbt's generic tests, and the packages that add more (dbt_utils, dbt_expectations)
GENERIC_TESTS = {"unique", "not_null", "accepted_values", "relationships"}
TEST_KEYS = ("tests", "data_tests")


class DbtColumnTests(Rule):
    """Warehouse tables carry declared dbt data tests

    A dbt project (`dbt_project.yml`) whose model or source YAML declares tests on columns or
    tables (`unique`, `not_null`, `accepted_values`, `relationships`, `dbt_utils.*`,
    `dbt_expectations.*`) checks the data the model is trained on, column by column. The tests run
    only when someone runs `dbt test` or `dbt build`, and cover the columns they name, not the
    whole feature set: partial data validation.
    """

    id = "dbt-data-tests"
    practice = "data-validation"
    examples = (
        Example({
            "dbt/dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\n",
            "dbt/models/schema.yml": "version: 2\nmodels:\n  - name: sessions\n    columns:\n      - name: SESSION_ID\n"
                                     "        tests:\n          - unique\n          - not_null\n",
        }, "partial", "unique and not_null tests on a session table", fires=True),
        Example({
            "dbt/dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\n",
            "dbt/models/schema.yml": "version: 2\nmodels:\n  - name: sessions\n    description: flat sessions\n",
        }, "absent", "a dbt model described but not tested", fires=False),
    )

    def check(self, facts):
        roots = sorted(str(PurePosixPath(f.path).parent) for f in facts.named("dbt_project.yml"))
        if not roots:
            return
        for f in facts.files:
            if f.suffix not in (".yml", ".yaml") or f.name == "dbt_project.yml":
                continue
            parent = str(PurePosixPath(f.path).parent)
            if not any(r == "." or parent == r or parent.startswith(r + "/") for r in roots):
                continue
            doc = facts.config(f.path)
            data = doc.data if doc is not None else None
            if not isinstance(data, dict):
                continue
            tests = sorted(_declared_tests(data))
            if tests:
                yield self.found("partial", f.path, facts.line_of(f.path, "tests:"),
                                 f"dbt tests declared on warehouse tables ({', '.join(tests[:4])}); they run "
                                 "with `dbt test`, not on every training load")
                return


def _declared_tests(data: dict) -> set:
    """Names of the tests declared on models, sources and their columns."""
    out = set()
    for key in ("models", "sources", "seeds", "snapshots"):
        for item in data.get(key) or []:
            if not isinstance(item, dict):
                continue
            tables = [item] + [t for t in item.get("tables") or [] if isinstance(t, dict)]
            for table in tables:
                for holder in [table] + [c for c in table.get("columns") or [] if isinstance(c, dict)]:
                    for tk in TEST_KEYS:
                        for test in holder.get(tk) or []:
                            name = next(iter(test), None) if isinstance(test, dict) else test
                            if isinstance(name, str) and (name in GENERIC_TESTS or "." in name):
                                out.add(name)
    return out
