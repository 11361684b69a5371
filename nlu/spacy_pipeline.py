"""The project's own spaCy pipeline for Chinese (no download needed).

``build()`` creates a blank ``zh`` pipeline whose tokenizer is jieba with the
domain words, adds an EntityRuler whose patterns come from the knowledge file
(lenders, relations, behaviours) plus phone-number token patterns, and saves
it with ``nlp.to_disk``. Rasa's ``SpacyNLP`` loads that folder.

The tokenizer is registered under ``anxin.jieba_tokenizer.v1``; importing this
module (the Rasa components do) makes the saved pipeline loadable.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import spacy
from spacy.lang.zh import ChineseTokenizer
from spacy.tokens import Doc
from spacy.util import get_words_and_spaces

import knowledge
from nlu import segmentation

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "build" / "spacy_zh_anxin"

MOBILE = r"^(\+?86)?1[3-9]\d{9}$"
LANDLINE = r"^0\d{2,3}-?\d{7,8}$"


class DomainJiebaTokenizer(ChineseTokenizer):
    """spaCy's jieba tokenizer, with domain words and whole numbers."""

    def __call__(self, text: str) -> Doc:
        words, spaces = get_words_and_spaces(segmentation.cut(text), text)
        return Doc(self.vocab, words=words, spaces=spaces)


@spacy.registry.tokenizers("anxin.jieba_tokenizer.v1")
def create_jieba_tokenizer():
    def make(nlp):
        segmentation.ensure_domain_words()
        return DomainJiebaTokenizer(nlp.vocab, segmenter="jieba")

    return make


def entity_patterns(kb: knowledge.Knowledge) -> list[dict[str, Any]]:
    """EntityRuler patterns; ``id`` carries the knowledge key of each match."""
    patterns: list[dict[str, Any]] = []
    for key, lender in kb.lenders.items():
        if key == "unknown":  # "不知道" is too common to be an entity
            continue
        for alias in lender.get("aliases", []):
            patterns.append({"label": "lender", "pattern": alias, "id": key})
    for key, relation in kb.relations.items():
        for alias in relation.get("aliases", []):
            if len(alias) > 1:  # 妈/爸 alone match too much inside other words
                patterns.append({"label": "relation", "pattern": alias, "id": key})
    for key, behaviour in kb.behaviours.items():
        for text in behaviour.get("patterns", []):
            patterns.append({"label": "behaviour", "pattern": text, "id": key})
    patterns += [
        {"label": "phone", "id": "mobile", "pattern": [{"TEXT": {"REGEX": MOBILE}}]},
        {"label": "phone", "id": "landline", "pattern": [{"TEXT": {"REGEX": LANDLINE}}]},
    ]
    return patterns


def build(output: Path = DEFAULT_OUTPUT, kb: knowledge.Knowledge | None = None) -> Path:
    kb = kb or knowledge.load()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "anxin.jieba_tokenizer.v1"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(entity_patterns(kb))
    nlp.meta["name"] = "anxin_rules"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "jieba + EntityRuler built from knowledge/anxin.yml"
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    path = build(args.output)
    print(f"spaCy pipeline written to {path}")


if __name__ == "__main__":
    main()
