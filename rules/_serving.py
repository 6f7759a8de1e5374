"""Serving-side questions shared by the parity and payload rules."""
from __future__ import annotations

import re
from typing import Dict, List, Set, Tuple

from mlscan.facts.graph import CODE_PREFIXES, MODEL_SERVER_FRAMEWORKS
from mlscan.rules._vocab import SERVER_IMAGES

SERVING_KINDS = {"InferenceService": "KServe", "SeldonDeployment": "Seldon", "InferenceGraph": "KServe",
                 "ServingRuntime": "KServe", "Endpoint": "", "EndpointConfig": ""}
FEATURE_TOKENS = re.compile(
    r"(pre)?process(es|ed|ing|or|ors)?|transform(s|ed|er|ers|ation)?|features?|featuri[sz]e[rd]?|featuri[sz]ation|"
    r"stem|tokeni[sz](e|er|ers|ation)|encode[rs]?|encoding|normali[sz](e|er|ation)|clean(er|ing)?|prepare|preparation|"
    r"letterbox|scaler?s?|scaling|vectori[sz]e[rs]?|collate|augment(s|ation|er)?|resize[rd]?|imputer?|pipeline|"
    r"embed(ding)?s?|datamodule")

# words that make a name about files and folders: `clean_folder` tidies a directory, it transforms no input
HOUSEKEEPING = {"folder", "folders", "dir", "dirs", "directory", "directories", "tmp", "temp", "cache", "workspace"}


class _FeatureWords:
    """Whole identifier words that name preprocessing (`clean_text`, `CustomPreprocessor`,
    `letterbox`), not substrings (`_descale_pred`); also works on paths and artefact names."""

    @staticmethod
    def search(name: str) -> bool:
        words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()) if w]
        if any(w in HOUSEKEEPING for w in words):
            return False  # `clean_folder`, `prepare_output_dir`: files and folders, not features
        return any(FEATURE_TOKENS.fullmatch(w) for w in words)


FEATURE_WORDS = _FeatureWords()


def serving_manifests(facts) -> List[Tuple[str, int, str, dict]]:
    """(path, line, platform, document) for serving deployment manifests."""
    out = []
    for doc in facts.yaml_docs():
        for d in doc.mappings():
            kind = d.get("kind")
            if isinstance(kind, str) and kind in SERVING_KINDS and SERVING_KINDS[kind]:
                out.append((doc.path, facts.line_of(doc.path, f"kind: {kind}"), SERVING_KINDS[kind], d))
    return out


def serving_configs(facts) -> List[Tuple[str, int, str]]:
    """(path, line, what) for model-server configuration that serves a model without repo code:
    BentoML build files, TF Serving model configs, Triton model configs, model-server base images."""
    def compute() -> List[Tuple[str, int, str]]:
        out = []
        for f in facts.files:
            name = f.name.lower()
            if name in ("bentofile.yaml", "bentofile.yml"):
                out.append((f.path, 1, "a BentoML build file"))
            elif name == "config.pbtxt" and re.search(r"(?m)^\s*(platform|backend)\s*:", facts.text(f.path) or ""):
                out.append((f.path, facts.line_of(f.path, "platform") or facts.line_of(f.path, "backend") or 1,
                            "a Triton model configuration"))
            elif f.suffix in (".config", ".conf", ".pbtxt") and f.size < 256 * 1024 \
                    and "model_config_list" in (facts.text(f.path) or ""):
                out.append((f.path, facts.line_of(f.path, "model_config_list"), "a TF Serving model configuration"))
        for path, instrs in sorted(facts.dockerfiles.items()):
            for i in instrs:
                image = i.value.split()[0] if i.keyword == "FROM" and i.value.split() else ""
                if image and SERVER_IMAGES.match(image):
                    out.append((path, i.line, f"a container built on the model server {image}"))
                elif i.keyword in ("CMD", "ENTRYPOINT") and MODEL_SERVER_COMMAND.search(i.value):
                    out.append((path, i.line, f"a container that starts the model server "
                                              f"{MODEL_SERVER_COMMAND.search(i.value).group(0)}"))
        for path, line, command in facts.shell_commands:
            found = MODEL_SERVER_COMMAND.search(command)
            if found:
                out.append((path, line, f"a script that starts the model server {found.group(0)}"))
        for doc in facts.yaml_docs():
            for d in doc.mappings():
                services = d.get("services") if isinstance(d.get("services"), dict) else {}
                for name, svc in services.items():
                    if not isinstance(svc, dict):
                        continue
                    image, command = str(svc.get("image") or ""), svc.get("command")
                    command = " ".join(map(str, command)) if isinstance(command, list) else str(command or "")
                    if image and SERVER_IMAGES.match(image):
                        out.append((doc.path, facts.line_of(doc.path, f"{name}:") or 1,
                                    f"a compose service {name!r} running the model server {image}"))
                    elif MODEL_SERVER_COMMAND.search(command):
                        out.append((doc.path, facts.line_of(doc.path, f"{name}:") or 1,
                                    f"a compose service {name!r} that starts the model server "
                                    f"{MODEL_SERVER_COMMAND.search(command).group(0)}"))
        return sorted(set(out))
    return facts.memo("serving.configs", compute)


