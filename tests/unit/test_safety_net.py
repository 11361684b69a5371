"""The safety net: words of despair or danger make a message a safety message,
whatever the intent classifier guessed, and never flip anything else."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

import knowledge
from nlu.components import SafetyNet
from nlu.text import normalize
from tests.unit.test_nlu_data import TEST_SETS, TRAINING

WORDS = knowledge.load().data["safety_words"]
NET = SafetyNet(WORDS["despair"], WORDS["threat"])


def classified(text: str, intent: str, confidence: float = 0.6) -> Message:
    message = Message(data={"text": normalize(text)})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    return message


@pytest.mark.parametrize(
    "text, guessed, expected",
    [
        ("我站在楼顶上", "greet", "safety_despair"),
        ("我媽說還不上就去尋短見", "faq", "safety_despair"),  # Traditional, normalised first
        ("活不下去了", "deny", "safety_despair"),
        ("有时候好想消失", "greet", "safety_despair"),
        ("帮我记一下 我儿子说要跳河", "log_incident", "safety_despair"),  # despair comes first
        ("门外有人在砸门 我好怕", "faq", "safety_threat"),
        ("他们拿刀堵在楼下", "inform", "safety_threat"),
    ],
)
def test_danger_words_make_a_safety_message(text, guessed, expected):
    message = NET.process([classified(text, guessed)])[0]
    assert message.get("intent") == {"name": expected, "confidence": 1.0}
    assert message.get("intent_ranking")[0]["name"] == expected
    assert guessed in [r["name"] for r in message.get("intent_ranking")], "the model's guess stays visible"


@pytest.mark.parametrize("intent", sorted(SafetyNet.THREAT_HANDLED_BY))
def test_threats_in_a_report_or_log_are_left_to_their_flow(intent):
    message = NET.process([classified("昨晚他们说要来砸门", intent)])[0]
    assert message.get("intent")["name"] == intent


def test_payloads_and_ordinary_messages_are_untouched():
    for text, intent in [('/faq{"faq_topic":"family_liability"}', "faq"), ("催收说要起诉我们全家", "faq")]:
        assert NET.process([classified(text, intent)])[0].get("intent")["name"] == intent


@pytest.mark.parametrize("name", ["training", *sorted(TEST_SETS)])
def test_no_labelled_example_is_flipped_wrongly(name):
    data = TRAINING if name == "training" else TEST_SETS[name]
    wrong = []
    for intent, text in data:
        label = intent.split("/")[0]
        safety = NET.override(normalize(text), label)
        if safety is not None and safety != label:
            wrong.append((label, text, safety))
    assert wrong == []
