"""Actions run against trackers shaped like Rasa's, with a collecting dispatcher."""

import pytest
from rasa_sdk.events import FollowupAction, SlotSet, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

import knowledge
from actions.answers import (
    ActionHandleInform,
    ActionTriageSummary,
    ActionWhereToComplain,
)
from actions.faq import ActionAnswerFaq
from actions.flow import ActionResumeForm
from actions.forms import ValidateTriageForm
from actions.options import ActionSelectOption, parse_choice
from tests.unit.conftest import bot_event, make_tracker, texts, user_event

DOMAIN = {"forms": {"triage_form": {"required_slots": ["user_role", "lender"]}}, "slots": {}}


async def run_form(tracker, dispatcher):
    form = ValidateTriageForm()
    return await form.run(dispatcher, tracker, DOMAIN)


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_first_message_fills_both_slots(dispatcher):
    tracker = make_tracker(
        "我儿子在借呗借了钱，催收一天给我打十几个电话",
        "report_harassment",
        [{"entity": "relation", "value": "child"}, {"entity": "lender", "value": "ant_consumer_finance"}],
    )
    slots = slot_events(await run_form(tracker, dispatcher))
    assert slots["user_role"] == "parent"
    assert slots["lender"] == "ant_consumer_finance"


async def test_bare_answer_to_the_role_question(dispatcher):
    tracker = make_tracker(
        "我是他同事",
        "inform",
        [{"entity": "relation", "value": "colleague"}],
        slots={"requested_slot": "user_role"},
    )
    assert slot_events(await run_form(tracker, dispatcher))["user_role"] == "colleague"


async def test_dont_know_the_lender_is_an_answer(dispatcher):
    tracker = make_tracker(
        "不清楚是哪个平台", "inform", slots={"requested_slot": "lender", "user_role": "parent"}
    )
    assert slot_events(await run_form(tracker, dispatcher))["lender"] == "unknown"


async def test_wrong_answer_is_explained_then_skipped(dispatcher):
    tracker = make_tracker("嗯嗯", "affirm", slots={"requested_slot": "lender", "user_role": "parent"})
    slots = slot_events(await run_form(tracker, dispatcher))
    assert "lender" not in slots or slots["lender"] is None
    assert dispatcher.messages[0]["response"] == "utter_explain_lender"

    second = make_tracker(
        "嗯嗯", "affirm", slots={"requested_slot": "lender", "user_role": "parent", "triage_form_retries": 1}
    )
    slots = slot_events(await run_form(second, dispatcher))
    assert slots["lender"] == "unknown", "after two misses the form moves on"


async def test_a_question_mid_form_is_not_swallowed(dispatcher):
    tracker = make_tracker("不还钱会坐牢吗", "faq", slots={"requested_slot": "lender", "user_role": "parent"})
    events = await run_form(tracker, dispatcher)
    assert "lender" not in slot_events(events)
    assert not dispatcher.messages


def faq_message(tracker, key):
    tracker.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": 0.9}}
    }
    return tracker


async def test_family_liability_reads_role_from_the_question(dispatcher):
    tracker = make_tracker("我老公欠的网贷我要还吗", "faq", [{"entity": "relation", "value": "spouse"}])
    events = await ActionAnswerFaq().run(dispatcher, faq_message(tracker, "family_liability"), {})
    assert SlotSet("user_role", "spouse") in events
    assert "第1064条" in texts(dispatcher)


async def test_family_liability_uses_the_known_role(dispatcher):
    tracker = make_tracker("家里人要替他还吗", "faq", slots={"user_role": "guarantor"})
    events = await ActionAnswerFaq().run(dispatcher, faq_message(tracker, "family_liability"), {})
    assert events == []
    assert "第681条" in texts(dispatcher) and "第1064条" not in texts(dispatcher)


async def test_other_faqs_send_their_answer_from_the_knowledge_file(dispatcher):
    tracker = faq_message(make_tracker("录音能当证据吗", "faq"), "recording_legal")
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert [m["text"] for m in dispatcher.messages] == [knowledge.load().faq_answer("recording_legal")]


async def test_a_faq_caveat_follows_its_answer(dispatcher):
    tracker = faq_message(make_tracker("不还钱会坐牢吗", "faq"), "go_to_jail")
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"] == knowledge.load().faq_answer("go_to_jail")
    assert "第313条" in dispatcher.messages[1]["text"]


async def test_a_button_names_the_faq(dispatcher):
    tracker = make_tracker('/faq{"faq_topic":"keep_evidence"}', "faq", [{"entity": "faq_topic", "value": "keep_evidence"}])
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert [m["text"] for m in dispatcher.messages] == [knowledge.load().faq_answer("keep_evidence")]


