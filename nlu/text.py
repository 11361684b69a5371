"""Pure text normalisation, shared by the NLU component, actions and channels."""

from __future__ import annotations

import functools
import re
import unicodedata

_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=1)
def _t2s():
    # OpenCC's converter loads its dictionaries once; later calls are cheap.
    from opencc import OpenCC

    return OpenCC("t2s")


def normalize(text: str | None) -> str:
    """Return ``text`` in the form the NLU pipeline is trained on.

    - full-width letters, digits and punctuation become half-width (NFKC);
    - Traditional Chinese becomes Simplified (OpenCC ``t2s``);
    - runs of white space collapse to one space, ends are trimmed.

    Never raises: anything that is not a string yields ``""``.
    """
    if not isinstance(text, str) or not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    return _SPACES.sub(" ", text).strip()
