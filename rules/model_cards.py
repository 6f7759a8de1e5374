from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._docs import (TOPICS, card_file_name, document_topics, is_card_front_matter, project_docs)

FULL = 3
# acc8b: a heading that announces a card ("## Model card", "Datasheet for ...") inside another document
CARD_HEADING = re.compile(r"(?i)\b(model|data|dataset|system)[ _-]?cards?\b|\bdatasheets?\b")


class ModelCard(Rule):
    """A model card or datasheet states intended use, training data, evaluation and limitations

    Looks for model cards and datasheets: files named `MODEL_CARD.md`, `model_card*.md`,
    `datasheet*.md`, `data_card*.md`, Hugging Face README front matter (`model-index`, `datasets`,
    `license`, `pipeline_tag`, …), and any project document whose headings cover the card's
    topics. Headings are parsed (ATX, setext, HTML, reStructuredText), code blocks are not prose,
    and a topic counts only when its section has prose or a table under it. A card covering at
    least three of intended use, training data, evaluation and limitations/bias supports the
    practice; a card file covering fewer is partial.

    A document that is not a card (a README, a design or release log) whose sections happen to
    cover three topics is partial: the labels ask for a model card for "yes" and call a README with
    data, metrics and caveats partial (`SL14-SL/mlops-churn-prediction` set 3,
    `asadhanif3188/...` set 4, `nickgreenquist/...` and `F-major7/production-ml-api` set 8; every
    "yes" label of the 196 has a card file, card front matter or a card template). A "Model card"
    heading inside a document makes that section a card.
    """

    id = "model-card"
    practice = "model-documentation"
    examples = (
        Example({
            "MODEL_CARD.md": "# Churn model\n\n## Intended use\nRanks accounts by churn risk for the retention team; "
                             "not for pricing decisions.\n\n## Training data\nTwelve months of anonymised account "
                             "activity (2023), 180k rows, see data/README.md.\n\n## Evaluation\n| metric | value |\n"
                             "|---|---|\n| AUC | 0.87 |\n\n## Limitations\nUnder-represents accounts younger than "
                             "one month; scores drift after pricing changes.\n",
        }, "present", "a card with all four topics", fires=True),
        Example({
            "README.md": "---\nlicense: apache-2.0\ndatasets:\n- imagenet-1k\nmodel-index:\n- name: vit-small\n  results: []\n"
                         "---\n# vit-small\n\n## Intended uses & limitations\nImage classification research; not for "
                         "surveillance or biometric identification of people.\n",
        }, "present", "Hugging Face card: front matter declares data and results, a section the use and limits"),
        Example({
            "README.md": "# Project\n\n## Install\n```bash\n# Training data\npip install -e .\n```\n\n## Usage\n"
                         "Run `python train.py` to train the model on your data.\n",
        }, "absent", "a heading inside a code block is not a heading", fires=False),
        Example({
            "model_card.md": "# Model card\n\n## Training data\nThe public UCI wine quality data set, red and white "
                             "variants, 6,497 samples.\n",
        }, "partial", "a card that only covers training data", fires=True),
        Example({
            "README.md": "# Churn platform\n\n## Use cases\nThe retention team ranks accounts by churn risk.\n\n"
                         "## Dataset\nThe Telco customer churn data set, 7,043 rows, from Kaggle.\n\n"
                         "## Evaluation\nThe pipeline tracks ROC-AUC and recall; the current model reaches 0.84 AUC.\n\n"
                         "## Limitations\nLocal deployment only; no autoscaling.\n",
        }, "partial", "a README whose sections cover the topics is not a model card (blind labels, sets 3, 4, 8)",
            fires=True),
        Example({
            "README.md": "# Churn model\n\n## Model card\n\n### Intended use\nRanks accounts by churn risk; not for "
                         "pricing.\n\n### Training data\nTwelve months of anonymised account activity (2023), "
                         "180k rows, see data/README.md.\n\n"
                         "### Evaluation\n| metric | value |\n|---|---|\n| AUC | 0.87 |\n",
        }, "present", "a model card written as a section of the README", fires=True),
    )

    def check(self, facts):
        for path in project_docs(facts):
            doc = facts.document(path)
            if doc is None:
                continue
            card = card_file_name(path) or is_card_front_matter(doc.front_matter)
            topics = document_topics(doc)
            titled = not card and any(CARD_HEADING.search(h.title or "") for h in doc.headings)
            if not card and len(topics) < FULL:
                continue
            covered = [t for t in TOPICS if t in topics]
            missing = [t for t in TOPICS if t not in topics]
            kind = "model card" if card or titled else "document"
            line = min((topics[t][0] for t in covered), default=1)
            if len(covered) >= FULL and (card or titled):
                yield self.found("supports", path, line if not card else 1,
                                 f"{kind} covers {', '.join(covered)}"
                                 + (f" (not {', '.join(missing)})" if missing else ""))
            elif len(covered) >= FULL:
                yield self.found("partial", path, line,
                                 f"document covers {', '.join(covered)}"
                                 + (f" (not {', '.join(missing)})" if missing else "")
                                 + ", but it is not a model card (no card file, card front matter or card heading)")
            elif card:
                yield self.found("partial", path, 1, (f"model card covers only {', '.join(covered)}" if covered
                                  else "model card has none of the card topics yet")
                                 + f"; missing {', '.join(missing)}")
