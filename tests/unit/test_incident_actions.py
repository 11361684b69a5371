"""The incident log's and the erasure's actions, on trackers built here (no
trained model, no server): what the user reads and what is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rasa_sdk.events import SlotSet

from actions.incidents import INCIDENT_SLOTS, ActionSaveIncident, ActionShowLog
from actions.privacy import ActionEraseMyData
from incidents import store as store_module
from tests.unit.conftest import make_tracker, project_domain, texts

USER = "test-user"  # make_tracker's sender id


@pytest.fixture(autouse=True)
def fresh_store(tmp_path, monkeypatch):
    monkeypatch.setenv(store_module.ENV_URL, f"sqlite:///{tmp_path}/incidents.db")
    store_module.reset_store()
    yield store_module.get_store()
    store_module.reset_store()



def entry_slots(when: datetime, **extra) -> dict:
    return {
        "incident_time": when.isoformat(),
        "incident_time_text": "昨晚十一点",
        "incident_time_precision": "minute",
        "incident_caller": "13812345678",
        "incident_contacted": "母亲",
        "incident_description": "说再不还就去单位闹",
        "incident_behaviours": ["threats"],
        "incident_evidence": [],
        **extra,
    }


async def test_a_saved_entry_is_read_back_masked_with_the_rules_it_breaks(dispatcher, fresh_store):
    night = (datetime.now() - timedelta(days=1)).replace(hour=23, minute=0, second=0, microsecond=0)
    tracker = make_tracker("没有", "inform", slots=entry_slots(night))
    events = await ActionSaveIncident().run(dispatcher, tracker, {})
    said = texts(dispatcher)
    assert "记下了，第 1 条" in said and "23:00" in said
    assert "13812345678" not in said and "138" in said  # the number is masked
    assert "深夜" in said or "22:00" in said or "晚上" in said  # the night rule
    assert "录音" in said  # no evidence yet: a reminder
    assert all(SlotSet(slot, None) in events for slot in INCIDENT_SLOTS)  # ready for the next one
    [stored] = fresh_store.list(USER)
    assert stored.caller_number == "13812345678" and stored.behaviours == ["threats"]


async def test_an_unreadable_time_saves_nothing_and_says_so(dispatcher, fresh_store):
    tracker = make_tracker("没有", "inform", slots=entry_slots(datetime.now(), incident_time="not a time"))
    await ActionSaveIncident().run(dispatcher, tracker, {})
    assert "没有记上" in texts(dispatcher)
    assert fresh_store.list(USER) == []


async def test_the_log_counts_calls_per_person_called(dispatcher, fresh_store):
    day = (datetime.now() - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    for minutes in range(7):  # seven calls to the mother in one morning
        fresh_store.add(USER, occurred_at=day + timedelta(minutes=minutes * 10), contacted_person="母亲",
                        caller_number=f"1391234567{minutes}")
    await ActionShowLog().run(dispatcher, make_tracker("看看记录", "show_log"), project_domain())
    said = texts(dispatcher)
    assert "一共记了 7 条" in said and "不合规" in said and "次数过多" in said


async def test_an_empty_log_says_so(dispatcher):
    await ActionShowLog().run(dispatcher, make_tracker("看看记录", "show_log"), project_domain())
    assert [m.get("response") for m in dispatcher.messages] == ["utter_no_incidents"]


async def test_erasure_needs_a_yes_and_then_removes_everything(dispatcher, fresh_store):
    fresh_store.add(USER, occurred_at=datetime.now() - timedelta(hours=1), contacted_person="母亲")
    await ActionEraseMyData().run(dispatcher, make_tracker("算了", "deny", slots={"erase_confirmed": False}), {})
    assert len(fresh_store.list(USER)) == 1 and dispatcher.messages[-1]["response"] == "utter_erase_cancelled"

    events = await ActionEraseMyData().run(dispatcher, make_tracker("确认", "affirm", slots={"erase_confirmed": True}), {})
    assert fresh_store.list(USER) == [] and SlotSet("data_erased", True) in events
    assert {"type": "data_erased"} in [m.get("custom") for m in dispatcher.messages]
