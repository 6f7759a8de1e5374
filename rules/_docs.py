"""Shared reading of prose documents for the model-documentation rules: which documents are
about the project (not changelogs, licences or issue templates), and which model-card topics
a section covers."""
from __future__ import annotations

import re
from mlscan.rules._vocab import PROSE_METRIC
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

TOPICS = ("intended use", "training data", "evaluation", "limitations")

_HEADING_TOPICS = {
    "intended use": re.compile(r"\b(intended|out[- ]of[- ]scope|use[- ]cases?|(direct|downstream|primary|"
                               r"appropriate|permitted|prohibited) uses?|^uses$|model (purpose|use)|intended purpose)\b", re.I),
    "training data": re.compile(r"\b(training (data|set|corpus)|train(ing)? data(sets?)?|datasets?|data ?sets?|data sources?|"
                                r"data (description|collection|card|sheet|statement|provenance|summary)|datasheets?|"
                                r"(pre-?)?training corpus|corpus|about the data|data used)\b", re.I),
    "evaluation": re.compile(r"\b(evaluation( results| data| metrics)?|results|metrics|performance|benchmarks?|"
                             r"baselines?|accuracy|leaderboard|scores?)\b", re.I),
    "limitations": re.compile(r"\b(limitations?|bias(es)?|risks?|ethic(s|al)( considerations)?|fairness|caveats|"
                              r"responsible (ai|use)|safety|harms?|misuse)\b", re.I),
}
_NOT_TOPIC = re.compile(r"\b(known issues|how to (use|run)|usage|install|contribut|license|citation|changelog)\b", re.I)
# front-matter keys of Hugging Face model / dataset cards
CARD_KEYS = {"model-index", "datasets", "license", "language", "tags", "pipeline_tag", "library_name", "base_model",
             "metrics", "task_categories", "size_categories", "dataset_info", "license_name", "widget", "co2_eq_emissions",
             "annotations_creators", "source_datasets", "task_ids", "pretty_name"}
CARD_FILE = re.compile(r"(^|[_\-.])(model[_\-. ]?cards?|data[_\-. ]?cards?|dataset[_\-. ]?cards?|datasheets?|"
                       r"system[_\-. ]?cards?)([_\-.]|$)", re.I)
SKIP_NAME = re.compile(r"^(changelog|changes|history|news|license|licence|copying|code_of_conduct|contributing|"
                       r"security|support|authors|contributors|releasing|upgrading|agents|claude|gemini|"
                       r"pull_request_template|codeowners|notice|third[_-]party)", re.I)
# a data dictionary's header, also in the languages READMEs are most often written in besides English
DATA_COLUMN_HEADER = re.compile(r"^(column|columns|field|fields|feature|features|variable|variables|attribute|"
                                r"attributes|name|col|kolom|spalte|colonne|columna|coluna|campo|variabel|merkmal)$", re.I)
DATA_DESC_HEADER = re.compile(r"^(description|meaning|definition|type|dtype|unit|units|explanation|details|"
                              r"deskripsi|keterangan|beschreibung|descripci[oó]n|descri[cç][aã]o|signification)$", re.I)
DATA_DIR = {"data", "datasets", "dataset", "corpus", "corpora"}


def project_docs(facts) -> List[str]:
    """Documents describing the project: not changelogs, licences, CI or issue templates."""
    out = []
    for path in facts.doc_files:
        p = PurePosixPath(path)
        parts = [x.lower() for x in p.parts]
        if SKIP_NAME.match(p.name) or any(x in (".github", ".gitlab", "node_modules", "site-packages", "mlruns")
                                          for x in parts[:-1]):
            continue
        if any("{{" in x for x in parts):   # project templates
            continue
        out.append(path)
    return out


def heading_topics(title: str) -> Set[str]:
    title = re.sub(r"weights\s*(&|and)\s*biases", "wandb", title or "", flags=re.I)
    if not title or _NOT_TOPIC.search(title):
        return set()
    return {t for t, rx in _HEADING_TOPICS.items() if rx.search(title)}


def section_has_content(section) -> bool:
    """Prose or a table under the heading, not only code."""
    return section.words >= 8 or any(t.rows for t in section.tables)


