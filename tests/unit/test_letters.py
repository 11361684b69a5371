"""Letters: rendered from facts, nothing invented, numbers masked, WeChat-sized, .docx."""

import re
from datetime import date, datetime
from io import BytesIO

import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st

import knowledge
from channels.wechat_format import format_reply, split_utf8
from letters import KINDS, PLACEHOLDER, registry, render_letter, response_due
from letters.docx_export import to_docx_bytes
from letters.message import letter_message
from letters.render import FIELD_LABELS

COLLECTOR = "13812345678"
COLLECTOR_LANDLINE = "0755-12345678"
AUTHOR_PHONE = "13700001111"
MOTHER_IN_LAW = "13911112222"  # a third party named in the user's own words
COLLEAGUE = "13655556666"

INCIDENTS = [
    {
        "id": 1,
        "occurred_at": datetime(2026, 11, 20, 22, 40),
        "time_precision": "minute",
        "caller_number": COLLECTOR,
        "contacted_person": "我",
        "behaviours": ["insults"],
        "evidence": ["recording"],
        "description": f"对方骂我儿子是骗子，说要打给我亲家 {MOTHER_IN_LAW}，让全村都知道",
    },
    {
        "id": 2,
        "occurred_at": datetime(2026, 11, 21, 9, 15),
        "time_precision": "minute",
        "caller_number": COLLECTOR_LANDLINE,
        "contacted_person": "同事",
        "behaviours": ["threats", "impersonation"],
        "evidence": ["screenshot"],
        "description": "自称法院的，说明天来单位抓人",
        "attempts": 3,
    },
]

FULL = {
    "author_name": "王秀兰",
    "author_relation": "parent",
    "author_phone": AUTHOR_PHONE,
    "borrower_name": "李明",
    "lender_name": "重庆蚂蚁消费金融有限公司",
    "lender_type": "consumer_finance",
    "collection_agency": "某某信息咨询有限公司",
    "incidents": INCIDENTS,
    "third_parties": [{"who": "同事张某", "phone": COLLEAGUE}],
    "police_station": "朝阳区某某派出所",
    "date": date(2026, 11, 28),
}

# Words that would offer to pay (《民法典》第552条): never in a letter.
PROMISES = [
    "我来还",
    "我会还",
    "愿意还",
    "代为偿还",
    "代其偿还",
    "替他还款",
    "帮他还",
    "由我偿还",
    "承担还款",
    "分期还",
]
NO_DEBT = "本人不是借款人，也未同意承担该笔债务"


def _body(kind, **changes):
    return render_letter(kind, {**FULL, **changes})


@pytest.mark.parametrize("kind", KINDS)
def test_full_facts_render_completely(kind):
    letter = _body(kind)
    assert letter.missing == []
    assert PLACEHOLDER not in letter.body
    text = letter.text
    assert "2026年11月28日" in text
    assert AUTHOR_PHONE in text  # the author's own number, in full
    assert COLLECTOR in text and COLLECTOR_LANDLINE in text  # the recipient must be able to act
    assert "11月20日 22:40" in text
    assert "本人确认" in text and "真实无误" in text
    if kind != "report_12321":
        assert "王秀兰" in text
    if kind in ("lender_complaint", "regulator_complaint", "police_statement"):
        assert "李明" in text and "重庆蚂蚁消费金融有限公司" in text


@pytest.mark.parametrize("kind", KINDS)
def test_other_peoples_numbers_are_masked(kind):
    text = _body(kind).text
    assert MOTHER_IN_LAW not in text and COLLEAGUE not in text
    if kind != "pipl_request":  # the PIPL notice quotes no descriptions
        assert "139****2222" in text


@pytest.mark.parametrize("kind", ["lender_complaint", "regulator_complaint", "police_statement"])
def test_the_users_own_words_are_quoted(kind):
    text = _body(kind).text
    assert "对方骂我儿子是骗子，说要打给我亲家 139****2222，让全村都知道" in text
    assert "自称法院的，说明天来单位抓人" in text


def test_long_descriptions_are_shortened():
    long = [{**INCIDENTS[0], "description": "骂" * 1000}]
    text = _body("lender_complaint", incidents=long).text
    assert "骂" * 300 + "……（以下略）" in text
    assert "骂" * 301 not in text


def test_a_letter_type_may_quote_shorter(kb):
    """``quote_limit`` in the knowledge file (12321's form has short boxes)."""
    limit = kb.letter("report_12321")["quote_limit"]
    long = [{**INCIDENTS[0], "description": "骂" * 1000}]
    text = _body("report_12321", incidents=long).text
    assert "骂" * limit + "……（以下略）" in text
    assert "骂" * (limit + 1) not in text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("relation", ["parent", "spouse", "colleague", "friend", "borrower", "guarantor"])
