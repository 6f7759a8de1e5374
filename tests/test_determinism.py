"""The same input gives byte-identical JSON, whatever the number of worker processes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlscan.facts.indexing import PARALLEL_MIN_BYTES

SERVE = '''import logging
from fastapi import FastAPI
from src.features import preprocess
app = FastAPI()
log = logging.getLogger("payloads")


@app.post("/predict")
def predict(row: dict):
    y = MODEL.predict(preprocess(row))
    log.info("payload %s", {"input": row, "prediction": y})  # a non-literal argument with no names
    return {"y": y}
'''
# large enough to be indexed in worker processes, cheap to parse
FILLER = 'def helper(x):\n    return compute(x)\n\n\nTABLE = """\n' + "0123456789abcdef\n" * 5000 + '"""\n'


def test_parallel_and_serial_indexing_give_identical_reports(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("")
    (tmp_path / "src" / "features.py").write_text("def preprocess(row):\n    return row\n")
    (tmp_path / "serve.py").write_text(SERVE)
    (tmp_path / "train.py").write_text("import numpy as np\nfrom sklearn.svm import SVC\nfrom src.features import preprocess\n"
                                       "np.random.seed(0)\nSVC().fit(preprocess(np.random.rand(4, 2)), [0, 1, 0, 1])\n")
    (tmp_path / "pkg").mkdir()
    for i in range(max(60, PARALLEL_MIN_BYTES // len(FILLER) + 2)):
        (tmp_path / "pkg" / f"m{i:03d}.py").write_text(FILLER)

    def scan(jobs: str) -> str:
        return subprocess.run([sys.executable, "-m", "mlscan", "scan", str(tmp_path), "--format", "json",
                               "--jobs", jobs], capture_output=True, text=True, check=True).stdout
    serial, parallel = scan("1"), scan("2")
    assert serial == parallel
    assert '"serving logs requests/predictions' in serial


MODELS = '''import torch


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, 8, 3)


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose3d(8, 4, 2)


class Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.parts = torch.nn.Sequential(Encoder(), Decoder(), Head())
'''
TRAIN = '''import torch
from models import Net


def main():
    model = Net()
    torch.manual_seed(0)
    torch.optim.SGD(model.parameters(), lr=0.1).step()


if __name__ == "__main__":
    main()
'''


def test_reports_do_not_depend_on_the_string_hash_seed(tmp_path: Path):
    """Python salts str hashes per process: a rule that takes "the first" of a set of names would name
    another layer from run to run (seed-after-init did, on a real repository)."""
    import os
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "train.py").write_text(TRAIN)

    def scan(seed: str) -> str:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        return subprocess.run([sys.executable, "-m", "mlscan", "scan", str(tmp_path), "--format", "json", "--no-cache"],
                              capture_output=True, text=True, check=True, env=env).stdout
    reports = {scan(str(seed)) for seed in range(8)}
    assert len(reports) == 1
    assert "seeds only after" in reports.pop()
