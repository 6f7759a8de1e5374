from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._docs import CARD_KEYS

_PREFILTER = re.compile(r"[Mm]odel[ _-]?[Cc]ard|MODEL_CARD|model-index")
_API_FULL = ("huggingface_hub.ModelCard", "huggingface_hub.repocard.ModelCard", "huggingface_hub.ModelCardData",
             "huggingface_hub.repocard_data.ModelCardData", "huggingface_hub.DatasetCard", "huggingface_hub.DatasetCardData",
             "huggingface_hub.metadata_update", "huggingface_hub.repocard.metadata_update",
             "model_card_toolkit", "modelcards.ModelCard", "modelcards.CardData")
_API_SET = frozenset(_API_FULL)
_API_PREFIXES = tuple(p + tail for p in _API_FULL for tail in (".", "()"))
_READ_ONLY = {"load", "validate", "from_yaml", "get", "to_dict", "content", "data", "text"}   # reading a card is not writing one
_AUTO = {"create_model_card"}
MAX_TEMPLATES = 5
_FM_KEY = re.compile(r"^\s*-?\s*([a-z_-]+):\s*", re.M)
_CARD_TITLE = re.compile(r"model card|##\s*(model details|intended use|training data|evaluation|limitations|bias)", re.I)


class ModelCardCode(Rule):
    """The code generates model cards for the models it publishes

    Model cards written by code: the Hugging Face `ModelCard` / `ModelCardData` / `DatasetCard`
    API, `metadata_update`, Google's Model Card Toolkit, or a card template in string literals
    (YAML front-matter keys such as `license:` / `datasets:` / `model-index:` together with a
    "Model card" title or card section headings). What the cards say depends on data at run
    time, so the mechanism supports the practice. An automatic card (`trainer.create_model_card()`)
    that only lists hyperparameters counts as partial. Test code is not counted.
    """

    id = "model-card-code"
    practice = "model-documentation"
    examples = (
        Example({
            "publish.py": "from huggingface_hub import ModelCard, ModelCardData\n\n"
                          "def card(name, metrics):\n"
                          "    data = ModelCardData(license='mit', datasets=['imdb'], metrics=['accuracy'])\n"
                          "    return ModelCard.from_template(data, model_id=name, model_description='Sentiment model')\n",
        }, "present", "card built with huggingface_hub", fires=True),
        Example({
            "hub.py": "def generate_readme(card, name):\n    text = '---\\n'\n"
                      "    text += f\"license: {card.get('license', 'apache-2.0')}\\n\"\n    text += 'datasets:\\n'\n"
                      "    text += '---\\n'\n    text += f'# Model card for {name}\\n'\n    return text\n",
        }, "present", "a card template written out by hand", fires=True),
        Example({
            "train.py": "# TODO: write a model card\nfrom transformers import Trainer\n\ntrainer = Trainer(model=None)\n"
                        "trainer.train()\n",
        }, "absent", "a comment about a model card is not one", fires=False),
        Example({
            "train.py": "from transformers import Trainer\n\ntrainer = Trainer(model=None)\ntrainer.train()\n"
                        "trainer.create_model_card(language='en')\n",
        }, "partial", "automatic Trainer card", fires=True),
    )

    def check(self, facts):
        found_api = False
        undecided = []
        card_calls = facts.call_table.named(_card_call, attrs=_AUTO, roots=[n.split(".")[0] for n in _API_FULL])
        for idx in facts.non_test_code():
            hit = None
            for call in card_calls.get(idx.path, ()):
                if (call.name in _API_SET or call.name.startswith(_API_PREFIXES)) and call.attr not in _READ_ONLY:
                    hit = ("supports", call.line, f"{call.name} builds a model card")
                    break
                if call.attr in _AUTO and hit is None:
                    hit = ("partial", call.line, f"{call.name} writes an automatic model card")
            if hit:
                found_api = found_api or hit[0] == "supports"
                yield self.found(hit[0], idx.path, hit[1], hit[2])
            if hit is None or hit[0] != "supports":
                undecided.append(idx)
        if found_api:
            return      # templates in string literals would add nothing; parsing them costs time
        templates = 0
        for idx in undecided:
            literals = facts.string_literals(idx.path) if templates < MAX_TEMPLATES else []
            if not any(_PREFILTER.search(s) for s, _ in literals):
                continue
            tmpl = _template(literals)
            if tmpl:
                templates += 1
                yield self.found("supports", idx.path, tmpl[0], f"writes a model card template ({tmpl[1]})")


def _template(literals):
    keys = {}
    title = None
    for s, line in literals:
        for m in _FM_KEY.finditer(s):
            if m.group(1) in CARD_KEYS:
                keys.setdefault(m.group(1), line)
        if title is None and _CARD_TITLE.search(s):
            title = line
    if (title is not None and keys) or (len(keys) >= 3 and "model-index" in keys):
        first = min([title or 10 ** 9, *keys.values()])
        return first, "front matter " + ", ".join(sorted(keys))
    return None


def _card_call(name: str) -> bool:
    """A name the loop in check() acts on: a card API that writes, or an automatic card."""
    attr = name.rpartition(".")[2]
    return (name in _API_SET or name.startswith(_API_PREFIXES)) and attr not in _READ_ONLY or attr in _AUTO
