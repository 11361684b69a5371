"""The form kit (actions/form_kit.py) and what moved below the actions with
it: trackers built here, no trained model."""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from pathlib import Path

import pytest
from rasa_sdk.events import SlotSet

from actions import form_kit
from actions.common import lender_from, role_from, say
from actions.forms import ValidateTriageForm
from actions.incidents import ValidateIncidentForm
from actions.privacy import ValidateEraseForm
from advisor import answers
from incidents import text as incident_text
from tests.unit.conftest import bot_event, make_tracker, project_domain, rendered

ROOT = Path(__file__).resolve().parents[2]


def kit_forms() -> list[type[form_kit.FormKit]]:
    import actions.letters  # noqa: F401  (registers its form)

    found, todo = [], list(form_kit.FormKit.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not inspect.isabstract(cls):
            found.append(cls)
    return found


def test_every_form_on_the_kit_has_its_own_retries_slot_in_the_domain():
    domain = project_domain()
    forms = kit_forms()
    expected = {
        "validate_triage_form",
        "validate_incident_form",
        "validate_erase_form",
        "validate_letter_form",
    }
    assert expected <= {f().name() for f in forms}
    for cls in forms:
        form = cls()
        assert form.form_name() in domain["forms"], form.name()
        assert form.retries_slot == f"{form.form_name()}_retries"
        assert form.retries_slot in domain["slots"], f"declare {form.retries_slot} in the domain"


def test_every_response_an_action_names_is_in_the_domain():
    responses = project_domain()["responses"]
    for path in sorted((ROOT / "actions").glob("*.py")):
        code = path.read_text(encoding="utf-8")
        for name in re.findall(r'response="(utter_\w+)"|say\(\s*domain,\s*"(utter_\w+)"', code):
            name = "".join(name)
            assert name in responses, f"{path.name} sends {name}, which the domain lacks"


async def test_a_miss_is_explained_once_then_the_form_moves_on(dispatcher, domain):
    form = ValidateTriageForm()
    first = make_tracker("嗯嗯", "affirm", slots={"requested_slot": "debt_repaid"})
    assert await form.extract_debt_repaid(dispatcher, first, domain) == {"triage_form_retries": 1}
    second = make_tracker("嗯嗯", "affirm", slots={"requested_slot": "debt_repaid", "triage_form_retries": 1})
    moved = await form.extract_debt_repaid(dispatcher, second, domain)
    assert moved == {"debt_repaid": "unknown", "triage_form_retries": 0}
    assert [m["response"] for m in dispatcher.messages] == ["utter_explain_debt_repaid", "utter_move_on"]
    assert rendered(dispatcher.messages[1])["text"] == "没关系，这个先跳过，我们往下走。"


async def test_moving_on_says_the_slots_own_words_else_the_forms(dispatcher, domain):
    form = ValidateIncidentForm()
    slots = {"requested_slot": "incident_time", "incident_form_retries": 1}
    moved = await form.extract_incident_time(dispatcher, make_tracker("嗯", "affirm", slots=slots), domain)
    assert moved["incident_time_text"] == "时间不详" and moved["incident_form_retries"] == 0
    slots = {"requested_slot": "incident_evidence", "incident_form_retries": 1}
    assert await form.extract_incident_evidence(
        dispatcher, make_tracker("嗯", "affirm", slots=slots), domain
    ) == {
        "incident_evidence": [],
        "incident_form_retries": 0,
    }
    said = [rendered(m)["text"] for m in dispatcher.messages]
    assert said == [
        "没关系，时间先记成今天、具体几点不详，以后可以再改。",
        "没关系，这一项先空着，以后可以再改。",
    ]


async def test_an_interruption_is_not_a_miss(dispatcher, domain):
    tracker = make_tracker(
        "这个正常吗？", "faq", slots={"requested_slot": "debt_repaid", "triage_form_retries": 1}
    )
    assert await ValidateTriageForm().extract_debt_repaid(dispatcher, tracker, domain) == {}
    assert dispatcher.messages == []


async def test_the_form_steps_aside_then_asks_the_same_question_again(dispatcher, domain):
    slots = {
        "requested_slot": "debt_repaid",
        "user_role": "parent",
        "lender": "webank",
        "reported_behaviours": [],
    }
    tracker = make_tracker("在哪里投诉", "ask_where_complain", slots=slots)
    assert await ValidateTriageForm().run(dispatcher, tracker, domain) == []
    tracker.latest_action_name = "action_where_to_complain"  # the rule answered; the form runs again
    assert await ValidateTriageForm().run(dispatcher, tracker, domain) == [
        SlotSet("requested_slot", "debt_repaid")
    ]


async def test_an_answered_question_resets_the_count(dispatcher, domain):
    slots = {
        "requested_slot": "debt_repaid",
        "triage_form_retries": 1,
        "user_role": "parent",
        "lender": "webank",
        "reported_behaviours": [],
    }
    events = await ValidateTriageForm().run(
        dispatcher, make_tracker("还没还清", "inform", slots=slots), domain
    )
    assert SlotSet("debt_repaid", "not_repaid") in events and SlotSet("triage_form_retries", 0) in events


def test_a_number_picks_the_option_just_offered():
    history = [
        bot_event("?", [{"title": "甲", "payload": "写报警材料"}, {"title": "乙", "payload": "/greet"}])
    ]
    assert form_kit.answer_text(make_tracker("1", "choose_option", history=history)) == "写报警材料"
    assert form_kit.answer_text(make_tracker("2", "choose_option", history=history)) == "乙"
    assert (
        form_kit.answer_text(make_tracker("第2条记错了", "correct_incident", history=history))
        == "第2条记错了"
    )


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("确定全部删除", "inform", True),
        ("先不删", "inform", False),
        ("不是，算了", "affirm", False),
        ("嗯", "inform", True),
        ("好", "affirm", True),
        ("随便", "deny", False),
        ("随便", "inform", None),
    ],
)
def test_yes_or_no(text, intent, expected):
    assert answers.yes_no(text, intent) is expected
    assert form_kit.confirmation(make_tracker(text, intent)) is expected


