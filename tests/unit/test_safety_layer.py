"""The safety layer: danger is recognised in any wording we collected, ordinary
exaggerations are not, and a safety message is answered first in every state
(a form, a confirmation), with the form paused and its slots kept.

The sets in tests/safety/ were written by people who never saw the patterns
(safety_blind.yml was measured blind first: see docs/maintainers.md); `make
safety-eval` prints the same numbers per kind, and for the trained model too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message

from advisor import safety
from dialogue.safety_policy import OFFER_RESUME, PAUSE, REPLIES, next_step
from nlu.components import SafetyNet
from nlu.text import normalize
from tests.unit.test_nlu_data import TRAINING

ROOT = Path(__file__).resolve().parents[2]
SETS = sorted((ROOT / "tests" / "safety").glob("*.yml"))
MAX_FALSE_ALARMS = 0.02


def _load(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    dangers = [(kind, str(t)) for kind, texts in data["dangers"].items() for t in texts]
    return dangers, [str(t) for t in data["negatives"]]


def test_the_safety_sets_are_big_enough():
    dangers = [d for path in SETS for d in _load(path)[0]]
    negatives = [n for path in SETS for n in _load(path)[1]]
    assert len(dangers) >= 150 and len(negatives) >= 150
    assert {kind for kind, _ in dangers} == set(safety.KINDS)


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.stem)
def test_no_danger_is_missed(path):
    dangers, _ = _load(path)
    missed = [text for _, text in dangers if safety.detect(text) is None]
    assert missed == []


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.stem)
def test_few_false_alarms(path):
    _, negatives = _load(path)
    alarms = [text for text in negatives if safety.detect(text) is not None]
    assert len(alarms) <= MAX_FALSE_ALARMS * len(negatives), alarms


def test_the_safety_sets_never_leak_into_training():
    training = {normalize(text) for _, text in TRAINING}
    leaked = [t for path in SETS for _, t in _load(path)[0] if normalize(t) in training]
    leaked += [t for path in SETS for t in _load(path)[1] if normalize(t) in training]
    assert leaked == []


@pytest.mark.parametrize(
    "text, kind",
    [
        ("我真的熬不下去了 想一觉睡过去", safety.DESPAIR),
        ("我欠了八万 我妈天天被骂 我不想活了", safety.DESPAIR),  # the mother is named, the user despairs
        ("我妈说她活着没意思 饭也不吃", safety.CRISIS_OTHER),
        ("我老公刚给我发消息说对不起 然后关机了", safety.CRISIS_OTHER),
        ("同事发消息跟我说想从公司楼上跳下去", safety.CRISIS_OTHER),  # 跟我说: the user only listens
        ("我姐吞了一整瓶药", safety.CRISIS_OTHER),
        ("他們說知道我兒子在哪個學校 讓我小心點", safety.THREAT),  # Traditional
        ("催收说今晚带人来砸门", safety.THREAT),
        ("门口有两个男的坐着不走", safety.THREAT),
    ],
)
def test_each_kind_is_told_apart(text, kind):
    danger = safety.detect(text)
    assert danger is not None and danger.kind == kind


@pytest.mark.parametrize(
    "text",
    ["烦死了 一天二十个电话", "吓死我了 还以为是法院", "笑死 他们还冒充律师", "我爸死活不接电话",
     "累死了 刚下夜班", "急死了 明天就要还", "打死也不还这种高利贷", "我跳过了这一步 直接投诉行吗",
     "我妈在吃降压药 他们还天天打", "我住顶楼 他们说要上门", "说要上门核实地址 怎么办",
     "借款人去年去世了 家里人要还吗"],
)
def test_ordinary_words_are_not_danger(text):
    assert safety.detect(text) is None


def test_the_patterns_recognise_the_safety_training_data():
    """The model is trained on these; the patterns must catch them too (a
    retrain cannot take a pattern away). One in a hundred may need the model."""
    safety_examples = [(intent, text) for intent, text in TRAINING if intent in safety.KIND_OF_INTENT]
    missed = [(intent, text) for intent, text in safety_examples if safety.detect(text) is None]
    assert len(missed) <= len(safety_examples) // 100, missed


# -- the NLU component ---------------------------------------------------------

NET = SafetyNet(safety.detector())


def classified(text: str, intent: str, confidence: float = 0.6) -> Message:
    message = Message(data={"text": normalize(text)})
    ranking = [{"name": intent, "confidence": confidence}, {"name": "faq", "confidence": 0.4}]
    message.set("intent", dict(ranking[0]))
    message.set("intent_ranking", ranking)
    return message


@pytest.mark.parametrize("guessed", ["greet", "inform", "affirm", "choose_option", "faq", "report_harassment"])
def test_danger_overrides_any_guess_and_keeps_it_visible(guessed):
    message = NET.process([classified("你们写了又有什么用 我真的不想活了", guessed)])[0]
    assert message.get("intent") == {"name": "safety_despair", "confidence": 1.0}
    assert guessed in [r["name"] for r in message.get("intent_ranking")]


def test_a_model_safety_guess_on_an_exaggeration_is_dropped():
    message = NET.process([classified("吓死我了 他们说要起诉", "safety_threat")])[0]
    assert message.get("intent")["name"] == "faq"


def test_a_sure_model_safety_guess_stands_when_the_patterns_miss():
    text = "感觉一切都完了 这个世界好累"
    assert safety.detect(text) is None, "this test is about the model alone"
    message = NET.process([classified(text, "safety_despair", 0.99)])[0]
    assert message.get("intent")["name"] == "safety_despair"


def test_an_unsure_model_safety_guess_is_dropped():
    message = NET.process([classified("感觉一切都完了 这个世界好累", "safety_despair", 0.7)])[0]
    assert message.get("intent")["name"] == "faq"


def test_button_payloads_are_untouched():
    message = NET.process([classified('/faq{"faq_topic":"go_to_jail"}', "faq")])[0]
    assert message.get("intent")["name"] == "faq"


# -- the dialogue policy ---------------------------------------------------------

DOMAIN = Domain.load(str(ROOT / "domain"))


def tracker_in(loop: str | None, intent: str, guess: str = "inform", guess_confidence: float = 0.8):
    events = [ActionExecuted("action_listen")]
    if loop:
        events += [ActionExecuted(loop), ActiveLoop(loop), SlotSet("requested_slot", "some_slot"),
                   ActionExecuted("action_listen")]
    parse = {"intent": {"name": intent, "confidence": 1.0},
             "intent_ranking": [{"name": intent, "confidence": 1.0}, {"name": guess, "confidence": guess_confidence}]}
    events.append(UserUttered("...", parse["intent"], parse_data=parse))
    return DialogueStateTracker.from_events("u", events, slots=DOMAIN.slots)


def run_policy(tracker: DialogueStateTracker) -> list[str]:
    """Apply the policy's steps until it listens; return the actions."""
    done = []
    for _ in range(10):
        action, events = next_step(tracker)
        for event in events:
            tracker.update(event)
        done.append(action)
        if action == "action_listen":
            return done
        tracker.update(ActionExecuted(action))
        if action == PAUSE:
            tracker.update(ActiveLoop(None))
            tracker.update(SlotSet("requested_slot", None))
    raise AssertionError(f"the policy never listens: {done}")


