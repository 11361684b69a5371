"""The user-facing words of the evidence locker, kept in ``messages.yml``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

MESSAGES = Path(__file__).with_name("messages.yml")


@functools.lru_cache(maxsize=1)
def messages() -> dict[str, Any]:
    with MESSAGES.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def text(path: str, **values: Any) -> str:
    """``text("refusals.too_big", max_mb=20)`` → the sentence, filled in."""
    node: Any = messages()
    for part in path.split("."):
        node = node[part]
    return str(node).format(**values) if values else str(node)
