"""Custom Rasa NLU components.

- ``ChineseTextNormalizer`` runs first: full-width → half-width and
  Traditional → Simplified, so everything after it sees one script.
- ``KnowledgeEntityExtractor`` reads the EntityRuler matches of the project's
  spaCy pipeline and returns the knowledge key (e.g. ``ant_consumer_finance``
  for 借呗) as the entity value, keeping the words the user typed in ``text``.
- ``IntentRules`` corrects the classifier where a rule knows better: a
  report that asks a question and never asks to record anything is a report
  (answered first), not a request to log the call.
- ``SafetyNet`` runs last, after the fallback classifier: a message that names danger
  becomes a safety message, whatever the model guessed.
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
from advisor import safety
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


def set_intent(message: Message, intent: dict[str, Any], ranking: list[dict[str, Any]]) -> None:
    """Make ``intent`` the message's intent, first in ``ranking`` (any other
    entry of the same name is dropped): the one way a rule overrides the
    classifier, so every override looks the same to what reads the parse."""
    rest = [r for r in ranking if r.get(INTENT_NAME_KEY) != intent.get(INTENT_NAME_KEY)]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent, *rest], add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentRules(GraphComponent):
    """Rules over the classifier's guess (knowledge file ``intent_rules``).

    ``log_incident`` needs a word asking to record ("记一下", "登记"): without
    one, the message is a report ("今晚又打给我妈了…能报警吗", "他们打到我单位
    前台去了"), answered first by ``action_answer_first``; and a message that opens
    by asking to record ("记录一次：…") is a log request, whatever the guess.
    "接着写" asks to go on with the paused form (``resume``)."""

    # Guesses a plain log request may be mistaken for; never a safety intent.
    MISTAKEN_FOR_A_REPORT = frozenset({"report_harassment", "inform", "out_of_scope", "nlu_fallback"})

    def __init__(
        self,
        log_words: re.Pattern,
        question: re.Pattern,
        resume: re.Pattern | None = None,
        log_request: re.Pattern | None = None,
    ) -> None:
        self.log_words = log_words
        self.question = question
        self.resume = resume
        self.log_request = log_request

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentRules:
        rules = knowledge.load().intent_rules
        return cls(
            re.compile(rules["log_words"]),
            re.compile(rules["question"]),
            re.compile(rules["resume"]),
            re.compile(rules["log_request"]) if rules.get("log_request") else None,
        )

    def corrected(self, text: str, intent: str | None) -> str | None:
        """The intent the rules call for, or None to keep the guess."""
        clean = normalize(text)
        if self.resume is not None and intent != "resume" and self.resume.search(clean):
            return "resume"
        if intent == "log_incident" and not self.log_words.search(clean):
            return "report_harassment"
        if (
            intent in self.MISTAKEN_FOR_A_REPORT
            and self.log_request is not None
            and self.log_request.search(clean)
            and not self.question.search(clean)
        ):
            return "log_incident"
        return None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/"):
                continue
            guess = message.get(INTENT) or {}
            name = self.corrected(text, guess.get(INTENT_NAME_KEY))
            if name is None:
                continue
            chosen = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: float(guess.get(PREDICTED_CONFIDENCE_KEY) or 1.0)}
            set_intent(message, chosen, message.get(INTENT_RANKING_KEY) or [])
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyNet(GraphComponent):
    """The NLU half of the safety layer: a message that names danger becomes a
    safety message (``safety_despair``, ``safety_crisis_other`` or
    ``safety_threat``), whatever the intent classifier guessed and whatever
    the conversation is doing. The patterns are the knowledge file's
    (``advisor.safety``); the model's own safety intents count too when it
    is sure and the message has a danger word (not only an exaggeration such
    as 吓死我了). The model's guess stays in the ranking, so the safety policy
    can answer a question asked in the same message. Runs last, after the
    FallbackClassifier (which would call a forced 1.0 beside the model's own
    1.0 "ambiguous"); the dialogue half is ``dialogue.safety_policy``."""

    def __init__(
        self, detector: safety.SafetyDetector, model_threshold: float = 0.98, fallback_threshold: float = 0.35
    ) -> None:
        self.detector = detector
        self.model_threshold = model_threshold
        # A dropped safety guess whose runner-up is this unsure is "not understood".
        self.fallback_threshold = fallback_threshold

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # The model's own safety guess counts only at this confidence (and with
        # a danger word): measured by `make safety-eval`.
        return {"model_threshold": 0.98, "fallback_threshold": 0.35}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyNet:
        return cls(
            safety.detector(),
            float(config.get("model_threshold", 0.98)),
            float(config.get("fallback_threshold", 0.35)),
        )

    def decide(self, text: str, intent: str | None, confidence: float = 1.0) -> tuple[str | None, bool]:
        """(the safety intent ``text`` calls for or None, whether the model's
        own safety guess is a false alarm to drop)."""
        danger = self.detector.detect(text)
        if danger is not None:
            return danger.intent, False
        if intent in safety.KIND_OF_INTENT:
            sure = confidence >= self.model_threshold and self.detector.model_may_flag(text)
            return None, not sure
        return None, False

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/"):
                continue  # button payloads say exactly what they mean
            guess = message.get(INTENT) or {}
            intent = guess.get(INTENT_NAME_KEY)
            chosen_name, drop = self.decide(text, intent, float(guess.get(PREDICTED_CONFIDENCE_KEY) or 0.0))
            ranking = message.get(INTENT_RANKING_KEY) or []
            if drop:
                # 吓死我了 is not a crisis, nor an unsure guess with no danger
                # word: the best guess that is not a safety intent.
                rest = [r for r in ranking if r.get(INTENT_NAME_KEY) not in safety.KIND_OF_INTENT]
                best = dict(rest[0]) if rest else {}
                if float(best.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < self.fallback_threshold:
                    best = {INTENT_NAME_KEY: "nlu_fallback", PREDICTED_CONFIDENCE_KEY: self.fallback_threshold}
                set_intent(message, best, rest)
            elif chosen_name is not None:
                set_intent(message, {INTENT_NAME_KEY: chosen_name, PREDICTED_CONFIDENCE_KEY: 1.0}, ranking)
        return messages
