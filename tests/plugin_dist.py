"""Install the test plugin distributions under tests/plugins/ the way pip installs any package:
each is packed into a wheel (built here by hand, so no build backend or network is needed) and
`pip install --no-index --target DIR` puts its modules and .dist-info (with the `mlscan.rules`
entry points) into DIR. Put DIR on PYTHONPATH and importlib.metadata finds the plugins."""
from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

PLUGINS = Path(__file__).resolve().parent / "plugins"

# distribution name -> (package folder, entry points name -> module)
DISTRIBUTIONS: Dict[str, Tuple[str, Dict[str, str]]] = {
    "acme-mlscan-rules": ("acme_mlscan_rules", {"acme": "acme_mlscan_rules"}),
    "acme-faulty-rules": ("acme_faulty_rules", {"faulty": "acme_faulty_rules",
                                                "broken": "acme_faulty_rules.broken"}),
}


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(dist: str, dest: Path, version: str = "1.0") -> Path:
    package, entry_points = DISTRIBUTIONS[dist]
    stem = dist.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    files: List[Tuple[str, bytes]] = [
        (f"{package}/{p.name}", p.read_bytes()) for p in sorted((PLUGINS / package).glob("*.py"))]
    files += [
        (f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: mlscan-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/entry_points.txt",
         ("[mlscan.rules]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())).encode()),
    ]
    record = "\n".join([_record_line(n, d) for n, d in files] + [f"{info}/RECORD,,"]) + "\n"
    wheel = dest / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files + [(f"{info}/RECORD", record.encode())]:
            zf.writestr(name, data)
    return wheel


def install_plugins(target: Path, dists=tuple(DISTRIBUTIONS)) -> Path:
    """pip-install the plugin distributions into `target`; returns it (for PYTHONPATH)."""
    wheels_dir = target.parent / (target.name + "-wheels")
    wheels_dir.mkdir(parents=True, exist_ok=True)
    wheels = [str(build_wheel(d, wheels_dir)) for d in dists]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), *wheels],
                   check=True, capture_output=True, timeout=120)
    return target
