from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import CHECKSUM_DOWNLOADS, HASH_KWARGS

DOWNLOAD_ATTR = re.compile(r"(?i)download|fetch|retrieve|get_file|cached_path")
HEX_DIGEST = re.compile(r"^((md5|sha1|sha256|sha512):)?([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$")
SHELL_DOWNLOAD = re.compile(r"\b(wget|curl|kaggle\s+(datasets|competitions)\s+download|gsutil\s+cp|aws\s+s3\s+cp)\b")
SHELL_CHECKSUM = re.compile(r"\b(md5sum|sha1sum|sha256sum|sha512sum|shasum)\b")
SHELL_DIGEST = re.compile(r"\b([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})\b")
WEIGHTS = re.compile(r"(?i)\.(pt|pth|ckpt|safetensors|onnx|bin|tflite|engine)$|weights|checkpoint|pretrained")


def _expected_hash(call):
    """The expected-hash argument of a download call, or None when it gives none."""
    known = CHECKSUM_DOWNLOADS.get(call.name)
    if known is not None:
        key, pos = known
        if key is None:
            return None
        value = call.kwarg(key, call.args[pos] if pos is not None and len(call.args) > pos else None)
        return value
    if DOWNLOAD_ATTR.search(call.attr):
        return next((v for k, v in call.kwargs if k in HASH_KWARGS and v is not None), None)
    return None


