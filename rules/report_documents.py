from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.facts.repo import is_test_path
from mlscan.rulekit import Example, Rule
from mlscan.rules._docs import in_data_dir
from mlscan.rules._mlcode import in_example_dir

# documents mlscan cannot read as text: office files and PDFs (TeX sources are text and read elsewhere)
BINARY_DOCUMENT = (".pdf", ".docx", ".doc", ".odt", ".pptx", ".ppt", ".odp")
# words a project's own write-up is named by; slides, papers, manuals and specifications are not
REPORT_WORD = {"report", "reports", "presentation", "explanation", "writeup"}
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(text: str) -> set:
    """`WQD7006_GroupProjectReport` -> {wqd, 7006, group, project, report}; `write-up` -> {writeup}."""
    text = re.sub(r"(?i)write[\s_-]+up", "writeup", text)
    return {w.lower() for w in _WORD.findall(text)}


class ReportDocument(Rule):
    """The project commits a written report on its model (a PDF or office document)

    Partial evidence of model documentation: a PDF or office document (`.pdf`, `.docx`, `.pptx`, ...)
    that the project names as its own write-up: `Presentation.pdf`, `Explanation.pdf`,
    `WQD7006_GroupProjectReport.pdf`, `report/report.pdf`, a file in a "Materials for Report" folder.
    Course and capstone projects describe their data sources, features, models and metrics in such
    reports and keep the README to run steps; the labels read them and call them partial (no model
    card), over four sets (`alemiele/...` set 1, `junyitt/...` set 3, `pierclgr/Atari-DQN` set 10,
    `atapia25/...` and `Huzefa-Calcutta/...` set 11). mlscan does not read these formats, so the name
    is the evidence and the status stays partial. Slides, papers, manuals, specifications, documents
    in data folders (corpora of a RAG app), tests and examples do not count.
    """

    id = "report-document"
    practice = "model-documentation"
    examples = (
        Example({
            "README.md": "# Churn prediction\n\nNotebooks: 1_eda.ipynb, 2_models.ipynb\n",
            "Presentation.pdf": "%PDF-1.4 binary\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "a committed project presentation", fires=True),
        Example({
            "report/report.pdf": "%PDF-1.4 binary\n",
            "dqn.py": "import torch\n",
        }, "partial", "a report folder holding the project's report", fires=True),
        Example({
            "README.md": "# Workshop\n\nRun `make train`.\n",
            "Strata-london-2019-slides.pdf": "%PDF-1.4 binary\n",
            "docs/Dokumentacja_Techniczna.pdf": "%PDF-1.4 binary\n",
            "data/annual-report-2023.pdf": "%PDF-1.4 binary\n",
            "tests/load_test_results/report.pdf": "%PDF-1.4 binary\n",
            "train.py": "print('train')\n",
        }, "absent", "slides, a technical manual, a report that is data for the app, a test artefact", fires=False),
        Example({
            "report.md": "# Report\n\nSee the notebook.\n",
            "train.py": "print('train')\n",
        }, "absent", "a Markdown report is read as text by the other rules, not here", fires=False),
    )

    def check(self, facts):
        for f in facts.files:
            path = PurePosixPath(f.path)
            if path.suffix.lower() not in BINARY_DOCUMENT or is_test_path(f.path) or in_example_dir(f.path) \
                    or in_data_dir(f.path):
                continue
            named = _words(path.stem) & REPORT_WORD
            folder = next((p for p in path.parts[:-1] if _words(p) & REPORT_WORD), None)
            if named or folder:
                why = f"its name says so ({path.name})" if named else f"it sits in \"{folder}\""
                yield self.found("partial", f.path, 1,
                                 f"a committed report documents the project in a format mlscan does not read: "
                                 f"{why}; no model card")
                return