def served_by_code(facts) -> bool:
    """Whether repo code serves requests (routes, model-server classes, apps, batch-scoring jobs),
    rather than only a model server running the deployed artefact (a deploy call, a config, a manifest)."""
    return any(ep.framework not in MODEL_SERVER_FRAMEWORKS for ep in facts.graph.serving_endpoints)


def model_server_deployments(facts) -> List[Tuple[str, int, str]]:
    """(path, line, what) for each way a model server is handed the trained model without repo code
    on the request path: deploy calls, model-server configs and serving manifests."""
    out = [(ep.path, ep.line, ep.label) for ep in facts.graph.serving_endpoints if ep.framework in MODEL_SERVER_FRAMEWORKS]
    out += [(path, line, what) for path, line, what in serving_configs(facts)]
    out += [(path, line, f"a {platform} serving manifest") for path, line, platform, _ in serving_manifests(facts)]
    return out


# commands that start a model server on a saved model (no serving code of the repo's own)
MODEL_SERVER_COMMAND = re.compile(r"\bmlflow\s+models\s+serve\b|\btorchserve\s+--start\b|\btritonserver\b|"
                                  r"\btensorflow_model_server\b|\bmlserver\s+start\b|\bseldon-core-microservice\b")


def has_serving(facts) -> bool:
    return bool(facts.graph.serving_endpoints or serving_manifests(facts) or serving_configs(facts))


NO_SERVING = ("no serving code found (looked for web-framework routes, model-server classes such as KServe, "
              "BentoML, Ray Serve, TorchServe, Cog or LitServe, SageMaker/Azure inference scripts, Gradio/Streamlit apps, "
              "Lambda handlers, batch-scoring jobs that write predictions to a table or cloud storage, prediction scripts "
              "a scheduled CI workflow runs, Gradio apps launched from notebooks, models deployed "
              "to SageMaker/Vertex/Azure/MLflow endpoints, serving manifests and model-server configs such as TF Serving "
              "or Triton)")


# the functions of an inference script a model server calls by name, for each request or when the
# model is loaded: nothing in the script calls them, so the module's own reach misses them
FRAMEWORK_RUNS = {"sagemaker": ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn"),
                  "azureml": ("init", "run"), "torchserve": ("initialize", "preprocess", "inference", "postprocess",
                                                             "handle")}


