from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._docs import (TOPICS, card_file_name, document_topics, is_card_front_matter, project_docs)

FULL = 3


class ModelCard(Rule):
    """A model card or datasheet states intended use, training data, evaluation and limitations

    Looks for model cards and datasheets: files named `MODEL_CARD.md`, `model_card*.md`,
    `datasheet*.md`, `data_card*.md`, Hugging Face README front matter (`model-index`, `datasets`,
    `license`, `pipeline_tag`, …), and any project document whose headings cover the card's
    topics. Headings are parsed (ATX, setext, HTML, reStructuredText), code blocks are not prose,
    and a topic counts only when its section has prose or a table under it. A card covering at
    least three of intended use, training data, evaluation and limitations/bias supports the
    practice; a card file covering fewer is partial.
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
    )

    def check(self, facts):
        for path in project_docs(facts):
            doc = facts.document(path)
            if doc is None:
                continue
            card = card_file_name(path) or is_card_front_matter(doc.front_matter)
            topics = document_topics(doc)
            if not card and len(topics) < FULL:
                continue
            covered = [t for t in TOPICS if t in topics]
            missing = [t for t in TOPICS if t not in topics]
            kind = "model card" if card else "document"
            line = min((topics[t][0] for t in covered), default=1)
            if len(covered) >= FULL:
                yield self.found("supports", path, line if not card else 1,
                                 f"{kind} covers {', '.join(covered)}"
                                 + (f" (not {', '.join(missing)})" if missing else ""))
            elif card:
                yield self.found("partial", path, 1, (f"model card covers only {', '.join(covered)}" if covered
                                  else "model card has none of the card topics yet")
                                 + f"; missing {', '.join(missing)}")