def front_matter_topics(fm: Optional[dict]) -> Set[str]:
    out: Set[str] = set()
    if not isinstance(fm, dict):
        return out
    if fm.get("datasets") or fm.get("source_datasets") or fm.get("dataset_info"):
        out.add("training data")
    if fm.get("model-index") or fm.get("metrics"):
        out.add("evaluation")
    return out


def is_card_front_matter(fm: Optional[dict]) -> bool:
    return isinstance(fm, dict) and len(CARD_KEYS & set(map(str, fm))) >= 2 and bool(
        {"model-index", "datasets", "pipeline_tag", "library_name", "base_model", "task_categories", "dataset_info",
         "license"} & set(map(str, fm)))


def document_topics(doc) -> Dict[str, Tuple[int, str]]:
    """topic -> (line, heading) for each model-card topic the document covers with content.

    A section's content includes its subsections, so "## Evaluation" followed directly by
    "### Results" and a table counts."""
    found: Dict[str, Tuple[int, str]] = {}
    secs = doc.sections
    for i, s in enumerate(secs):
        if s.level == 0:
            continue
        topics = heading_topics(s.title)
        if not topics:
            continue
        has = section_has_content(s)
        j = i + 1
        while not has and j < len(secs) and secs[j].level > s.level:
            has = section_has_content(secs[j])
            j += 1
        if has:
            for t in topics:
                found.setdefault(t, (s.line, s.title))
    for t in front_matter_topics(doc.front_matter):
        found.setdefault(t, (doc.front_matter_line or 1, "front matter"))
    return found


_NUMBER_CELL = re.compile(r"^[~≈<>±+-]?\s*\d+(\.\d+)?\s*(%|±\s*[\d.]+)?\s*(\(.*\))?$")


# score columns of a leaderboard or a correlation benchmark ("CV | Public | Private", "Spearman")
SCORE_COLUMN = re.compile(r"(?i)\b(cv|lb|oof|public( lb| score)?|private( lb| score)?|leaderboard|spearman|pearson|"
                          r"correlation)\b")
# a table listing models, runs or submissions in its first column
_MODEL_COLUMN = re.compile(r"(?i)^\W*(model|models|model name|method|checkpoint|backbone|architecture|run|experiment|"
                           r"submission|approach)\W*$")
_RESULTS_CONTEXT = re.compile(r"(?i)\b(results?|scores?|scored|performance|benchmarks?|leaderboard|evaluat\w*)\b")


def metric_tables(doc) -> List[Tuple[int, str]]:
    """(line, header) of tables that report numbers under metric or score columns, or that list
    models with numbers in a section about results."""
    out = []
    for sec in doc.sections:
        about_results = bool(_RESULTS_CONTEXT.search(sec.title) or _RESULTS_CONTEXT.search(sec.prose))
        for t in sec.tables:
            if not t.rows:
                continue
            cols = [i for i, h in enumerate(t.header) if PROSE_METRIC.search(h) or SCORE_COLUMN.search(h)]
            if not cols and about_results and t.header and _MODEL_COLUMN.match(t.header[0]):
                cols = list(range(1, len(t.header)))
            numeric = sum(1 for r in t.rows for i in cols if i < len(r) and _NUMBER_CELL.match(r[i].strip()))
            if numeric >= 2 or (numeric and len(t.rows) == 1):
                out.append((t.line, " | ".join(h for h in t.header if h)[:80]))
    return out


_DATA_CONTEXT = re.compile(r"\b(datasets?|data ?sets?|columns?|csv|records|rows|data dictionary|variables|"
                           r"kolom|spalten|colonnes|columnas|colunas|daten|données|datos|dados)\b", re.I)


# acc5b: a section headed for the data ("Data", "The data", "Training data") names its subject in the title
_DATA_TITLE = re.compile(r"(?i)^\W*((the|our|training|input|raw|source) )?data\W*$")


