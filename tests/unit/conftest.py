"""Fixtures for action tests: trackers built like the ones Rasa sends."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import knowledge


def user_event(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
        },
    }


def bot_event(text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": buttons} if buttons else {}}


def make_tracker(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    latest = user_event(text, intent, entities)
    events = list(history or []) + [latest]
    return Tracker(
        sender_id="test-user",
        slots={"requested_slot": None, "triage_form_retries": 0, **(slots or {})},
        latest_message=latest["parse_data"],
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def kb() -> knowledge.Knowledge:
    return knowledge.load()


def texts(dispatcher: CollectingDispatcher) -> str:
    """What the user reads, and the names of the responses sent."""
    return "\n".join(
        "\n".join(filter(None, [m.get("response"), rendered(m).get("text")])) for m in dispatcher.messages
    )


@functools.lru_cache(maxsize=1)
def project_domain() -> dict[str, Any]:
    """The domain as Rasa sends it to the action server (responses, forms, slots)."""
    from rasa.shared.core.domain import Domain

    return Domain.load("domain").as_dict()


@pytest.fixture
def domain() -> dict[str, Any]:
    return copy.deepcopy(project_domain())


def rendered(message: dict[str, Any]) -> dict[str, Any]:
    """A dispatched message as the user gets it: a domain response is filled
    with the values the action passed, as Rasa does."""
    from rasa.core.nlg import interpolator

    name = message.get("response")
    if not name:
        return message
    template = copy.deepcopy(project_domain()["responses"][name][0])
    values = {k: v for k, v in message.items() if k not in ("response", "template") and v not in (None, [], {})}
    filled = interpolator.interpolate(template, values) if values else template
    return {**message, **filled, "response": name}


def said(dispatcher: CollectingDispatcher) -> str:
    """Everything the user reads, responses filled in."""
    return "\n".join(rendered(m).get("text") or "" for m in dispatcher.messages)


# --- evidence: fresh stores and a sample screenshot -------------------------------------------------


@pytest.fixture
def evidence_stores(tmp_path, monkeypatch):
    """A fresh incident store and evidence store in ``tmp_path``: (incidents, evidence)."""
    from evidence import store as evidence_store
    from incidents import store as incident_store

    monkeypatch.setenv(incident_store.ENV_URL, f"sqlite:///{tmp_path}/incidents.db")
    monkeypatch.setenv(evidence_store.ENV_DIR, str(tmp_path / "evidence"))
    incident_store.reset_store()
    evidence_store.reset_store()
    yield incident_store.get_store(), evidence_store.get_store()
    incident_store.reset_store()
    evidence_store.reset_store()


@pytest.fixture(scope="session")
def screenshot() -> bytes:
    """A call-log screenshot drawn with Pillow (evidence/samples.py)."""
    from evidence import samples

    return samples.png_bytes(samples.sample_call_log())