def test_no_promise_to_pay_and_the_no_debt_sentence(kind, relation):
    text = _body(kind, author_relation=relation).text
    for promise in PROMISES:
        assert promise not in text, (kind, relation, promise)
    # A guarantor did agree to answer for the debt; a borrower owes it; for a
    # spouse it is the court's question (§11.5), for an heir the estate's.
    assert (NO_DEBT in text) is (relation not in ("borrower", "guarantor", "spouse", "heir")), (
        kind,
        relation,
    )
    if relation == "spouse" and kind in ("lender_complaint", "regulator_complaint"):
        assert "夫妻共同债务，应由人民法院依法认定" in text


@pytest.mark.parametrize("kind", ["lender_complaint", "regulator_complaint", "pipl_request"])
@pytest.mark.parametrize("relation", ["guarantor", "heir"])
def test_a_guarantor_or_heir_asks_for_lawful_contact_not_silence(kind, relation):
    """§11.7: a guarantor may lawfully be contacted; an heir answers up to the estate."""
    text = _body(kind, author_relation=relation).text
    assert "立即停止以电话" not in text and "不再给本人打电话" not in text
    assert "删除贵司持有的本人手机号码" not in text and "删除本人的手机号码" not in text
    assert "文明" in text or "依法" in text
    if relation == "heir":
        assert "遗产" in text


def test_a_micro_loan_letter_cites_the_rules_that_bind_it():
    """§11.10: the bank association's guideline does not bind a micro-loan company."""
    for kind in ("lender_complaint", "regulator_complaint"):
        text = _body(kind, lender_type="microloan").text
        assert "银行业协会" not in text and "GB/T 45251-2025" in text


@pytest.mark.parametrize("kind", KINDS)
def test_missing_facts_are_placeholders_never_invented(kind):
    letter = render_letter(kind, {})
    assert PLACEHOLDER in letter.body
    assert letter.missing == list(registry.get(kind).requires)
    assert all(label in FIELD_LABELS.values() for label in letter.missing_labels)
    # Nothing made up: no date, no name, no number but hotlines from the knowledge file.
    assert not re.search(r"\d{4}年", letter.body)
    assert NO_DEBT not in letter.body  # we do not know who the author is
    kb = knowledge.load()
    assert knowledge.phone_numbers_in(letter.text) <= kb.sayable_numbers()


def test_some_facts_missing():
    letter = render_letter("lender_complaint", {"author_name": "王秀兰", "author_relation": "我是他妈妈"})
    assert "王秀兰" in letter.body and NO_DEBT in letter.body
    assert "author_name" not in letter.missing and "author_relation" not in letter.missing
    assert {"lender_name", "author_phone", "incidents", "date"} <= set(letter.missing)
    assert "借款人：【待填写】" in letter.body


def test_evidence_none_is_said_not_missing():
    letter = _body("police_statement", incidents=[{**i, "evidence": []} for i in INCIDENTS], evidence=[])
    assert "evidence" not in letter.missing
    assert "目前没有保存录音或截图" in letter.body
    without = _body("police_statement", incidents=[{**i, "evidence": []} for i in INCIDENTS])
    assert "evidence" in without.missing


def test_a_borrower_signs_as_borrower():
    facts = {**FULL, "author_relation": "borrower", "author_name": "李明"}
    del facts["borrower_name"]
    letter = render_letter("lender_complaint", facts)
    assert "borrower_name" not in letter.missing  # the author is the borrower
    assert "借款人：李明" in letter.body and "与借款人的关系：借款人本人" in letter.body
    pipl = render_letter("pipl_request", facts)
    assert pipl.notes and "通讯录" in pipl.body


@pytest.mark.parametrize("kind", KINDS)
def test_numbers_and_articles_come_from_the_knowledge_file(kind):
    """Like tests/unit/test_content.py: hotlines and articles in the letters are known."""
    kb = knowledge.load()
    text = _body(kind).text
    for number in (COLLECTOR, COLLECTOR_LANDLINE, AUTHOR_PHONE, "139****2222", "136****6666"):
        text = text.replace(number, " ")
    assert knowledge.phone_numbers_in(text) <= kb.sayable_numbers()
    assert set(knowledge.ARTICLE_LIKE.findall(text)) <= kb.cited_articles()


def test_lender_complaint_demands():
    text = _body("lender_complaint").text
    for demand in (
        "停止",
        "机构全称",
        "工号",
        "删除本人的手机号码",
        "保存上述来电的通话录音",
        "15 日内书面答复",
    ):
        assert demand in text
    assert "第47条" in text and "第21条" in text
    assert "银行业协会" in text or "中国银行业协会" in text


def test_regulator_complaint_goes_where_the_lender_type_says():
    consumer = _body("regulator_complaint")
    assert "12378" in consumer.text and "国家金融监督管理总局" in consumer.recipient
    assert "涉及的规定" in consumer.text and "银行业协会2026年催收指引" in consumer.text
    microloan = _body("regulator_complaint", lender_type="microloan")
    assert "地方金融管理局" in microloan.recipient and "12378" not in microloan.text
    unknown = _body("regulator_complaint", lender_type="unknown")
    assert "lender_type" in unknown.missing and unknown.notes
    named = _body("regulator_complaint", regulator_name="国家金融监督管理总局重庆监管局")
    assert named.body.startswith("致：国家金融监督管理总局重庆监管局")