class ChecksumPinnedDownloads(Rule):
    """Downloaded data is pinned by a checksum

    Evidence: data downloads that name the hash of the file they expect: torchvision
    `download_url(..., md5=)`/`download_and_extract_archive(..., md5=)`, Keras
    `get_file(..., file_hash=)`, `pooch.retrieve(url, known_hash=)`, `torch.hub.download_url_to_file(..., hash_prefix=)`,
    or any download helper called with an `md5=`/`sha256=`/`checksum=` argument, and `pooch.create`
    registries of file hashes, and download scripts that check what `wget`/`curl` fetched with
    `md5sum`/`sha256sum` against a digest written in the script. The digest must be written in the repo (in the call or the same
    module); a hash computed at run time pins nothing. The hash pins one version of the data, so this is partial data
    versioning: the data is fixed, but there is no history of versions. Downloads of model
    weights do not count.
    """

    id = "checksum-pinned-downloads"
    practice = "data-versioning"
    examples = (
        Example({"models.py": "from tensorflow.keras.utils import get_file\n\nBASE_WEIGHT_URL = 'https://example.org/releases/'\n\n\n"
                              "def backbone():\n    fname = 'resnet_weights_tf_dim_ordering_tf_kernels.h5'\n"
                              "    return get_file(fname, BASE_WEIGHT_URL + fname, cache_subdir='models',\n"
                              "                    file_hash='e693bd0210a403b3192acc6073ad2e96')\n"},
                "absent", "pretrained weights fetched with a pinned hash are a model download, not data"),
        Example({"data/download.py": "from torchvision.datasets.utils import download_and_extract_archive\n\n"
                                     "URL = 'https://example.org/flowers.tgz'\nMD5 = '0123456789abcdef0123456789abcdef'\n\n"
                                     "def fetch(root):\n    download_and_extract_archive(URL, root, md5=MD5)\n"},
                "partial", "a dataset archive pinned by its md5", fires=True),
        Example({"prepare.py": "import pooch\n"
                               "path = pooch.retrieve('https://example.org/train.csv', known_hash='sha256:" + "ab" * 32 + "')\n"},
                "partial", "pooch with a known hash", fires=True),
        Example({"get_data.py": "from utils import download\n\n"
                                "def main():\n    download('https://example.org/corpus.zip', 'data/', sha256='" + "cd" * 32 + "')\n"},
                "partial", "a repo's own download helper given the expected sha256", fires=True),
        Example({"prepare.py": "import pooch\npath = pooch.retrieve('https://example.org/train.csv', known_hash=None)\n"},
                "absent", "known_hash=None checks nothing", fires=False),
        Example({"fetch.py": "from torch.hub import download_url_to_file\n\ndef get(url, dst, name):\n"
                             "    download_url_to_file(url, dst, name.split('-')[-1])\n"},
                "absent", "a hash taken from the file name at run time", fires=False),
        Example({"model.py": "import torch\n"
                             "torch.hub.download_url_to_file('https://example.org/resnet50.pth', 'w.pth', hash_prefix='abc123')\n"},
                "absent", "pinned model weights are not data", fires=False),
        Example({"tools/download_data.sh": "#!/bin/bash\nd=dataset/lang\nwget https://example.org/train.tar.gz -P $d\n"
                                          "md5=$(md5sum $d/train.tar.gz | awk '{print $1}')\n"
                                          "[ $md5 != \"c2cea55fd22a2b867d295fb35a2d3340\" ] && echo 'bad md5' && exit 1\n"},
                "partial", "a download script that checks the archive's md5", fires=True),
        Example({"tools/download_data.sh": "#!/bin/bash\nwget https://example.org/train.tar.gz\nmd5sum train.tar.gz\n"},
                "absent", "an md5 printed, compared with nothing", fires=False),
    )

    def check(self, facts):
        yield from self._scripts(facts)
        shown = 0
        for idx, call in facts.call_table.calls(_download_call, facts.non_test_code(), attrs=_download_attr,
                                                      roots=_DOWNLOAD_ROOTS):
            if shown >= 3:
                break
            if call.name.startswith("pooch") and call.attr == "create" and call.has_kwarg("registry"):
                yield self.found("partial", idx.path, call.line, "checksum-pinned download: a pooch registry pins the hash of each data file")
                shown += 1
                continue
            expected = _expected_hash(call)
            if expected is None:
                continue
            if not (isinstance(expected, str) and HEX_DIGEST.match(expected)) \
                    and not any(HEX_DIGEST.match(v) for v, _ in facts.string_literals(idx.path)):
                continue  # the hash is computed at run time (from a file name, a flag): nothing in the repo pins it
            literals = [a for a in call.args if isinstance(a, str)] + [v for _, v in call.kwargs if isinstance(v, str)]
            if any(WEIGHTS.search(s) for s in literals if s is not expected) or _fetches_weights(facts, idx, call):
                continue
            yield self.found("partial", idx.path, call.line,
                             f"checksum-pinned download: {call.attr}() names the expected hash of the data it fetches")
            shown += 1


    def _scripts(self, facts):
        """A download script that compares the fetched file's checksum with a digest it writes down."""
        by_path: dict = {}
        for path, line, cmd in facts.shell_commands:
            by_path.setdefault(path, []).append((line, cmd))
        for path, cmds in sorted(by_path.items()):
            downloads = [cmd for _, cmd in cmds if SHELL_DOWNLOAD.search(cmd)]
            if not downloads or all(WEIGHTS.search(cmd) for cmd in downloads):
                continue
            checked = [line for line, cmd in cmds if SHELL_CHECKSUM.search(cmd)]
            digests = [line for line, cmd in cmds if SHELL_DIGEST.search(cmd)]
            near = [line for line in checked if any(abs(line - d) <= 3 for d in digests)]
            if near:
                yield self.found("partial", path, near[0], "checksum-pinned download: the script checks the data it "
                                                           "fetches against a digest written in it")
                return


def _fetches_weights(facts, idx, call) -> bool:
    """Pretrained weights fetched by name (`get_file(fname, BASE_WEIGHT_URL + fname, cache_subdir='models')`
    after `fname = '..._weights.h5'`): a pinned model download, not data."""
    if call.kwarg("cache_subdir") in ("models", "weights", "checkpoints"):
        return True
    if any(WEIGHT_NAME.search(n) for n in call.arg_names):
        return True
    return any(call.line - 5 <= line <= call.line and WEIGHTS.search(value)
               for value, line in facts.string_literals(idx.path))


WEIGHT_NAME = re.compile(r"(?i)weight|checkpoint|pretrained|ckpt")
_DOWNLOAD_ROOTS = {"pooch"} | {n.split(".")[0] for n in CHECKSUM_DOWNLOADS}


def _download_attr(attr: str) -> bool:
    return bool(DOWNLOAD_ATTR.search(attr))


def _download_call(name: str) -> bool:
    """The names check() can say something about: a pooch registry, or a call _expected_hash() knows."""
    attr = name.rpartition(".")[2]
    return name.startswith("pooch") and attr == "create" or name in CHECKSUM_DOWNLOADS or bool(DOWNLOAD_ATTR.search(attr))
