from __future__ import annotations

import re

from mlscan.facts.graph import artefact_kind
from mlscan.rulekit import Example, Rule
from mlscan.rules._serving import FEATURE_WORDS, NO_SERVING, TRANSFORMERS, has_serving, node_name, node_path, serving_reach
from mlscan.rules._vocab import MODEL_LOAD_ATTRS

SERVING_LOAD_ATTRS = MODEL_LOAD_ATTRS | {"load", "read_pickle"}
# a function that loads a fitted object (`load_preprocessor`, `_load_pipeline`) reuses it; it does not re-implement it
LOADER = re.compile(r"^_*(load|read|fetch|download|restore)(_|$)", re.I)


class ServingReusesTrainingPreprocessing(Rule):
    """Serving reaches the same preprocessing as training

    Finds the serving entry points (web routes, model-server classes, inference handlers), follows
    their calls across files, and compares with what the training entry points reach. Parity:
    serving calls the same feature/preprocessing code as training, or loads the fitted transform
    that training saved. Skew: serving re-implements preprocessing (feature functions defined only
    on the serving side) or re-fits a transformer on request data. Serving that applies a fitted
    transform training saved (`dv.transform(...)`) but re-implements some feature logic by hand is
    partial; loading only the model and re-implementing the features is skew. When training
    transforms no features at all (no feature functions, encoders, scalers, image transforms or
    pandas feature operations) and serving feeds the request to the model training saved, parity
    is trivial and in place. Not applicable without serving code.
    """

    id = "serving-shares-preprocessing"
    practice = "train-serve-parity"
    examples = (
        Example({
            "src/features.py": "def preprocess(df):\n    return df.fillna(0)\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('data.csv'))\n    LogisticRegression().fit(df, df.y)\n",
            "serve/app.py": "import pandas as pd\nfrom fastapi import FastAPI\nfrom src.features import preprocess\n"
                            "app = FastAPI()\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                            "    return MODEL.predict(preprocess(pd.DataFrame([row])))\n",
        }, "present"),
        Example({
            "src/features.py": "def preprocess(df):\n    return df.fillna(0)\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('data.csv'))\n    LogisticRegression().fit(df, df.y)\n",
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\ndef clean(df):\n    return df.fillna(0)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                      "    return str(MODEL.predict(clean(request.json)))\n",
        }, "absent", "serving re-implements the preprocessing"),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n"}, "not-applicable"),
        Example({
            "train.py": "import pickle\nimport pandas as pd\nfrom sklearn.feature_extraction import DictVectorizer\n"
                        "from sklearn.linear_model import LinearRegression\n\n\ndef prepare_features(df):\n"
                        "    df['PU_DO'] = df['PU'] + '_' + df['DO']\n    return df\n\n\nif __name__ == '__main__':\n"
                        "    df = prepare_features(pd.read_parquet('data.parquet'))\n    dv = DictVectorizer()\n"
                        "    X = dv.fit_transform(df[['PU_DO']].to_dict('records'))\n    model = LinearRegression().fit(X, df.y)\n"
                        "    with open('model.bin', 'wb') as f:\n        pickle.dump((dv, model), f)\n",
            "predict.py": "import pickle\nfrom flask import Flask, jsonify, request\n\nwith open('model.bin', 'rb') as f:\n"
                          "    dv, model = pickle.load(f)\napp = Flask('duration')\n\n\ndef prepare_features(ride):\n"
                          "    return {'PU_DO': f\"{ride['PU']}_{ride['DO']}\"}\n\n\n@app.route('/predict', methods=['POST'])\n"
                          "def predict_endpoint():\n    X = dv.transform(prepare_features(request.get_json()))\n"
                          "    return jsonify({'duration': float(model.predict(X)[0])})\n",
        }, "partial", "the fitted vectorizer is reused, the feature logic re-implemented by hand in serving"),
        Example({
            "model/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                              "if __name__ == '__main__':\n    df = pd.read_csv('iris.csv')\n"
                              "    X, y = df[['a', 'b', 'c', 'd']], df['species']\n"
                              "    joblib.dump(RandomForestClassifier().fit(X, y), 'model.pkl')\n",
            "api/app.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\nmodel = joblib.load('model.pkl')\n\n"
                          "@app.post('/predict')\ndef predict(a: float, b: float, c: float, d: float):\n"
                          "    return {'y': str(model.predict([[a, b, c, d]])[0])}\n",
        }, "present", "trivial parity: raw features in, the same model, nothing to re-implement"),
    )

    def check(self, facts):
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        graph = facts.graph
        reach = serving_reach(facts)
        serving_files = graph.serving_files
        train = offline_closure(graph, serving_files)
        all_serving = set().union(*reach.values()) if reach else set()
        shared = sorted(n for n in all_serving & train if node_path(n) not in serving_files)
        shared = [n for n in shared if not _nested_function(graph, n)]
        by_name = [n for n in shared if FEATURE_WORDS.search(node_name(n))]
        by_path = [n for n in shared if n not in by_name and FEATURE_WORDS.search(node_path(n))]
        feature_shared = by_name + by_path
        refits = []
        for idx, call in graph.calls_in(all_serving):
            if call.attr in ("fit", "fit_transform", "partial_fit") and TRANSFORMERS.search(call.name):
                refits.append((idx, call))
        for idx, call in refits[:3]:
            yield self.found("gap", idx.path, call.line,
                             f"{call.name} fits a transform on request data at serving time, so encodings diverge from training")
        emitted = 0
        for n in feature_shared[:5]:
            data = graph.g.nodes[n]
            if refits and any(node_path(n) == i.path for i, _ in refits):
                continue
            emitted += 1
            yield self.found("supports", data.get("path", node_path(n)), data.get("line"),
                             f"serving and training both use {node_name(n)}")
        # fitted artefacts that training writes and serving reads
        written = {v for u in train if u in graph.g for _, v, k in graph.g.out_edges(u, data="kind") if k == "writes"}
        loaded_model = None
        for u, v, data in graph.g.edges(data=True):
            if data.get("kind") == "reads" and u in all_serving and v.startswith("art:"):
                name = v[4:]
                if FEATURE_WORDS.search(name) and (v in written or artefact_kind(name) == "model"):
                    emitted += 1
                    yield self.found("supports", node_path(u), data.get("line"),
                                     f"serving loads the fitted transform {name} saved by training")
                elif loaded_model is None:
                    loaded_model = (node_path(u), data.get("line"), name)
        own_features = []
        train_feature_defs = {node_name(n).rsplit(".", 1)[-1].lower() for n in train
                              if n.startswith("def:") and FEATURE_WORDS.search(node_name(n))}
        for n in sorted(all_serving):
            if n.startswith("def:") and node_path(n) in serving_files and FEATURE_WORDS.search(node_name(n)) \
                    and n not in train and graph.g.nodes[n].get("kind") == "function" and not LOADER.match(node_name(n).rsplit(".", 1)[-1]):
                own_features.append(n)
        if own_features and (train_feature_defs or not emitted):
            n = own_features[0]
            yield self.found("gap", node_path(n), graph.g.nodes[n].get("line"),
                             f"serving defines its own preprocessing {node_name(n)} instead of sharing training's")
            applied = next(((i, c) for i, c in graph.calls_in(all_serving) if c.attr == "transform"
                            and not c.name.startswith("?self")), None)
            if not emitted and not refits and loaded_model is not None and applied is not None:
                yield self.found("partial", applied[0].path, applied[1].line,
                                 f"serving applies the fitted transform loaded from {loaded_model[2]} (saved by training), "
                                 f"but re-implements feature logic by hand ({node_name(n)} in {node_path(n)})")
        if not emitted and not refits and not own_features:
            if loaded_model or any(c.attr in SERVING_LOAD_ATTRS for _, c in graph.calls_in(all_serving)):
                where = loaded_model or next((i.path, c.line, c.name) for i, c in graph.calls_in(all_serving) if c.attr in SERVING_LOAD_ATTRS)
                if not _transforms_features(graph, train):
                    yield self.found("supports", where[0], where[1],
                                     f"trivial parity: training transforms no features (no feature functions, encoders, "
                                     f"scalers or get_dummies), and serving feeds the request to the trained model it loads "
                                     f"({where[2]})")
                else:
                    yield self.found("partial", where[0], where[1],
                                     f"serving loads the trained model ({where[2]}) but shares no preprocessing code with training")


