"""Serving-side questions shared by the parity and payload rules."""
from __future__ import annotations

import re
from typing import Dict, List, Set, Tuple

from mlscan.facts.graph import CODE_PREFIXES
from mlscan.rules._vocab import SERVER_IMAGES

SERVING_KINDS = {"InferenceService": "KServe", "SeldonDeployment": "Seldon", "InferenceGraph": "KServe",
                 "ServingRuntime": "KServe", "Endpoint": "", "EndpointConfig": ""}
FEATURE_TOKENS = re.compile(
    r"(pre)?process(es|ed|ing|or|ors)?|transform(s|ed|er|ers|ation)?|features?|featuri[sz]e[rd]?|featuri[sz]ation|"
    r"stem|tokeni[sz](e|er|ers|ation)|encode[rs]?|encoding|normali[sz](e|er|ation)|clean(er|ing)?|prepare|preparation|"
    r"letterbox|scaler?s?|scaling|vectori[sz]e[rs]?|collate|augment(s|ation|er)?|resize[rd]?|imputer?|pipeline|"
    r"embed(ding)?s?|datamodule")


class _FeatureWords:
    """Whole identifier words that name preprocessing (`clean_text`, `CustomPreprocessor`,
    `letterbox`), not substrings (`_descale_pred`); also works on paths and artefact names."""

    @staticmethod
    def search(name: str) -> bool:
        words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
        return any(FEATURE_TOKENS.fullmatch(w) for w in re.split(r"[^a-z0-9]+", words) if w)


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
        return sorted(out)
    return facts.memo("serving.configs", compute)


def has_serving(facts) -> bool:
    return bool(facts.graph.serving_endpoints or serving_manifests(facts) or serving_configs(facts))


NO_SERVING = ("no serving code found (looked for web-framework routes, model-server classes such as KServe, "
              "BentoML, Ray Serve or TorchServe handlers, SageMaker/Azure inference scripts, Gradio/Streamlit apps, "
              "Lambda handlers, serving manifests and model-server configs such as TF Serving or Triton)")


def serving_reach(facts, with_startup: bool = True) -> Dict[str, Set[str]]:
    """Serving endpoint handler -> the code nodes it reaches; `with_startup` adds what the serving
    module runs when it starts (loading models and transforms), not only per request."""
    graph = facts.graph
    out: Dict[str, Set[str]] = {}
    for ep in graph.serving_endpoints:
        nodes = graph.reachable(ep.handler)
        if with_startup or ep.handler.startswith("mod:"):
            nodes |= graph.reachable(f"mod:{ep.path}")
            if f"main:{ep.path}" in graph.g:  # served apps are usually started from their main block
                nodes |= graph.reachable(f"main:{ep.path}")
        if graph.g.nodes.get(ep.handler, {}).get("kind") == "class":  # a model-server class: every method serves
            prefix = ep.handler + "."
            for n in [m for m in graph.g.successors(ep.handler) if m.startswith(prefix)]:
                nodes |= graph.reachable(n)
        out[ep.handler] = _with_methods(graph, {n for n in nodes if n.startswith(CODE_PREFIXES)})
    return out


def _with_methods(graph, nodes: Set[str]) -> Set[str]:
    """An object serving creates is used by it: a framework calls its methods (a Gradio flagging
    callback's `flag`, a handler's `handle`), so the methods of classes serving reaches count too."""
    extra: Set[str] = set()
    for n in nodes:
        if graph.g.nodes.get(n, {}).get("kind") == "class":
            prefix = n + "."
            for m in graph.g.successors(n):
                if m.startswith(prefix) and m not in nodes:
                    extra |= graph.reachable(m)
    return nodes | {n for n in extra if n.startswith(CODE_PREFIXES)}


TRANSFORMERS = re.compile(r"(Encoder|Scaler|Vectori[sz]er|Imputer|Normali[sz]er|Binarizer|Discretizer|PCA|"
                          r"PolynomialFeatures|Transformer|Tokenizer|OneHot|Ordinal|LabelBinarizer|QuantileTransformer)\(\)")


def node_path(node: str) -> str:
    if node.startswith("def:"):
        return node[4:].rsplit(":", 1)[0]
    return node.split(":", 1)[1]


def node_name(node: str) -> str:
    return node.rsplit(":", 1)[1] if node.startswith("def:") else node.split(":", 1)[1]