async def test_erasing_needs_a_clear_yes(dispatcher, domain):
    form = ValidateEraseForm()
    yes = make_tracker("确定全部删除", "affirm", slots={"requested_slot": "erase_confirmed"})
    unsure = make_tracker("啊？", "inform", slots={"requested_slot": "erase_confirmed"})
    assert await form.extract_erase_confirmed(dispatcher, yes, domain) == {"erase_confirmed": True}
    assert await form.extract_erase_confirmed(dispatcher, unsure, domain) == {"erase_confirmed": False}
    # Asking for the evidence pack first (the question suggests it) is no answer: nothing
    # is decided, a rule gives the pack, and the question comes again.
    pack_first = make_tracker("等下 先把证据包给我", "request_evidence_pack", slots={"requested_slot": "erase_confirmed"})
    assert await form.run(dispatcher, pack_first, domain) == []


@pytest.mark.parametrize(
    "text, asked, expected",
    [
        ("还没还清", True, "not_repaid"),
        ("还了一部分", True, "partly"),
        ("上个月还清了", False, "repaid"),
        ("说不还就让你坐牢", False, None),
        ("不还", True, "not_repaid"),
        ("不清楚", True, "unknown"),
        ("不清楚", False, None),
    ],
)
def test_repaid_answers(text, asked, expected):
    assert answers.repaid_answer(text, asked) == expected


def test_lender_and_role_are_read_one_way():
    named = [{"entity": "lender", "value": "webank", "start": 5, "end": 8}]
    tracker = make_tracker("不是借呗，是微粒贷", "inform", named, slots={"lender": "ant_consumer_finance"})
    assert lender_from(tracker) == ("webank", [SlotSet("lender", "webank")])
    assert lender_from(make_tracker("嗯", "affirm", slots={"lender": "webank"})) == ("webank", [])
    # A kind of lender asked about ("是银行吗") does not replace the app it is asked of.
    app_and_kind = [
        {"entity": "lender", "value": "duxiaoman_microloan", "start": 0, "end": 3},
        {"entity": "lender", "value": "generic_bank", "start": 4, "end": 6},
    ]
    asked = make_tracker("度小满算银行吗", "ask_where_complain", app_and_kind)
    assert lender_from(asked) == ("duxiaoman_microloan", [SlotSet("lender", "duxiaoman_microloan")])
    # A role said outright corrects; a bare relation word needs `answering`.
    guarantor = make_tracker("我其实签过担保", "inform", slots={"user_role": "friend"})
    assert role_from(guarantor) == ("guarantor", [SlotSet("user_role", "guarantor")])
    colleague = make_tracker("我是他同事", "inform", slots={"user_role": "friend"})
    assert role_from(colleague) == ("friend", [])
    assert role_from(colleague, overrides=True) == ("colleague", [SlotSet("user_role", "colleague")])
    assert role_from(make_tracker("嗯", "affirm", slots={"user_role": "unknown"})) == (None, [])


def test_a_correction_changes_only_what_it_names():
    changed = incident_text.changes("第2条时间是前天晚上九点")
    assert (
        set(changed) == {"occurred_at", "time_text", "time_precision"} and changed["occurred_at"].hour == 21
    )
    assert incident_text.changes("打给的是我同事") == {"contacted_person": "同事"}
    assert incident_text.changes("是打给我妈的") == {"contacted_person": "母亲"}
    said = incident_text.changes("对方说要上门，还骂人", ["visits", "insults", "night_calls"])
    assert said["behaviours"] == ["visits", "insults"] and said["description"].startswith("对方说要上门")
    assert incident_text.no_number("没显示号码") and not incident_text.no_number("138")


def test_the_opening_message_is_read_back():
    values = {
        "incident_time": datetime(2026, 12, 3, 22, 30).isoformat(),
        "incident_time_precision": "minute",
        "incident_caller": "13812345678",
        "incident_contacted": "父亲",
        "incident_behaviours": ["insults"],
    }
    echo = incident_text.understood(values)
    assert echo.startswith("12月3日（周四）22:30（深夜）；号码 138") and "打给：父亲" in echo
    assert "13812345678" not in echo
    assert incident_text.understood({}) == ""


def test_say_fills_a_domain_response():
    assert say(project_domain(), "utter_log_head", count=3) == "您一共记了 3 条："


def test_every_form_can_be_paused_by_a_safety_message():
    domain = project_domain()
    assert set(domain["forms"]) <= set(domain["slots"]["paused_form"]["values"])
