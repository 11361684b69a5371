"""The letter actions on trackers built here (no trained model, no server):
nothing is written without a yes, the letter says what is right for its
author and lender, and a sent complaint is recorded with its due date."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions.letters import ActionAskLetterConfirmed, ActionRecordSubmission, ActionWriteLetter
from incidents import store as store_module
from tests.unit.conftest import make_tracker, project_domain, rendered

USER = "test-user"


@pytest.fixture(autouse=True)
def fresh_store(tmp_path, monkeypatch):
    monkeypatch.setenv(store_module.ENV_URL, f"sqlite:///{tmp_path}/incidents.db")
    store_module.reset_store()
    store = store_module.get_store()
    store.add(
        USER,
        occurred_at=datetime.now() - timedelta(days=1, hours=2),
        contacted_person="母亲",
        caller_number="13812345678",
        behaviours=["insults"],
        description="骂人",
    )
    yield store
    store_module.reset_store()


def texts(dispatcher) -> str:
    """What the user reads: responses filled in, and a letter's title and body."""
    parts = []
    for message in dispatcher.messages:
        letter = (message.get("custom") or {}) if message.get("custom", {}).get("type") == "letter" else None
        parts.append(
            f"{letter['title']}\n{letter['body']}" if letter else rendered(message).get("text") or ""
        )
    return "\n".join(parts)


def letter_cards(dispatcher) -> list[dict]:
    return [m["custom"] for m in dispatcher.messages if (m.get("custom") or {}).get("type") == "letter"]


def letter_slots(**extra) -> dict:
    return {
        "letter_kind": "lender_complaint",
        "letter_confirmed": True,
        "lender": "ant_consumer_finance",
        "user_role": "parent",
        "letter_author_name": "王丽",
        "letter_author_phone": "13900001111",
        "letter_borrower_name": "张强",
        **extra,
    }


async def test_nothing_is_written_without_a_yes(dispatcher):
    tracker = make_tracker("算了", "deny", slots=letter_slots(letter_confirmed=False))
    events = await ActionWriteLetter().run(dispatcher, tracker, project_domain())
    assert [m.get("response") for m in dispatcher.messages] == ["utter_letter_cancelled"]
    assert SlotSet("letter_kind", None) in events


async def test_a_parents_letter_refuses_the_debt_and_travels_once(dispatcher):
    await ActionWriteLetter().run(
        dispatcher, make_tracker("确认", "affirm", slots=letter_slots()), project_domain()
    )
    said = texts(dispatcher)
    assert "重庆蚂蚁消费金融有限公司" in said and "王丽" in said
    assert "本人不是借款人" in said and "不构成任何还款承诺" in said
    [card] = letter_cards(dispatcher)
    assert card["docx_base64"] and card["label"] == "给放款机构的投诉信"
    # The letter is not repeated as text: no other message carries its body.
    others = [rendered(m).get("text") or "" for m in dispatcher.messages if m.get("custom") is None]
    assert not any(card["title"] in text or "本人不是借款人" in text for text in others)
    assert "交给：" in said and "工单号" in said  # where it goes, and to tell the bot when sent


async def test_a_guarantors_letter_asks_for_lawful_contact_not_silence(dispatcher):
    tracker = make_tracker("确认", "affirm", slots=letter_slots(user_role="guarantor"))
    await ActionWriteLetter().run(dispatcher, tracker, project_domain())
    said = texts(dispatcher)
    assert "删除本人的手机号码" not in said and "立即停止以电话、短信或其他任何方式联系本人" not in said
    assert "保证人" in said and "依法、文明" in said


async def test_a_micro_loan_letter_does_not_cite_the_bank_association(dispatcher):
    tracker = make_tracker(
        "确认", "affirm", slots=letter_slots(letter_kind="regulator_complaint", lender="generic_microloan")
    )
    await ActionWriteLetter().run(dispatcher, tracker, project_domain())
    said = texts(dispatcher)
    assert "银行业协会" not in said and "GB/T 45251" in said


async def test_the_summary_before_writing_says_what_is_missing(dispatcher):
    tracker = make_tracker(
        "写吧", "affirm", slots=letter_slots(letter_author_name=None, letter_confirmed=None)
    )
    await ActionAskLetterConfirmed().run(dispatcher, tracker, project_domain())
    said = texts(dispatcher)
    assert "来电记录：1 条" in said and "【待填写】" in said and "属实" in said


async def test_a_sent_complaint_is_recorded_with_its_reference(dispatcher, fresh_store):
    tracker = make_tracker("昨天已经向12378投诉了，工单号是 A2026-778", "record_submission")
    await ActionRecordSubmission().run(dispatcher, tracker, project_domain())
    assert "记下了" in texts(dispatcher) and "A2026-778" in texts(dispatcher)
    [submission] = fresh_store.list_submissions(USER)
    assert submission.reference == "A2026-778" and submission.kind == "regulator_complaint"


async def test_a_question_about_a_hotline_is_answered_not_recorded(dispatcher, fresh_store):
    tracker = make_tracker("12378是干嘛的", "record_submission")
    events = await ActionRecordSubmission().run(dispatcher, tracker, project_domain())
    assert events == [FollowupAction("action_answer_faq")] and fresh_store.list_submissions(USER) == []
