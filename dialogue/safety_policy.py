"""The dialogue half of the safety layer: a safety message is answered first,
in every state, and never taken as a form answer or a button choice.

Rasa's RulePolicy runs an active form before any rule (the "loop happy path",
a prediction that overrules all others), so a form would take "我不想活了" as
the answer to its question. This policy outranks it. Whenever the latest
message carries a safety intent (set by ``nlu.components.SafetyNet``), it
predicts, in order:

1. the reply for that kind of danger (domain responses generated from the
   knowledge file, so it works even when the action server is down);
2. if a form was running: ``action_deactivate_loop``, remembering the form in
   ``paused_form`` (its slots stay), and ``utter_offer_resume`` — "继续"
   resumes it (``action_resume_form``);
3. for a threat only: what the same message also asked (the classifier's own
   guess, kept second in the ranking): an answer, a report, a log entry;
4. ``action_listen`` — unless a report or log entry started in step 3 was
   complete at once; then the form's own rules follow (the summary).

It predicts nothing for any other message, and it needs no training.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from advisor.safety import CRISIS_OTHER, DESPAIR, KIND_OF_INTENT, THREAT

# The bubbles for each kind of danger, in order.
REPLIES = {
    DESPAIR: ["utter_safety_despair", "utter_safety_despair_support"],
    CRISIS_OTHER: ["utter_safety_crisis_other", "utter_safety_crisis_other_stay"],
    THREAT: ["utter_safety_threat", "utter_safety_threat_steps"],
}
PAUSE = "action_deactivate_loop"
OFFER_RESUME = "utter_offer_resume"
PAUSED_FORM_SLOT = "paused_form"
# What the message also asked, beside a threat, is done after the safety
# reply: a question is answered, a report or a log entry is started (the
# forms read the threat from the message). Not beside despair: "if I die, is
# the debt gone?" must not get a debt answer.
ANSWER_AFTER_THREAT = {
    "faq": "action_answer_faq",
    "ask_where_complain": "action_where_to_complain",
    "report_harassment": "triage_form",
    "log_incident": "incident_form",
}
MIN_ANSWER_CONFIDENCE = 0.5


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class SafetyPolicy(Policy):
    """Answers a safety message first, above every other policy."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (6): on equal confidence the higher priority wins.
        return {"priority": 7}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        step = next_step(tracker)
        if step is None:
            return self._prediction(probabilities)
        action, events = step
        probabilities[domain.index_for_action(action)] = 1.0
        # A "no user" prediction, like an active form's own turn: of those
        # the higher priority wins, so the form cannot take the message.
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)


def next_step(tracker: DialogueStateTracker) -> tuple[str, list[Event]] | None:
    """The next action after a safety message (with events to apply first),
    or None when the latest message is not a safety message."""
    user, ran = _latest_user_and_actions_since(tracker)
    if user is None:
        return None
    kind = KIND_OF_INTENT.get((user.intent or {}).get("name"))
    if kind is None:
        return None
    for reply in REPLIES[kind]:
        if reply not in ran:
            return reply, []
    loop = tracker.active_loop_name
    if loop and PAUSE not in ran:
        return PAUSE, [SlotSet(PAUSED_FORM_SLOT, loop)]
    if PAUSE in ran and OFFER_RESUME not in ran:
        return OFFER_RESUME, []
    answer = _answer_after(kind, user)
    if answer and answer not in ran:
        return answer, []
    if answer in ran and answer.endswith("_form") and tracker.active_loop_name is None:
        # The report or log the message also was is already complete: the
        # form's own rules say what follows (the summary, saving the entry).
        return None
    return ACTION_LISTEN_NAME, []


def _latest_user_and_actions_since(tracker: DialogueStateTracker) -> tuple[UserUttered | None, list[str]]:
    ran: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event, ran
        if isinstance(event, ActionExecuted) and event.action_name and event.action_name != ACTION_LISTEN_NAME:
            ran.append(event.action_name)
    return None, ran


def _answer_after(kind: str, user: UserUttered) -> str | None:
    if kind != THREAT:
        return None
    ranking = (user.parse_data or {}).get("intent_ranking") or []
    guess = next((r for r in ranking if r.get("name") not in KIND_OF_INTENT), None)
    if not guess or (guess.get("confidence") or 0) < MIN_ANSWER_CONFIDENCE:
        return None
    return ANSWER_AFTER_THREAT.get(guess.get("name"))
