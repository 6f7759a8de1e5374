from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._docs import data_dictionary_tables, in_data_dir, is_primary_doc, project_docs, section_has_content

FULL = 3
MIN_WORDS = 30
TOPICS = ("source", "licence", "schema", "splits", "collection", "known gaps")
_TOPIC_HEADINGS = {
    "source": re.compile(r"(?i)\b(sources?|provenance|origins?|where .* from|acquisition|obtain(ing)?|download(ing)?|"
                         r"references?|citation|curation rationale|initial data)\b"),
    "licence": re.compile(r"(?i)\b(licen[cs](e|es|ing)|terms of (use|service)|usage rights|copyright|permissions?)\b"),
    "schema": re.compile(r"(?i)\b(schema|fields?|columns?|features?|attributes?|variables?|data dictionary|"
                         r"data (format|structure|instances)|format|structure|dataset structure|file layout|records?)\b"),
    "splits": re.compile(r"(?i)\b(splits?|partitions?|folds?|train(ing)?[ /,&-]+(val|validation|test|dev)|"
                         r"hold[- ]?out|subsets?)\b"),
    "collection": re.compile(r"(?i)\b(collect(ion|ed|ing)?|curation|annotation|label(l)?ing|creation|gathering|"
                             r"preprocess(ing)?|processing|how .* (made|built|created)|versions?|updates?|sampling)\b"),
    "known gaps": re.compile(r"(?i)\b(limitations?|known (gaps|issues|problems)|bias(es)?|caveats|gaps|"
                             r"considerations|quality issues|missing (data|values))\b"),
}
# labelled statements in prose ("Source: https://...", "Licensed under CC BY 4.0")
_TOPIC_PROSE = {
    "source": re.compile(r"(?i)(\b(sources?|references?|original url|origin|downloaded from|obtained from|taken from|"
                         r"derived from)\s*:|"
                         r"\b(from|at)\s+https?://|\b(sourced|downloaded|obtained|collected) from\b)"),
    "licence": re.compile(r"(?i)\b(licen[cs]e\s*:|licen[cs]ed under|under the [\w .-]{1,40} licen[cs]e|"
                          r"cc[- ]by(-sa|-nc)?[- ]?\d|creative commons|public domain)"),
}
DATA_DOC_NAME = re.compile(r"(?i)(^|[_\-. ])(data[_\-. ]?sheets?|data[_\-. ]?cards?|dataset[_\-. ]?cards?|"
                           r"data[_\-. ]?statements?|data[_\-. ]?dictionar(y|ies)|codebook)([_\-. ]|$)")
DOCS_DIRS = {"docs", "doc", "documentation"}
DATA_SECTION = re.compile(r"(?i)^(the\s+|our\s+|about\s+the\s+)?(data|datasets?|data ?sets?|training data|"
                          r"data (description|sources?|overview|set description))\s*:?$")
# a cheap look at the raw text before parsing a document: a data heading or a field table
_MAYBE_DATA_SECTION = re.compile(r"(?im)^\s{0,3}(#{1,6}\s+|<h[1-6][^>]*>\s*)?(the\s+|our\s+|about\s+the\s+)?"
                                 r"(data|datasets?|data ?sets?|training data)\b.{0,40}$|"
                                 r"^\s*\|?\s*(columns?|fields?|features?|variables?|attributes?|name|col)\s*\|")
DATASET_CARD_KEYS = {"dataset_info", "task_categories", "size_categories", "annotations_creators", "source_datasets",
                     "language_creators", "multilinguality", "task_ids", "paperswithcode_id"}


