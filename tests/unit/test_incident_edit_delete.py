"""Changing and deleting a log entry, on trackers built here (no trained model):
which entry the user means, the yes before a deletion, and what is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rasa_sdk.events import SlotSet

from actions.incidents import (
    ActionApplyCorrection,
    ActionAskDeleteConfirmed,
    ActionDeleteIncident,
    ValidateIncidentDeleteForm,
    ValidateIncidentEditForm,
)
from incidents import store as store_module
from tests.unit.conftest import make_tracker, project_domain, texts

USER = "test-user"  # make_tracker's sender id


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(store_module.ENV_URL, f"sqlite:///{tmp_path}/incidents.db")
    store_module.reset_store()
    yield store_module.get_store()
    store_module.reset_store()


def two_entries(store) -> list:
    base = (datetime.now() - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    store.add(USER, occurred_at=base, contacted_person="母亲", description="问我儿子在哪")
    store.add(
        USER, occurred_at=base + timedelta(days=1, hours=13), contacted_person="父亲", description="骂人"
    )
    return store.list(USER)


def slot_values(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_the_delete_form_reads_which_entry_from_the_first_message(dispatcher, store):
    two_entries(store)
    tracker = make_tracker("把第2条删了", "delete_incident", active_loop="incident_delete_form")
    events = await ValidateIncidentDeleteForm().run(dispatcher, tracker, project_domain())
    assert slot_values(events).get("incident_ref") == 2


async def test_deletion_needs_a_clear_yes(dispatcher, store):
    two_entries(store)
    asked = {"requested_slot": "delete_confirmed", "incident_ref": 1}
    maybe = make_tracker("嗯…我再想想", "deny", slots=asked, active_loop="incident_delete_form")
    events = await ValidateIncidentDeleteForm().run(dispatcher, maybe, project_domain())
    assert slot_values(events).get("delete_confirmed") is False
    yes = make_tracker("对，删掉", "affirm", slots=asked, active_loop="incident_delete_form")
    events = await ValidateIncidentDeleteForm().run(dispatcher, yes, project_domain())
    assert slot_values(events).get("delete_confirmed") is True


async def test_the_entry_is_shown_before_it_is_deleted(dispatcher, store):
    two_entries(store)
    tracker = make_tracker("删第2条", "delete_incident", slots={"incident_ref": 2})
    await ActionAskDeleteConfirmed().run(dispatcher, tracker, project_domain())
    said = texts(dispatcher)
    assert "父亲" in said and "23:00" in said  # the entry itself, in the question
    assert "母亲" not in said


async def test_a_confirmed_deletion_removes_only_that_entry(dispatcher, store):
    two_entries(store)
    tracker = make_tracker("对", "affirm", slots={"incident_ref": 1, "delete_confirmed": True})
    events = await ActionDeleteIncident().run(dispatcher, tracker, project_domain())
    [left] = store.list(USER)
    assert left.contacted_person == "父亲"
    assert "1" in texts(dispatcher)  # how many are left
    assert SlotSet("incident_ref", None) in events and SlotSet("delete_confirmed", None) in events


async def test_without_a_yes_nothing_is_deleted(dispatcher, store):
    two_entries(store)
    tracker = make_tracker("算了", "deny", slots={"incident_ref": 1, "delete_confirmed": False})
    await ActionDeleteIncident().run(dispatcher, tracker, project_domain())
    assert len(store.list(USER)) == 2
    assert "utter_delete_cancelled" in texts(dispatcher)


async def test_the_edit_form_takes_the_entry_and_the_new_value_from_one_message(dispatcher, store):
    two_entries(store)
    tracker = make_tracker(
        "第1条的时间应该是前天晚上九点", "correct_incident", active_loop="incident_edit_form"
    )
    events = await ValidateIncidentEditForm().run(dispatcher, tracker, project_domain())
    values = slot_values(events)
    assert values.get("incident_ref") == 1
    assert values.get("correction_value") == "第1条的时间应该是前天晚上九点"


async def test_a_corrected_time_is_stored_and_read_back(dispatcher, store):
    first, _ = two_entries(store)
    tracker = make_tracker(
        "第1条的时间应该是前天晚上九点",
        "correct_incident",
        slots={"incident_ref": 1, "correction_value": "第1条的时间应该是前天晚上九点"},
    )
    await ActionApplyCorrection().run(dispatcher, tracker, project_domain())
    changed = store.list(USER)
    corrected = next(e for e in changed if e.id == first.id)
    expected = (store_module.local_now() - timedelta(days=2)).date()  # 前天, in Beijing time
    assert corrected.occurred_at.date() == expected and corrected.occurred_at.hour == 21
    said = texts(dispatcher)
    assert "21点" in said or "21:00" in said  # read back as told (to the hour)


async def test_an_empty_log_asks_nothing(dispatcher, store):
    tracker = make_tracker("删掉第一条", "delete_incident", active_loop="incident_delete_form")
    required = await ValidateIncidentDeleteForm().required_slots(
        ["incident_ref", "delete_confirmed"], dispatcher, tracker, project_domain()
    )
    assert required == []
    tracker = make_tracker("第1条改一下", "correct_incident")
    await ActionApplyCorrection().run(dispatcher, tracker, project_domain())
    assert "utter_no_incidents" in texts(dispatcher)
