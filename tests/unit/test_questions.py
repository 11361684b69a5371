"""Questions read by rules (advisor.questions, nlu IntentRules) and the
incident form's read-back and corrections: what a user notices when the
classifier guesses wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from rasa_sdk.events import SlotSet

import knowledge
from actions.answers import ActionAnswerFirst, ActionNotUnderstood
from actions.incidents import ValidateIncidentForm
from advisor import questions
from nlu.components import IntentRules
from tests.unit.conftest import make_tracker, texts


def incident_domain() -> dict:
    """The incident form as the domain declares it."""
    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain" / "incidents.yml").read_text(encoding="utf-8"))
    return {"slots": domain["slots"], "forms": domain["forms"]}



@pytest.mark.parametrize(
    "text, model_key, role, expected",
    [
        # "do I have to pay" beats the classifier's unrelated pick
        ("催收说当爹的要负责 我得替他还吗", "record_questions", "parent", "family_liability"),
        ("那边让我先帮她垫一下 垫了她再还我 我该垫吗", "call_limits", None, "family_liability"),
        # a liability FAQ the classifier found is kept when the role is unknown
        ("我当了紧急联系人 是不是就要还", "emergency_contact", None, "emergency_contact"),
        # a known role gets its own answer
        ("我男朋友欠的 我也得还吗", "spouse_debt", "partner", "family_liability"),
        # a spouse named by someone of unknown role
        ("我老婆婚前欠的卡债 我要还吗", "promised_to_pay", None, "spouse_debt"),
        # a report, not a question, keeps the classifier's pick
        ("催收说必须还钱 不然就上门", "threatened_visit", None, "threatened_visit"),
        # topics
        ("自称法院的让我加QQ 转钱就能撤诉", "channel_12378_hours", None, "court_scam"),
        ("法院寄来传票了 我该怎么办", None, None, "threat_to_sue"),
        ("法院寄来传票了 我该怎么办", "court_calls", None, "court_calls"),
        ("客服要证据 我怎么证明他们每天打三十次", "what_to_say_to_cs", None, "call_records"),
        ("征信是不是永远洗不白了", None, None, "credit_and_family"),
        ("他们说从我退休金里扣", "contacts_authorization", None, "deduct_money"),
        ("一笔钱怎么有两份合同", None, None, "joint_loan"),
        # nothing recognised: the classifier's pick
        ("录音能当证据吗", "recording_legal", None, "recording_legal"),
    ],
)
def test_the_question_is_read_by_rules_first(text, model_key, role, expected):
    relations = ("spouse",) if "老婆" in text else ()
    assert questions.faq_for(text, model_key, role, relations) == expected


async def test_a_report_that_asks_gets_its_answer_before_the_questions(dispatcher):
    tracker = make_tracker("催收天天打我说当妈的必须替儿子还 我真的要还吗", "report_harassment",
                           [{"entity": "relation", "value": "parent"}])
    await ActionAnswerFirst().run(dispatcher, tracker, {})
    said = texts(dispatcher)
    assert "第465条" in said and "第552条" in said
    assert dispatcher.messages[-1]["response"] == "utter_to_go_further"


async def test_an_ex_spouse_gets_her_answer_without_asking(dispatcher):
    tracker = make_tracker("离婚好几年了 前夫后来借的网贷 催收找到我", "report_harassment",
                           [{"entity": "relation", "value": "ex_spouse"}])
    await ActionAnswerFirst().run(dispatcher, tracker, {})
    assert "第1064条" in texts(dispatcher) and "离婚后" in texts(dispatcher)


async def test_an_unsure_nlu_still_answers_a_court_scam(dispatcher):
    tracker = make_tracker("说是法院的 叫我转五千到他们账户就撤诉", "nlu_fallback")
    await ActionNotUnderstood().run(dispatcher, tracker, {})
    said = texts(dispatcher)
    assert "12368" in said and "诈骗" in said and "没太明白" not in said


def test_a_report_asking_a_question_is_not_a_log_request():
    rules = knowledge.load().data["intent_rules"]
    component = IntentRules(re.compile(rules["log_words"]), re.compile(rules["question"]))
    assert component.corrected("昨晚又打给我爸了 这能报警吗", "log_incident") == "report_harassment"
    assert component.corrected("昨晚又打给我爸了 帮我记一下", "log_incident") is None
    assert component.corrected("昨晚又打给我爸了 能帮我记下来吗", "log_incident") is None
    assert component.corrected("这能报警吗", "faq") is None
    # Without a word asking to record, a report is a report: answered, not logged.
    assert component.corrected("他们居然打到我女儿幼儿园 跟老师说我赖账", "log_incident") == "report_harassment"
    assert component.corrected("又来了 给我添一条 这回打的是我舅舅", "log_incident") is None
    assert component.corrected("帮我存一下 今早七点打给我姐", "log_incident") is None


async def test_the_incident_form_reads_back_what_the_first_message_texts(dispatcher):
    tracker = make_tracker("前天晚上十一点 有人打给我妈 骂得很难听 帮我记下来", "log_incident",
                           [{"entity": "behaviour", "value": "insults"}])
    await ValidateIncidentForm().run(dispatcher, tracker, incident_domain())
    said = texts(dispatcher)
    assert "23:00" in said and "深夜" in said and "辱骂" in said


async def test_the_time_of_the_open_entry_can_be_corrected(dispatcher):
    tracker = make_tracker(
        "不对不对 我记错了 是昨天下午三点", "correct_incident",
        slots={"requested_slot": "incident_caller", "incident_time": "2026-11-30T14:00:00",
               "incident_time_precision": "hour"},
    )
    events = await ValidateIncidentForm().run(dispatcher, tracker, incident_domain())
    time_event = next(e for e in events if e.get("name") == "incident_time")
    assert time_event["value"].endswith("15:00:00")
    assert SlotSet("requested_slot", "incident_caller") in events
    assert "改成" in texts(dispatcher) and "15:00" in texts(dispatcher)


async def test_a_bare_what_now_gets_a_plan_for_what_the_user_told(dispatcher):
    from actions.faq import ActionAnswerFaq
    from tests.unit.conftest import user_event

    history = [user_event("我女儿借呗的钱上周已经全部还清了", "faq")]
    tracker = make_tracker("那我们现在该怎么办", "faq", slots={"lender": "ant_consumer_finance"}, history=history)
    tracker.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": "faq/what_to_say", "confidence": 0.6}}
    }
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    said = texts(dispatcher)
    assert "结清证明" in said and "95188" in said


def test_not_repaid_is_not_repaid():
    from advisor import replies

    assert replies.says_repaid("上个月已经全部还清了")
    assert not replies.says_repaid("还没还清呢")


@pytest.mark.parametrize("role, must", [("guarantor", "不能要求对方完全不联系"), ("friend", "第465条")])
def test_can_i_say_it_is_nothing_to_do_with_me_depends_on_the_role(role, must):
    from advisor import replies

    key = questions.faq_for("那我还能说跟我没关系吗", "call_limits", role)
    assert must in "\n".join(replies.faq_answer(key, role).bubbles)


async def test_a_corrected_lender_replaces_the_first_one(dispatcher):
    from actions.common import lender_from

    text = "哦不对 不是借呗 是微粒贷"
    entities = [
        {"entity": "lender", "value": "ant_consumer_finance", "start": text.index("借呗"), "end": text.index("借呗") + 2},
        {"entity": "lender", "value": "webank", "start": text.index("微粒贷"), "end": text.index("微粒贷") + 3},
    ]
    tracker = make_tracker(text, "inform", entities, slots={"lender": "ant_consumer_finance"})
    lender, events = lender_from(tracker)
    assert lender == "webank" and SlotSet("lender", "webank") in events


def test_a_sons_debt_myth_gets_the_contract_rule_and_the_estate_rule():
    from advisor import replies

    key = questions.faq_for("父债子还是法律规定吧", None, None)
    text = "\n".join(replies.faq_answer(key, None).bubbles)
    assert "第465条" in text and "第1161条" in text


def test_a_threat_to_sue_inside_a_spouse_question_gets_the_spouse_answer_first():
    key = questions.faq_for("催收说是夫妻共同债务我也得还 不还就起诉我 是这样吗", "threat_to_sue", None, ("spouse",))
    assert key == "spouse_debt"


@pytest.mark.parametrize(
    "text, model_key, expected",
    [
        ("录音里他没报公司名 这种录音还管用不", "record_questions", "recording_legal"),
        ("截图怎么截才算数", "evidence_use", "keep_evidence"),
        ("在平台投诉了一个月都没人理 还能找谁", "evidence_late", "lender_ignored"),
        ("下次他们再打来我该怎么说才好", "police_refused", "what_to_say"),
    ],
)
def test_evidence_and_complaint_topics_are_read_by_rules(text, model_key, expected):
    assert questions.faq_for(text, model_key, None) == expected


def test_a_guarantor_telling_the_situation_gets_the_guarantors_rule():
    text = "我给朋友的车贷做了担保 去年就到期了 催收今天突然找我"
    assert questions.faq_for(text, "already_repaid", "guarantor", role_stated=True) == "family_liability"


def test_asking_to_go_on_with_the_letter_is_a_resume():
    rules = knowledge.load().data["intent_rules"]
    component = IntentRules(re.compile(rules["log_words"]), re.compile(rules["question"]), re.compile(rules["resume"]))
    assert component.corrected("好的 我会打的 那信还能接着写吗", "faq") == "resume"
    assert component.corrected("信写完了吗", "faq") is None


@pytest.mark.parametrize(
    "text, model_key, expected",
    [
        ("我想起诉这家催收公司 能行吗", "civil_routes", "civil_routes"),  # the user suing, not being sued
        ("催收说下周就起诉我", "civil_routes", "threat_to_sue"),
        ("已经被起诉了怎么办", None, "threat_to_sue"),  # not the bare "怎么办"
        ("两家公司的催收轮着打", "call_limits", "call_limits"),  # not a joint loan
    ],
)
def test_topics_do_not_take_what_they_do_not_mean(text, model_key, expected):
    assert questions.faq_for(text, model_key, None) == expected


@pytest.mark.parametrize(
    "text, guess, expected",
    [
        ("记录一次：前天夜里一点多 一个陌生号码打给我爸 骂得很难听", "report_harassment", "log_incident"),
        ("帮我记一下，今天上午打了我单位座机三次", "inform", "log_incident"),
        ("记下来：他们在家族群里发了我的照片", "report_harassment", "log_incident"),
        ("记一下 他们半夜打给我妈 这能报警吗", "report_harassment", None),  # a question: answered first
        ("记得上次那个号码吗", "report_harassment", None),  # not a request to record
        ("记录一次：他说要来我家", "safety_threat", None),  # safety is never overridden
    ],
)
def test_a_message_that_opens_by_asking_to_record_is_a_log_request(text, guess, expected):
    rules = knowledge.load().intent_rules
    component = IntentRules(
        re.compile(rules["log_words"]),
        re.compile(rules["question"]),
        re.compile(rules["resume"]),
        re.compile(rules["log_request"]),
    )
    assert component.corrected(text, guess) == expected