def serving_reach(facts, with_startup: bool = True) -> Dict[str, Set[str]]:
    """Serving endpoint handler -> the code nodes it reaches; `with_startup` adds what the serving
    module runs when it starts (loading models and transforms), not only per request."""
    graph = facts.graph
    out: Dict[str, Set[str]] = {}
    for ep in graph.serving_endpoints:
        if ep.framework in MODEL_SERVER_FRAMEWORKS:
            continue  # deployment code: the model server runs the artefact, not this code
        nodes = graph.reachable(ep.handler)
        for name in FRAMEWORK_RUNS.get(ep.framework, ()) if ep.handler.startswith("mod:") else ():
            if f"def:{ep.path}:{name}" in graph.g:   # the server calls them by name: nothing in the file does
                nodes |= graph.reachable(f"def:{ep.path}:{name}")
        if with_startup or ep.handler.startswith("mod:"):
            nodes |= graph.reachable(f"mod:{ep.path}")
            for hook in startup_hooks(graph, ep.path):
                nodes |= graph.reachable(hook)
            if f"main:{ep.path}" in graph.g:  # served apps are usually started from their main block
                nodes |= graph.reachable(f"main:{ep.path}")
        if graph.g.nodes.get(ep.handler, {}).get("kind") == "class":  # a model-server class: every method serves
            prefix = ep.handler + "."
            for n in [m for m in graph.g.successors(ep.handler) if m.startswith(prefix)]:
                nodes |= graph.reachable(n)
        out[ep.handler] = with_methods(graph, {n for n in nodes if n.startswith(CODE_PREFIXES)})
    return out


# decorators by which a web framework runs a function when the app starts (`@app.on_event("startup")`)
STARTUP_DECORATORS = {"before_first_request", "before_serving", "on_startup", "startup"}


def startup_hooks(graph, path: str) -> List[str]:
    """Functions of a serving file its framework runs when the app starts (FastAPI's
    `@app.on_event("startup")`, Flask's `@app.before_first_request`, Quart's `@app.before_serving`):
    where served apps load their model and fitted transforms."""
    idx = graph.code.get(path)
    if idx is None:
        return []
    out = []
    for qual, d in idx.defs.items():
        for dec, arg in zip(d.decorators, d.decorator_args):
            attr = dec.rsplit(".", 1)[-1]
            if attr in STARTUP_DECORATORS or (attr == "on_event" and arg == "startup"):
                out.append(f"def:{path}:{qual}")
                break
    return [n for n in out if n in graph.g]


def with_methods(graph, nodes: Set[str]) -> Set[str]:
    """An object serving creates is used by it: a framework calls its methods (a Gradio flagging
    callback's `flag`, a handler's `handle`), so the methods of classes serving reaches count too."""
    methods = graph.class_methods
    out = set(nodes)
    for n in nodes & methods.keys():
        for m in methods[n]:
            if m not in nodes:
                out.update(graph._code_reach(m))
    return out


TRANSFORMERS = re.compile(r"(Encoder|Scaler|Vectori[sz]er|Imputer|Normali[sz]er|Binarizer|Discretizer|PCA|"
                          r"PolynomialFeatures|Transformer|Tokenizer|OneHot|Ordinal|LabelBinarizer|QuantileTransformer)\(\)")


def node_path(node: str) -> str:
    if node.startswith("def:"):
        return node[4:].rsplit(":", 1)[0]
    return node.split(":", 1)[1]


def node_name(node: str) -> str:
    return node.rsplit(":", 1)[1] if node.startswith("def:") else node.split(":", 1)[1]


# (rule examples) a notebook that launches a Gradio demo (a comment ending in `?` is code, not IPython help)
NOTEBOOK_DEMO = (
    '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "import torch\\nfrom src.transforms '
    'import eval_transform\\n\\nmodel = torch.load(\'model.pt\')\\n\\n\\ndef predict(img):\\n    return '
    'model(eval_transform()(img))\\n"}, {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import gradio '
    'as gr\\n\\ndemo = gr.Interface(fn=predict,  # input to output\\n                    inputs=gr.Image(type=\'pil\'),'
    '  # what are the inputs?\\n                    outputs=gr.Label())\\ndemo.launch()\\n"}, {"cell_type": "code", '
    '"metadata": {}, "outputs": [], "source": "with open(\'notes.txt\', \'w\') as f:\\n    f.write(\'demo '
    'launched\')\\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')