@pytest.mark.parametrize("loop", ["triage_form", "incident_form", "incident_edit_form", "letter_form", "erase_form"])
@pytest.mark.parametrize("kind", safety.KINDS)
def test_danger_in_any_form_is_answered_first_and_the_form_paused(loop, kind):
    tracker = tracker_in(loop, safety.INTENT_OF_KIND[kind])
    actions = run_policy(tracker)
    assert actions == [*REPLIES[kind], PAUSE, OFFER_RESUME, "action_listen"]
    assert tracker.get_slot("paused_form") == loop
    assert tracker.active_loop_name is None


def test_outside_a_form_the_reply_is_all():
    assert run_policy(tracker_in(None, "safety_crisis_other")) == [*REPLIES[safety.CRISIS_OTHER], "action_listen"]


def test_a_question_beside_a_threat_is_answered_after_it():
    actions = run_policy(tracker_in(None, "safety_threat", guess="faq"))
    assert actions == [*REPLIES[safety.THREAT], "action_answer_faq", "action_listen"]


def test_a_report_beside_a_threat_that_is_complete_at_once_is_summed_up_by_its_rules():
    tracker = tracker_in(None, "safety_threat", guess="report_harassment")
    for action in [*REPLIES[safety.THREAT], "triage_form"]:
        tracker.update(ActionExecuted(action))
    assert next_step(tracker) is None, "the form finished: RulePolicy's summary rule follows"


def test_a_question_beside_despair_is_not_answered():
    # "If I die, is the debt gone?" must not get a debt answer.
    assert "action_answer_faq" not in run_policy(tracker_in(None, "safety_despair", guess="faq"))


def test_other_messages_are_left_to_the_other_policies():
    assert next_step(tracker_in("triage_form", "inform")) is None


def test_every_reply_the_policy_sends_is_in_the_domain():
    for replies in REPLIES.values():
        for name in [*replies, OFFER_RESUME]:
            assert name in DOMAIN.action_names_or_texts