async def test_what_to_say_is_for_the_known_role(dispatcher):
    tracker = make_tracker('/faq{"faq_topic":"what_to_say"}', "faq", [{"entity": "faq_topic", "value": "what_to_say"}],
                           slots={"user_role": "borrower"})
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert "官方渠道" in texts(dispatcher) and "不会替他还" not in texts(dispatcher)


async def test_what_to_say_for_a_third_party_refuses_the_debt(dispatcher):
    tracker = make_tracker("他们打给我妈，我妈该怎么回", "faq", [{"entity": "relation", "value": "parent"}])
    await ActionAnswerFaq().run(dispatcher, faq_message(tracker, "what_to_say"), {})
    assert "我不是借款人，也不会替他还" in texts(dispatcher)


async def test_any_faq_keeps_who_the_user_said_they_are(dispatcher):
    tracker = make_tracker("我自己借的钱还不上了怎么办", "faq", [{"entity": "relation", "value": "borrower"}])
    events = await ActionAnswerFaq().run(dispatcher, faq_message(tracker, "cant_repay"), {})
    assert SlotSet("user_role", "borrower") in events
    assert [m["text"] for m in dispatcher.messages] == [knowledge.load().faq_answer("cant_repay")]


async def test_a_faq_keeps_the_lender_named_with_it(dispatcher):
    tracker = make_tracker("我老婆在分期乐借的，我要还吗", "faq", [{"entity": "lender", "value": "loan_platform"}])
    events = await ActionAnswerFaq().run(dispatcher, faq_message(tracker, "spouse_debt"), {})
    assert SlotSet("lender", "loan_platform") in events


async def test_an_unknown_faq_topic_gets_the_default_answer(dispatcher):
    tracker = make_tracker("/faq", "faq", [{"entity": "faq_topic", "value": "no_such_key"}])
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]


async def test_where_to_complain_uses_the_lender_slot(dispatcher):
    tracker = make_tracker("去哪投诉", "ask_where_complain", slots={"lender": "ant_consumer_finance"})
    await ActionWhereToComplain().run(dispatcher, tracker, {})
    assert "95188" in texts(dispatcher) and "12378" in texts(dispatcher)


async def test_a_bare_what_now_taken_for_where_to_complain_gets_the_plan(dispatcher):
    # The story was told before; "那我现在咋办" is answered with the plan for it.
    history = [user_event("我女儿的网贷前几天已经结清了 可他们还在打", "faq")]
    tracker = make_tracker(
        "那我现在咋办", "ask_where_complain", slots={"lender": "ant_consumer_finance"}, history=history
    )
    await ActionWhereToComplain().run(dispatcher, tracker, {})
    said = texts(dispatcher)
    assert "结清" in said and "95188" in said


async def test_summary_lists_behaviours_from_the_whole_conversation(dispatcher):
    history = [
        user_event("半夜打电话", "report_harassment", [{"entity": "behaviour", "value": "night_calls"}])
    ]
    tracker = make_tracker(
        "借呗", "inform", slots={"user_role": "parent", "lender": "ant_consumer_finance"}, history=history
    )
    await ActionTriageSummary().run(dispatcher, tracker, {})
    assert "深夜或清晨来电" in texts(dispatcher)
    assert dispatcher.messages[-1]["buttons"], "ends with numbered options"


async def test_inform_with_a_lender_also_keeps_who_the_user_is(dispatcher):
    tracker = make_tracker("我是借款人，在借呗借的", "inform", [{"entity": "lender", "value": "ant_consumer_finance"}])
    events = await ActionHandleInform().run(dispatcher, tracker, {})
    assert SlotSet("lender", "ant_consumer_finance") in events and SlotSet("user_role", "borrower") in events


async def test_inform_outside_form_with_lender(dispatcher):
    tracker = make_tracker("微粒贷", "inform", [{"entity": "lender", "value": "webank"}])
    events = await ActionHandleInform().run(dispatcher, tracker, {})
    assert SlotSet("lender", "webank") in events
    assert "95384" in texts(dispatcher)


@pytest.mark.parametrize(
    "text, number",
    [("1", 1), ("２", 2), ("选3", 3), ("第二个", 2), ("就一吧", 1), ("12和3", None), ("好的", None)],
)
def test_parse_choice(text, number):
    assert parse_choice(text) == number