def data_dictionary_tables(doc) -> List[Tuple[int, str]]:
    """(line, header) of tables listing a dataset's columns with descriptions, in a section that
    talks about data (so an API's parameter table does not count)."""
    out = []
    for sec in doc.sections:
        if not (_DATA_CONTEXT.search(sec.prose) or _DATA_CONTEXT.search(sec.title) or _DATA_TITLE.search(sec.title)):
            continue
        for t in sec.tables:
            heads = [h.strip() for h in t.header]
            if any(DATA_COLUMN_HEADER.match(h) for h in heads) and any(DATA_DESC_HEADER.match(h) for h in heads) \
                    and len(t.rows) >= 3:
                out.append((t.line, " | ".join(heads)[:80]))
    return out


def in_data_dir(path: str) -> bool:
    return any(x.lower() in DATA_DIR for x in PurePosixPath(path).parts[:-1])


def is_primary_doc(path: str) -> bool:
    """The root README and documents one folder deep or under a docs folder: where a project
    documents itself, as opposed to the READMEs of vendored tools and integrations."""
    parts = [x.lower() for x in PurePosixPath(path).parts]
    return len(parts) <= 2 or any(x in ("docs", "doc", "documentation", "hfdocs", "model_cards", "cards") for x in parts[:-1])


def card_file_name(path: str) -> bool:
    stem = PurePosixPath(path).stem
    return bool(CARD_FILE.search(stem)) or stem.lower() in ("modelcard", "datacard", "datasheet")


# ---- acc4b: released models described in a table, leaderboard scores stated in prose ------------
# a model zoo: one row per released model or version, with a column that describes it in words
_RELEASE_COLUMN = re.compile(r"(?i)^\W*(version|versions|release|model|models|model name|checkpoint|checkpoints|"
                             r"weights|pretrained( model)?|variant)\W*$")
_DESCRIPTION_COLUMN = re.compile(r"(?i)^\W*(description|descriptions|notes?|remarks?|comments?|details|strengths|"
                                 r"weaknesses|summary|trained (on|with))\W*$")
_WORDS = re.compile(r"[A-Za-z]{2,}")
# acc11: a released-models table that names each model's training data (`Folder Name | Generator | Dataset`)
_TRAINING_DATA_COLUMN = re.compile(r"(?i)^\W*((pre-?)?training |train )?(data ?sets?|corpus|corpora)\W*$|"
                                   r"^\W*(training data|trained on)\W*$")
_RELEASE_SECTION = re.compile(r"(?i)\b(pre-?trained|released?|model zoo|checkpoints?)\b")


def model_zoo_tables(doc) -> List[Tuple[int, str]]:
    """(line, header) of tables that describe released models (`Version | Model Name | Description`),
    one row per model, with at least a few words about each, or the data each was trained on
    (`Folder Name | Generator | Dataset` under a "Pretrained Model" heading)."""
    out = []
    for sec in doc.sections:
        for t in sec.tables:
            heads = [h.strip() for h in t.header]
            names = [i for i, h in enumerate(heads) if _RELEASE_COLUMN.match(h)]
            if not names and _RELEASE_SECTION.search(sec.title):
                names = [0]   # a pretrained-models section lists its models in the first column ("Folder Name")
            descs = [i for i, h in enumerate(heads) if _DESCRIPTION_COLUMN.match(h)]
            data = [i for i, h in enumerate(heads) if _TRAINING_DATA_COLUMN.match(h)]
            if names and data and len(t.rows) >= 2 and \
                    sum(1 for r in t.rows if any(i < len(r) and _WORDS.search(r[i]) for i in data)) >= 2:
                # acc11: the data each released model is trained on
                out.append((t.line, " | ".join(h for h in heads if h)[:80]))
                continue
            if not names or not descs or len(t.rows) < 2:
                continue
            described = sum(1 for r in t.rows if any(i < len(r) and len(_WORDS.findall(r[i])) >= 3 for i in descs))
            if described >= 2:
                out.append((t.line, " | ".join(h for h in heads if h)[:80]))
    return out


# "score: public 0.904, private 0.940": a competition solution's leaderboard result
LEADERBOARD_SCORE = re.compile(r"(?i)\b(public|private)\s*(lb|leaderboard)?\s*(score)?\s*[:=]?\s*0?\.\d{2,}")
