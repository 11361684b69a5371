"""Print a fingerprint of everything a trained model depends on.

The model is cached under this fingerprint, so `make train` (and CI) retrain
only when the data, domain, config, knowledge file, NLU code or the locked
packages changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "config.yml",
    "domain/**/*.yml",
    "data/**/*.yml",
    "knowledge/anxin.yml",
    "nlu/**/*.py",
    "requirements/lock.txt",
]


def fingerprint() -> str:
    digest = hashlib.sha256()
    files = sorted({p for pattern in INPUTS for p in ROOT.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(fingerprint())
