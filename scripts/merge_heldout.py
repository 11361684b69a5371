"""Merge the held-out NLU files (tests/nlu_heldout*.yml) into one file for `rasa test nlu`."""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main(target: str) -> None:
    blocks = []
    for path in sorted(ROOT.glob("tests/nlu_heldout*.yml")):
        blocks += yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", [])
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(
        yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False, width=1000),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(sys.argv[1])