async def test_number_replays_the_offered_button(dispatcher):
    buttons = [
        {"title": "家人要替他还钱吗", "payload": '/faq{"faq_topic":"family_liability"}'},
        {"title": "花呗/借呗", "payload": '/inform{"lender":"ant_consumer_finance"}'},
    ]
    tracker = make_tracker("2", "choose_option", history=[bot_event("选一个", buttons)])
    events = await ActionSelectOption().run(dispatcher, tracker, {})
    assert events[0] == UserUtteranceReverted()
    assert events[1]["name"] == "action_listen"
    replayed = events[2]
    assert replayed["event"] == UserUttered("x")["event"]
    assert replayed["parse_data"]["intent"]["name"] == "inform"
    assert replayed["parse_data"]["entities"] == [{"entity": "lender", "value": "ant_consumer_finance"}]


async def test_number_out_of_range_lists_the_options_again(dispatcher):
    buttons = [{"title": "甲", "payload": "/affirm"}, {"title": "乙", "payload": "/deny"}]
    tracker = make_tracker("5", "choose_option", history=[bot_event("选一个", buttons)])
    assert await ActionSelectOption().run(dispatcher, tracker, {}) == []
    assert "1 到 2" in texts(dispatcher) and "乙" in texts(dispatcher)


async def test_number_without_options(dispatcher):
    tracker = make_tracker("1", "choose_option", history=[bot_event("你好")])
    assert await ActionSelectOption().run(dispatcher, tracker, {}) == []
    assert dispatcher.messages[0]["response"] == "utter_no_options"


async def test_resume_restarts_the_paused_form(dispatcher):
    resumed = await ActionResumeForm().run(
        dispatcher, make_tracker("继续", "resume", slots={"paused_form": "triage_form"}), {}
    )
    assert FollowupAction("triage_form") in resumed and SlotSet("paused_form", None) in resumed


async def test_a_number_answers_the_form_question(dispatcher):
    buttons = [
        {"title": "花呗/借呗", "payload": "花呗/借呗"},
        {"title": "银行或信用卡", "payload": "银行或信用卡"},
        {"title": "小贷或其他网贷", "payload": "小贷或其他网贷"},
    ]
    tracker = make_tracker(
        "3",
        "choose_option",
        slots={"requested_slot": "lender", "user_role": "parent"},
        history=[bot_event("欠的是哪个平台？", buttons)],
    )
    assert slot_events(await run_form(tracker, dispatcher))["lender"] == "generic_microloan"


async def test_a_number_answers_the_role_question(dispatcher):
    buttons = [
        {"title": "借款人本人", "payload": "借款人本人"},
        {"title": "父母", "payload": "我是父母"},
        {"title": "配偶", "payload": "我是配偶"},
        {"title": "其他亲友或同事", "payload": "我是其他亲友或同事"},
    ]
    for number, role in (("1", "borrower"), ("2", "parent"), ("3", "spouse"), ("4", "other")):
        tracker = make_tracker(
            number,
            "choose_option",
            slots={"requested_slot": "user_role"},
            history=[bot_event("您是？", buttons)],
        )
        assert slot_events(await run_form(tracker, dispatcher))["user_role"] == role


async def test_summary_for_a_borrower_whose_colleagues_are_called(dispatcher):
    history = [
        user_event(
            "催收打电话到我单位问我同事我在哪",
            "report_harassment",
            [{"entity": "relation", "value": "colleague"}],
        )
    ]
    tracker = make_tracker(
        "是我本人借的",
        "inform",
        slots={"user_role": "borrower", "lender": "generic_credit_card"},
        history=history,
    )
    await ActionTriageSummary().run(dispatcher, tracker, {})
    assert "联系家人、同事或通讯录" in texts(dispatcher)
    assert "12378" in texts(dispatcher)


async def test_a_quoted_threat_is_not_an_answer_about_repayment(dispatcher):
    tracker = make_tracker("催收说不还就让我坐牢", "report_harassment")
    assert await ValidateTriageForm().extract_debt_repaid(dispatcher, tracker, {}) == {}
    said = make_tracker("我儿子逾期了，还不上", "report_harassment")
    assert await ValidateTriageForm().extract_debt_repaid(dispatcher, said, {}) == {"debt_repaid": "not_repaid"}


async def test_a_skipped_role_question_is_not_a_guess(dispatcher):
    """Two answers that don't say who the user is: the role is 'unknown', and
    the summary neither calls the user a relative nor says they owe nothing."""
    form = ValidateTriageForm()
    tracker = make_tracker("没还完", "inform", slots={"requested_slot": "user_role", "triage_form_retries": 1})
    assert await form.extract_user_role(dispatcher, tracker, {}) == {"user_role": "unknown", "triage_form_retries": 0}
    summary = make_tracker("没还完", "inform", slots={"user_role": "unknown", "lender": "generic_credit_card"})
    said = CollectingDispatcher()
    await ActionTriageSummary().run(said, summary, {})
    assert "12378" in texts(said)
    assert "明白了，您是" not in texts(said) and "没有替他还钱的义务" not in texts(said)
