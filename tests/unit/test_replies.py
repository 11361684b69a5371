"""Replies built from the knowledge file say the right thing to the right person."""

from advisor import replies


def joined(reply):
    return "\n".join(reply.bubbles)


def test_parent_has_no_duty_and_is_warned_not_to_promise():
    text = joined(replies.family_liability("parent"))
    assert "第465条" in text and "第552条" in text
    assert "没有替他还钱的义务" in text


def test_spouse_gets_the_nuance_not_a_flat_no():
    text = joined(replies.family_liability("spouse"))
    assert "第1064条" in text
    assert "没有替他还钱的义务" not in text


def test_guarantor_is_told_they_may_be_liable():
    text = joined(replies.family_liability("guarantor"))
    assert "第681条" in text and "可能要承担" in text


def test_heir_is_limited_to_the_estate():
    assert "第1161条" in joined(replies.family_liability("heir"))


def test_borrower_is_not_told_they_owe_nothing():
    text = joined(replies.family_liability("borrower"))
    assert "还款义务在您" in text
    assert "债务优化" in text


def test_unknown_role_mentions_the_exceptions():
    text = joined(replies.family_liability(None))
    assert "第681条" in text and "第1064条" in text


def test_only_a_third_party_is_told_to_refuse_the_debt():
    refuse = "也不会替他还"
    for role in ("parent", "colleague", "emergency_contact", None):
        assert refuse in joined(replies.what_to_say(role)), role
    for role in ("borrower", "spouse", "guarantor", "heir"):
        assert refuse not in joined(replies.what_to_say(role)), role


def test_borrower_is_told_to_negotiate_officially_and_ask_who_calls():
    text = joined(replies.what_to_say("borrower"))
    assert "官方渠道" in text and "工号" in text


def test_guarantor_script_points_to_the_contract():
    assert "担保合同" in joined(replies.what_to_say("guarantor"))


def test_spouse_script_leaves_joint_debt_to_the_court():
    text = joined(replies.what_to_say("spouse"))
    assert "法院认定" in text and "第552条" in text


def test_alipay_route_names_the_real_lender_and_numbers():
    text = joined(replies.where_to_complain("ant_consumer_finance"))
    assert "重庆蚂蚁消费金融有限公司" in text
    assert text.index("95188") < text.index("12378") < text.index("110")


def test_a_loan_platform_is_not_called_the_lender():
    text = joined(replies.where_to_complain("loan_platform"))
    assert "助贷平台" in text and "借款合同" in text
    assert "放款方是" not in text


def test_unknown_lender_route_explains_how_to_find_it_and_offers_choices():
    reply = replies.where_to_complain(None)
    assert "征信报告" in joined(reply)
    assert len(reply.buttons) == 3


def test_triage_summary_for_parent_with_night_calls():
    reply = replies.triage_summary("parent", "ant_consumer_finance", ["night_calls", "third_party_contact"])
    text = joined(reply)
    assert "深夜或清晨来电" in text and "22:00" in text
    assert "第465条" in text
    assert reply.buttons, "the summary offers numbered next steps"


def test_every_bubble_is_short():
    for role in (None, "parent", "spouse", "guarantor", "borrower", "heir"):
        for bubble in replies.family_liability(role).bubbles + replies.what_to_say(role).bubbles:
            assert len(bubble) <= 300


def test_a_called_relative_is_a_third_party_contact():
    assert "third_party_contact" in replies.reported_behaviours("parent", ["night_calls"], [])


def test_a_borrower_mentioning_colleagues_reports_third_party_contact():
    assert replies.reported_behaviours("borrower", [], ["colleague"]) == ["third_party_contact"]
    assert replies.reported_behaviours("borrower", [], []) == []


def test_generic_lender_intro_does_not_pretend_to_know_the_company():
    text = replies.lender_intro("generic_credit_card")[0]
    assert "以借款合同为准" in text and "放款方是" not in text


def test_jail_answer_names_the_rare_exceptions():
    """'Not a crime' is true of mere arrears; fraud and defying a judgment are the exceptions."""
    import knowledge

    kb = knowledge.load()
    caveats = " ".join(kb.fact_texts(kb.data["faq_caveats"]["go_to_jail"]))
    assert "不是犯罪" in kb.faq_answer("go_to_jail")
    assert "第313条" in caveats and "第196条" in caveats
