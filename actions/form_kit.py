"""The form kit: the one base class for every form's validation action.

What every form here does the same way:

- **Explain once, then move on.** A reply that answers nothing gets the
  slot's explanation; after a second miss the form fills a fallback and moves
  on, rather than trapping a frightened user in a loop. The misses are
  counted in the form's own slot ``<form>_retries``, reset whenever the
  question asked is answered.
- **Interruptions.** A message whose intent is in ``step_aside_for`` and that
  does not answer the question (a FAQ, "where do I complain", a safety
  message...) makes the form step aside: the validation is rejected, a rule
  answers the message, and the form then asks the same question again.
- **Answers by number.** ``answer_text`` reads "2" or "选第二个" as the
  option it picks (WeChat has no buttons), but not a number inside a sentence.
- **Yes / no.** ``confirmation`` reads a confirmation from the intent, the
  button or the words (advisor/answers.py).
- Slots an ``extract_`` method sets besides its own (the counter, a time's
  precision...) are kept; rasa-sdk alone would drop them.

Recipe for a new form ``<form>`` (see ``ValidateTriageForm`` in
actions/forms.py for a full one):

1. Domain (``domain/<topic>.yml``): the form and its ``required_slots``;
   ``validate_<form>`` under ``actions``; the counter slot::

       <form>_retries:
         type: float
         influence_conversation: false
         initial_value: 0
         mappings: [{type: custom}]

   and for each slot ``utter_ask_<slot>`` and ``utter_explain_<slot>``. When
   the form gives up on a slot it says ``utter_move_on_<slot>`` if the domain
   has it, else ``utter_<form>_move_on``, else the shared ``utter_move_on``
   (slots in ``move_on_quietly`` say nothing). Add ``<form>`` to the values
   of the ``paused_form`` slot (domain/triage.yml), so that a safety message
   can pause it.
2. The validation action::

       class ValidateExampleForm(FormKit):
           step_aside_for = frozenset(INTERRUPTIONS)  # or fewer

           def name(self) -> str:
               return "validate_example_form"

           async def extract_example_slot(self, dispatcher, tracker, domain):
               if not self.asked(tracker, "example_slot"):
                   return {}
               value = read_it(answer_text(tracker))  # pure, in advisor/ or incidents/
               if value:
                   return {"example_slot": value}
               return self.missed(dispatcher, tracker, domain, "example_slot", fallback="unknown")

   A form whose questions depend on earlier answers overrides
   ``required_slots`` (the domain's list is then the superset, kept in the
   same order).
3. Rules (``data/rules/<topic>.yml``): start the form; when it ends
   (``active_loop: null``) the action that uses the slots; for each intent it
   steps aside for and that has no rule of its own in every state, "<intent>
   during <form>" (answer, then ``- action: <form>``, ``- active_loop:
   <form>``); "continue the paused <form>" (``resume`` →
   ``action_resume_form`` → ``<form>``).
4. Tests: build a tracker in the test (tests/unit/conftest.py
   ``make_tracker``), call the ``extract_`` method or ``run``, assert the
   slots and the responses (tests/unit/test_form_kit.py).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import intent_name, latest_text
from actions.options import chosen_button
from advisor.answers import yes_no

# Intents that are not answers to a form's question. A form that steps aside
# for them lets a rule answer (FAQ, where to complain, the log...) and resumes.
INTERRUPTIONS = frozenset(
    {
        "faq",
        "ask_where_complain",
        "bot_challenge",
        "ask_capabilities",
        "out_of_scope",
        "greet",
        "goodbye",
        "thanks",
        "log_incident",
        "show_log",
        "correct_incident",
        "delete_incident",
        "request_letter",
        "record_submission",
        "delete_my_data",
        "ask_privacy",
    }
)
# What every form steps aside for. (A safety message never reaches a form:
# dialogue.safety_policy answers it first; a form started after a threat
# reads the threat from the message.)
ALWAYS_STEP_ASIDE = frozenset({"safety_threat", "faq"})
# Wrong answers to one question before the form moves on.
MAX_MISSES = 2
# The shared "skip it, go on" (a form or a slot may have its own).
MOVE_ON = "utter_move_on"


def answer_text(tracker: Tracker) -> str:
    """The user's answer; a number stands for the option it picks ("2", "选第二个"),
    but not a number inside a sentence ("第2条记错了")."""
    text = latest_text(tracker).strip()
    short = len(text) <= 4 or intent_name(tracker) == "choose_option"
    button = chosen_button(tracker) if short else None
    if button:
        payload = button.get("payload", "")
        return button.get("title", "") if payload.startswith("/") else payload
    return latest_text(tracker)


def confirmation(tracker: Tracker) -> bool | None:
    """Yes / no to a confirmation question, from the button, the intent or the words."""
    return yes_no(answer_text(tracker), intent_name(tracker))


def first_response(domain: DomainDict, *names: str) -> str:
    """The first of ``names`` the domain has a response for (else the last)."""
    responses = domain.get("responses") or {}
    return next((name for name in names if name in responses), names[-1])


class FormKit(FormValidationAction):
    """Base of every form's validation action (the recipe is in the module's docstring)."""

    # Intents that are not an answer: unless the message answers the question
    # asked, the form steps aside so that a rule can answer first.
    step_aside_for: frozenset[str] = ALWAYS_STEP_ASIDE
    # Slots given up on without a word (the fallback says it all).
    move_on_quietly: frozenset[str] = frozenset()

    @abstractmethod
    def name(self) -> str: ...

    @property
    def retries_slot(self) -> str:
        """The slot counting wrong answers to the current question: ``<form>_retries``."""
        return f"{self.form_name()}_retries"

    @staticmethod
    def asked(tracker: Tracker, slot: str) -> bool:
        """Whether the question the user is answering is the one for ``slot``."""
        return tracker.get_slot("requested_slot") == slot

    def misses(self, tracker: Tracker) -> int:
        """Wrong answers so far to the question asked."""
        return int(tracker.get_slot(self.retries_slot) or 0)

    def explain_response(self, slot: str, domain: DomainDict) -> str:
        return f"utter_explain_{slot}"

    def move_on_response(self, slot: str, domain: DomainDict) -> str | None:
        if slot in self.move_on_quietly:
            return None
        return first_response(domain, f"utter_move_on_{slot}", f"utter_{self.form_name()}_move_on", MOVE_ON)

    def missed(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        slot: str,
        fallback: Any = None,
        fallback_slots: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The user answered something else: explain once; after a second miss,
        move on with ``fallback`` (and ``fallback_slots``) when the slot may
        stay unknown. An interruption is not a miss: the form steps aside."""
        if intent_name(tracker) in self.step_aside_for:
            return {}
        misses = self.misses(tracker) + 1
        if misses >= MAX_MISSES and fallback is not None:
            response = self.move_on_response(slot, domain)
            if response:
                dispatcher.utter_message(response=response)
            return {slot: fallback, **(fallback_slots or {}), self.retries_slot: 0}
        dispatcher.utter_message(response=self.explain_response(slot, domain))
        return {self.retries_slot: misses}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        answered = any(e.get("name") == requested and e.get("value") is not None for e in events)
        if requested and not answered and intent_name(tracker) in self.step_aside_for:
            if tracker.latest_action_name in (None, "action_listen"):
                return []  # step aside: a rule answers the message first
            # Back after the interruption: ask the same question again (Rasa
            # would otherwise pick the domain's first empty slot).
            return [SlotSet("requested_slot", requested)]
        return events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        slots = tracker.slots_to_validate()
        for name, value in list(slots.items()):
            method = getattr(self, f"validate_{name}", None)
            if name not in required or method is None:
                continue
            output = await method(value, dispatcher, tracker, domain)
            if isinstance(output, dict):
                slots.update(output)
                tracker.slots.update(output)
        # The question asked is answered: the next one starts with no misses.
        requested = tracker.get_slot("requested_slot")
        if (
            requested
            and slots.get(requested) is not None
            and self.retries_slot not in slots
            and self.misses(tracker)
        ):
            slots[self.retries_slot] = 0
        return [SlotSet(name, value) for name, value in slots.items()]