FEATURE_CALLS = re.compile(r"(Encoder|Scaler|Vectori[sz]er|Imputer|Normali[sz]e|Binarizer|Discretizer|PCA|Polynomial|"
                           r"Tokenizer|OneHot|Ordinal|get_dummies|transforms\.|ColumnTransformer|sklearn\.pipeline|"
                           r"FunctionTransformer|log1p|\.cut$|\.qcut$)")
FEATURE_DEF = re.compile(r"(?i)(feature|preprocess|transform|encod|engineer|featuri[sz]e|normali[sz]e|scale|tokeni[sz]e)")
FIT_ATTRS = {"fit", "train", "fit_generator", "train_model"}


def _transforms_features(graph, train) -> bool:
    """Whether training transforms its inputs at all (feature functions, encoders, scalers, image
    transforms, a fitted pipeline), or cannot be seen fitting a model (notebooks run by papermill)."""
    from mlscan.rules._mlcode import in_example_dir
    calls = [c for i, c in graph.calls_in(train) if not in_example_dir(i.path)]
    if not any(c.attr in FIT_ATTRS for c in calls):
        return True
    if any(n.startswith("def:") and FEATURE_DEF.search(node_name(n).rsplit(".", 1)[-1]) for n in train):
        return True
    return any(FEATURE_CALLS.search(c.name) for c in calls)


def _nested_function(graph, node: str) -> bool:
    """A function defined inside another function (not a method)."""
    if not node.startswith("def:"):
        return False
    path, qual = node[4:].rsplit(":", 1)
    if "." not in qual:
        return False
    owner = f"def:{path}:{qual.rsplit('.', 1)[0]}"
    return graph.g.nodes.get(owner, {}).get("kind") == "function"


def offline_closure(graph, serving_files) -> set:
    """What training-side code reaches: the training closure plus every offline entry point
    (featurize/prepare scripts, pipeline stages), since preprocessing often runs before training."""
    nodes = set(graph.training_closure)
    starts = []
    for ep in graph.entry_points:
        target_path = ep.target[4:].rsplit(":", 1)[0] if ep.target.startswith("def:") else ep.target[4:]
        if ep.kind in ("serve", "docker") or target_path in serving_files:
            continue
        starts.append(ep.node)
    return nodes | graph.code_reach_all(starts)