def test_pipl_request_is_about_the_authors_own_number():
    text = _body("pipl_request").text
    assert "第44条" in text and "第47条" in text and "第21条" in text
    assert "删除贵司持有的本人手机号码" in text
    assert "委托的催收机构" in text


def test_police_statement_hedges_the_law_and_asks_for_a_receipt():
    text = _body("police_statement").text
    assert "可能涉及新《治安管理处罚法》第五十条" in text
    assert "受案回执" in text
    assert "可能涉及《刑法》第279条" in text  # impersonation was logged
    for promise in ("一定会", "必将", "必须处罚", "保证处理"):
        assert promise not in text
    assert "第279条" not in _body("police_statement", incidents=INCIDENTS[:1]).text


def test_report_12321_counts_calls_per_number():
    text = _body("report_12321").text
    assert f"{COLLECTOR}：共 1 次" in text
    assert f"{COLLECTOR_LANDLINE}：共 3 次" in text


def test_unknown_kind():
    with pytest.raises(ValueError):
        render_letter("love_letter", FULL)


def test_response_due():
    assert response_due("lender_complaint", date(2026, 11, 28)) == date(2026, 12, 13)
    # 15 working days by the official calendar: the National Day week is skipped.
    assert response_due("pipl_request", date(2026, 9, 28)) == date(2026, 10, 23)
    # Past the years the calendar knows, no date is stated.
    assert response_due("pipl_request", date(2026, 12, 28)) is None
    assert response_due("regulator_complaint", date(2026, 11, 28)) is None


# -- WeChat: the letter message rendered as texts -------------------------------


def _as_collected(letter) -> dict:
    """The letter message as the WeChat channel collects it from Rasa."""
    return {"recipient_id": "u", "custom": letter_message(letter, date(2026, 12, 4))}


@pytest.mark.parametrize("limit", [64, 300, 2048])
def test_a_letter_on_wechat_is_its_title_and_body_within_the_byte_limit(limit):
    letter = _body("lender_complaint")
    before = {"recipient_id": "u", "text": "好的，信写好了。"}
    after = {"recipient_id": "u", "text": "交给：放款机构的消费者投诉部门。"}
    chunks = format_reply([before, _as_collected(letter), after], limit)
    assert all(0 < len(c.encode("utf-8")) <= limit for c in chunks)
    assert chunks[0] == "好的，信写好了。"  # the letter starts a text of its own
    assert chunks[1].startswith(letter.title[: len(chunks[1])].strip()[:10])
    assert chunks[-1] == "交给：放款机构的消费者投诉部门。"
    assert re.sub(r"\s", "", "".join(chunks[1:-1])) == re.sub(r"\s", "", letter.text)


def test_the_letter_is_sent_once_with_its_label():
    letter = _body("police_statement")
    message = letter_message(letter, date(2026, 12, 4))
    assert message["type"] == "letter" and message["label"] == registry.label("police_statement")
    assert message["body"] == letter.body and message["filename"].endswith("20261204.docx")


def test_wechat_splitting_prefers_paragraphs():
    paragraphs = ["第一段" + "字" * 300, "第二段" + "字" * 300, "第三段" + "字" * 300]
    chunks = split_utf8("\n\n".join(paragraphs), 2048)
    assert chunks == ["\n\n".join(paragraphs[:2]), paragraphs[2]]


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=4, max_value=300))
def test_wechat_splitting_property(text, limit):
    chunks = split_utf8(text, limit)
    assert all(0 < len(c.encode("utf-8")) <= limit for c in chunks)
    clean = text.encode("utf-8", "replace").decode("utf-8")
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", clean)


# -- .docx -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_docx_opens_again_with_the_letter(kind):
    letter = _body(kind)
    data = to_docx_bytes(letter)
    assert data[:2] == b"PK"  # a zip container
    document = Document(BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == letter.title
    assert document.core_properties.title == letter.title
    body = [line for line in letter.body.splitlines() if line.strip()]
    assert [p for p in paragraphs[1:] if p.strip()] == body


def test_letters_in_the_knowledge_file_resolve(kb):
    assert set(kb.letters) == set(KINDS)
    for kind, cfg in kb.letters.items():
        for law in cfg.get("legal_basis", []):
            assert law in kb.laws, f"{kind} cites unknown law {law}"
        for rule in cfg.get("rules", []):
            assert rule in kb.data["rules"]
        deadline = cfg["response_deadline"]
        if deadline["confidence"] == "C":
            assert any(h in deadline["text"] + deadline["source"] for h in kb.hedges), kind
    for channel in kb.data["letters"]["regulator_complaint"]["recipients"]:
        assert channel in kb.channels
