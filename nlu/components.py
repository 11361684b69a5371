"""Custom Rasa NLU components.

- ``ChineseTextNormalizer`` runs first: full-width → half-width and
  Traditional → Simplified, so everything after it sees one script.
- ``KnowledgeEntityExtractor`` reads the EntityRuler matches of the project's
  spaCy pipeline and returns the knowledge key (e.g. ``ant_consumer_finance``
  for 借呗) as the entity value, keeping the words the user typed in ``text``.
- ``SafetyNet`` runs after the classifiers: words of despair or immediate
  danger make the message a safety message, whatever the model guessed.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import knowledge
from nlu import spacy_pipeline  # noqa: F401  (registers the jieba tokenizer)
from nlu.text import normalize


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class ChineseTextNormalizer(GraphComponent):
    """Normalises the message text before tokenisation (training and runtime)."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseTextNormalizer:
        return cls()

    def _normalize(self, message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str):
            message.set(TEXT, normalize(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize(message)
        return messages


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
    is_trainable=False,
    model_from="SpacyNLP",
)
class KnowledgeEntityExtractor(SpacyEntityExtractor):
    """EntityRuler matches as entities whose value is the knowledge key."""

    @staticmethod
    def _extract_entities(doc: Any) -> list[dict[str, Any]]:
        return [
            {
                "entity": ent.label_,
                "value": ent.ent_id_ or ent.text,
                "text": ent.text,
                "start": ent.start_char,
                "end": ent.end_char,
                "confidence": None,
            }
            for ent in doc.ents
        ]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyNet(GraphComponent):
    """Makes a message that names danger a safety message, whatever the intent
    classifier guessed ("我站在楼顶上" must reach 12356 even if the model
    took it for a greeting). The words come from ``safety_words`` in the
    knowledge file; runs after the classifiers, before the FallbackClassifier."""

    DESPAIR = "safety_despair"
    THREAT = "safety_threat"
    # These answer a threat themselves (110 in the assessment, the log entry).
    THREAT_HANDLED_BY = frozenset({"report_harassment", "log_incident", "correct_incident"})

    def __init__(self, despair: list[str], threat: list[str]) -> None:
        self.despair = re.compile("|".join(map(re.escape, despair))) if despair else None
        self.threat = re.compile("|".join(map(re.escape, threat))) if threat else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyNet:
        words = knowledge.load().data.get("safety_words") or {}
        return cls(words.get("despair") or [], words.get("threat") or [])

    def override(self, text: str, intent: str | None) -> str | None:
        """The safety intent ``text`` calls for, or None to keep ``intent``."""
        if intent == self.DESPAIR:
            return None
        if self.despair and self.despair.search(text):
            return self.DESPAIR
        if intent in self.THREAT_HANDLED_BY or intent == self.THREAT:
            return None
        if self.threat and self.threat.search(text):
            return self.THREAT
        return None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/"):
                continue  # button payloads say exactly what they mean
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            safety = self.override(text, intent)
            if safety is None:
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != safety]
            chosen = {INTENT_NAME_KEY: safety, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
        return messages