class DatasetsDocumented(Rule):
    """Datasets are documented: source, licence, schema, splits, collection

    Looks for data documentation: datasheets and data cards (`DATASHEET.md`, `DATA_CARD.md`,
    `dataset_card.md`, data dictionaries), README files inside data folders, `docs/data*.md`
    pages, Hugging Face dataset cards (README front matter with `dataset_info`, `task_categories`,
    `size_categories`, ...), and machine-readable descriptors: Croissant metadata,
    Frictionless `datapackage.json` and `datacontract.yaml`. Headings are parsed (code blocks are
    not prose) and a topic counts only when its section has prose or a table. A document
    covering at least three of source, licence, schema/fields, splits, collection and known gaps
    supports the practice; one covering fewer is partial, and so is a data section or a
    data-dictionary table in the project README.
    """

    id = "data-documentation"
    practice = "data-documentation"
    examples = (
        Example({
            "data/README.md": "# Churn data\n\n## Source\nExported monthly from the billing warehouse "
                              "(table billing.accounts) by the data platform team.\n\n## Licence\nInternal use only; "
                              "contains no personal data after hashing the account ids.\n\n## Schema\n"
                              "| column | description |\n|---|---|\n| account_id | hashed id |\n| tenure | months |\n"
                              "| churned | label |\n\n## Splits\nTrain on 2022, validate on 2023 Q1, test on 2023 Q2, "
                              "split by account so no account appears twice.\n",
        }, "present", "a data README covering four topics", fires=True),
        Example({
            "README.md": "---\nlicense: cc-by-4.0\ntask_categories:\n- text-classification\nsize_categories:\n- 10K<n<100K\n"
                         "dataset_info:\n  features:\n  - name: text\n    dtype: string\n  - name: label\n    dtype: int64\n"
                         "  splits:\n  - name: train\n    num_examples: 9000\n  - name: test\n    num_examples: 1000\n---\n"
                         "# Reviews\n",
        }, "present", "a Hugging Face dataset card"),
        Example({
            "data/README.md": "# Data\n\nThe CSV files in this folder are downloaded by `make data` from the public "
                              "bucket; they hold one row per customer and are refreshed every month by the export job.\n",
            "train.py": "import pandas as pd\ndf = pd.read_csv('data/customers.csv')\n",
        }, "partial", "a data README that describes but covers no topic", fires=True),
        Example({
            "README.md": "# Churn model\n\n## Install\n```bash\n# Source\npip install -e .\n```\n\n## Usage\n"
                         "Run `python train.py`.\n",
            "train.py": "import pandas as pd\ndf = pd.read_csv('data/customers.csv')\n",
        }, "absent", "a heading in a code block is not a data section", fires=False),
        Example({
            "datapackage.json": '{"name": "churn", "resources": [{"path": "data/accounts.csv", "schema": {"fields": '
                                '[{"name": "account_id", "type": "string"}]}}]}',
        }, "present", "a Frictionless data package"),
    )

    def check(self, facts):
        supports: List[Tuple[str, int, str]] = []
        partial: List[Tuple[str, int, str]] = []
        dedicated: Set[str] = set()
        for path in project_docs(facts):
            if not _is_data_doc(path):
                continue
            doc = facts.document(path)
            if doc is None:
                continue
            card = _dataset_card(doc.front_matter)
            topics = _topics(doc, 0, len(doc.sections))
            for t in _front_matter_topics(doc.front_matter):
                topics.setdefault(t, doc.front_matter_line or 1)
            if not topics and doc.words < MIN_WORDS and not card:
                continue   # a placeholder ("data files go here")
            dedicated.add(path)
            self._grade(path, "dataset card" if card else "data document", topics, supports, partial,
                        line=1 if card else None)
        for path in project_docs(facts):
            if path in dedicated or not path.lower().endswith((".md", ".markdown", ".rst")):
                continue
            text = facts.text(path) or ""
            if text.startswith("---") and ("dataset_info" in text[:20000] or "task_categories" in text[:20000]):
                doc = facts.document(path)
                if doc is not None and _dataset_card(doc.front_matter):
                    topics = _topics(doc, 0, len(doc.sections))
                    for t in _front_matter_topics(doc.front_matter):
                        topics.setdefault(t, doc.front_matter_line or 1)
                    self._grade(path, "dataset card", topics, supports, partial, line=1)
                    continue
            if not is_primary_doc(path) or not _MAYBE_DATA_SECTION.search(text):
                continue
            doc = facts.document(path)
            if doc is None:
                continue
            for i, sec in enumerate(doc.sections):
                if sec.level and DATA_SECTION.match(sec.title.strip()):
                    end = _subtree_end(doc.sections, i)
                    if not any(section_has_content(s) for s in doc.sections[i:end]):
                        continue
                    topics = _topics(doc, i + 1, end)
                    self._grade(path, f"the \"{sec.title}\" section", topics, supports, partial, line=sec.line,
                                weak=True)
                    break
            else:
                tables = data_dictionary_tables(doc)
                if tables:
                    partial.append((path, tables[0][0], f"{path} documents the data's fields in a table "
                                                        f"({tables[0][1]}), but no source, licence or splits"))
        supports.extend(_descriptors(facts))
        for path, line, msg in supports[:6]:
            yield self.found("supports", path, line, msg)
        if supports:
            return
        for path, line, msg in partial[:4]:
            yield self.found("partial", path, line, msg)

    @staticmethod
    def _grade(path: str, what: str, topics: Dict[str, int], supports, partial, line: Optional[int] = None,
               weak: bool = False) -> None:
        covered = [t for t in TOPICS if t in topics]
        missing = [t for t in TOPICS if t not in topics]
        at = line if line is not None else min((topics[t] for t in covered), default=1)
        if len(covered) >= FULL:
            supports.append((path, at, f"{what} covers {', '.join(covered)}"
                                       + (f" (not {', '.join(missing)})" if missing else "")))
        elif covered:
            partial.append((path, at, f"{what} covers only {', '.join(covered)}; missing {', '.join(missing)}"))
        else:
            partial.append((path, at, f"{what} describes the data but covers none of {', '.join(TOPICS)}"))


def _is_data_doc(path: str) -> bool:
    p = PurePosixPath(path)
    stem = p.stem
    if DATA_DOC_NAME.search(stem) or stem.lower() in ("datasheet", "datacard", "datasetcard"):
        return True
    if stem.lower() == "readme" and in_data_dir(path):
        return True
    parts = [x.lower() for x in p.parts[:-1]]
    low = stem.lower()
    return bool(parts) and parts[0] in DOCS_DIRS and (low in ("data", "dataset", "datasets") or
                                                      low.startswith(("data_", "data-", "dataset_", "dataset-",
                                                                      "datasets_", "datasets-")))


def _subtree_end(sections, i: int) -> int:
    j = i + 1
    while j < len(sections) and sections[j].level > sections[i].level:
        j += 1
    return j


def _topics(doc, start: int, end: int) -> Dict[str, int]:
    """topic -> line of the first heading (with content under it) that covers it, in sections[start:end]."""
    found: Dict[str, int] = {}
    secs = doc.sections
    for i in range(start, end):
        s = secs[i]
        if s.level == 0:
            continue
        hit = [t for t, rx in _TOPIC_HEADINGS.items() if rx.search(s.title)]
        if not hit:
            continue
        sub_end = _subtree_end(secs, i)
        if any(section_has_content(x) for x in secs[i:sub_end]):
            for t in hit:
                found.setdefault(t, s.line)
    for s in secs[start:end]:
        for t, rx in _TOPIC_PROSE.items():
            if t not in found and rx.search(s.prose):
                found[t] = s.line
    sections = secs[start:end]
    for line, _ in data_dictionary_tables(type("D", (), {"sections": sections})()):
        found.setdefault("schema", line)
    return found


def _dataset_card(fm) -> bool:
    return isinstance(fm, dict) and bool(DATASET_CARD_KEYS & set(map(str, fm)))


def _front_matter_topics(fm) -> Set[str]:
    out: Set[str] = set()
    if not isinstance(fm, dict):
        return out
    if fm.get("license") or fm.get("license_name"):
        out.add("licence")
    if fm.get("source_datasets") or fm.get("paperswithcode_id"):
        out.add("source")
    if fm.get("annotations_creators") or fm.get("language_creators"):
        out.add("collection")
    info = fm.get("dataset_info")
    infos = info if isinstance(info, list) else [info]
    for inf in infos:
        if isinstance(inf, dict):
            if inf.get("features"):
                out.add("schema")
            if inf.get("splits"):
                out.add("splits")
    configs = fm.get("configs")
    if isinstance(configs, list) and any(isinstance(c, dict) and isinstance(c.get("data_files"), list) for c in configs):
        out.add("splits")
    return out


def _descriptors(facts) -> List[Tuple[str, int, str]]:
    out = []
    for f in facts.files:
        name = f.name.lower()
        if "{{" in f.path or f.size > 5 * 1024 * 1024:
            continue
        if name == "datapackage.json":
            doc = facts.config(f.path)
            res = doc.data.get("resources") if doc and isinstance(doc.data, dict) else None
            if isinstance(res, list) and res:
                with_schema = sum(1 for r in res if isinstance(r, dict) and r.get("schema"))
                out.append((f.path, 1, f"a Frictionless data package describes {len(res)} resource(s)"
                                       + (f", {with_schema} with a schema" if with_schema else "")))
        elif name in ("datacontract.yaml", "datacontract.yml") or name.endswith((".datacontract.yaml", ".datacontract.yml")):
            doc = facts.config(f.path)
            if doc and isinstance(doc.data, dict) and ("dataContractSpecification" in doc.data or
                                                       doc.data.get("kind") == "DataContract" or "models" in doc.data):
                out.append((f.path, 1, "a data contract declares the dataset's schema and terms"))
        elif name.endswith(".json") and ("croissant" in name or name == "metadata.json"):
            text = facts.text(f.path) or ""
            if "mlcommons.org/croissant" in text[:20000] or "\"cr:\"" in text[:20000]:
                out.append((f.path, 1, "Croissant metadata describes the dataset"))
    return out[:4]
