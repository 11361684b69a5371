"""Property-based robustness tests (hypothesis): whatever users (or anyone on
the internet) send, the text normaliser, the time parser, the phone
normaliser, the WeChat XML handling and the input sanitiser never raise, and
keep their promises. (The log masker's own: test_masking.py.)"""

from __future__ import annotations

import re
import string
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from wechatpy.messages import TextMessage

from channels.payloads import is_allowed_payload, sanitize
from channels.wechat import WeChatRequestError, decode_request, parse_xml_safely, render_text_reply
from channels.wechat_format import format_reply, split_utf8
from incidents import timeparse
from incidents.phones import find_phones, mask_phones_in, normalize_phone
from nlu.components import ChineseTextNormalizer
from nlu.text import normalize
from privacy.masking import mask_log_text
from scripts.wechat_sim import WeChatSim, _xml

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIDE = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.digits + ":/"})
ANYTHING = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.binary(), st.lists(st.text(max_size=3)), st.text())

# --- the text normaliser ------------------------------------------------------------------------------


@FAST
@given(st.text())
def test_normalizer_is_idempotent_and_leaves_one_script_and_width(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once and "\n" not in once and "\t" not in once
    assert not any("\uff01" <= c <= "\uff5e" for c in once), "full-width ASCII left"


@FAST
@given(ANYTHING)
def test_normalizer_takes_anything(value):
    assert isinstance(normalize(value), str)
    messages = ChineseTextNormalizer().process([Message(data={TEXT: value})])
    assert messages[0].get(TEXT) == (normalize(value) if isinstance(value, str) else value)


# --- the time parser ----------------------------------------------------------------------------------

TIME_FRAGMENTS = [
    "今天", "昨晚", "前天", "上周五", "11月", "20日", "号", "2026-", "13", "/", ":", "点", "半", "一刻",
    "晚上", "凌晨", "下午", "十", "两", "二十", "三", "25", "分钟前", "小时前", "刚才", "周", "星期", "几",
    "10", "22", "40", "的", "年", "0", " ", "打来", "催收",
]  # fmt: skip
# Simplified → one Traditional spelling, from the parser's own table (keys are code points).
TRAD = {simple: chr(trad) for trad, simple in reversed(list(timeparse._TRAD.items())) if chr(trad) != "〇"}
NOW = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31))
time_like = st.lists(st.sampled_from(TIME_FRAGMENTS), max_size=7).map("".join)


@FAST
@given(ANYTHING, NOW)
def test_time_parser_takes_anything(value, now):
    result = timeparse.parse_time(value, now)
    assert result is None or isinstance(result, timeparse.ParsedTime)


@FAST
@given(st.one_of(time_like, st.text(max_size=30)), NOW)
def test_time_parser_reads_what_is_there_whatever_the_width_script_or_spacing(text, now):
    result = timeparse.parse_time(text, now)
    if result is not None:
        # The matched words (joined with spaces when apart: "今天 晚上").
        assert all(piece in timeparse._normalize(text) for piece in result.text.split(" "))
        assert result.value is None or result.value.tzinfo is None
    traditional = "".join(TRAD.get(c, c) for c in text)
    assert timeparse.parse_time(text.translate(WIDE), now) == result
    assert timeparse.parse_time(traditional, now) == result
    assert timeparse.parse_time(text.replace(" ", " \u3000 "), now) == result


# --- the phone normaliser -----------------------------------------------------------------------------

PHONE_PIECES = ["1", "3", "8", "9", "0", "5", "7", "86", "+", " ", "-", "(", ")", "１", "号码", "电话", "x", "，"]
phone_like = st.lists(st.sampled_from(PHONE_PIECES), max_size=25).map("".join)


@FAST
@given(st.one_of(phone_like, st.text(max_size=40)))
def test_normalised_phones_are_fixed_points(text):
    result = normalize_phone(text)
    if result.valid:
        assert normalize_phone(result.number).number == result.number
        if result.e164:
            assert normalize_phone(result.e164).number == result.number
    for found in find_phones(text):
        assert found.valid and normalize_phone(found.raw).number == found.number


@FAST
@given(st.one_of(phone_like, st.text(max_size=40)))
def test_masking_leaves_no_personal_number(text):
    # The incident log's own masking, and the log masker, hide every mobile and landline
    # the phone finder sees (service numbers such as 95188 are not personal).
    for masked in (mask_phones_in(text), mask_log_text(text)):
        left = [p for p in find_phones(masked) if p.kind in ("mobile", "landline")]
        assert not left, (text, masked)
    for found in find_phones(text):
        if found.kind in ("mobile", "landline"):
            assert found.raw not in mask_log_text(text)


# --- WeChat XML -----------------------------------------------------------------------------------------

TOKEN, APPID = "fuzz-token", "wx-fuzz"
AES_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
PLAIN, SAFE = WeChatSim("http://unused", TOKEN, APPID), WeChatSim("http://unused", TOKEN, APPID, AES_KEY)
XML_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
xml_text = st.text(alphabet=st.one_of(XML_CHARS, st.sampled_from("\n\t")), max_size=200)
xml_like = st.lists(
    st.sampled_from(
        ["<xml>", "</xml>", "<Content>", "</Content>", "<![CDATA[", "]]>", "<MsgType>text</MsgType>",
         "<MsgId>1</MsgId>", "<FromUserName>o</FromUserName>", "<CreateTime>1</CreateTime>", "&amp;", "&",
         "<!DOCTYPE x>", "<!ENTITY e 'x'>", "&e;", "<?xml version='1.0'?>", "<", ">", "你好", "\x00", "'", '"']
    ),
    max_size=15,
).map("".join)  # fmt: skip


@FAST
@given(st.one_of(st.binary(max_size=300), xml_like.map(str.encode)))
def test_xml_parsing_refuses_cleanly(body):
    try:
        fields = parse_xml_safely(body)
    except WeChatRequestError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


@FAST
@given(
    st.one_of(st.binary(max_size=300), xml_like.map(str.encode)),
    st.dictionaries(
        st.sampled_from(["signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "openid"]),
        st.text(max_size=12),
    ),
    st.booleans(),
)
def test_webhook_decoding_refuses_cleanly(body, query, safe):
    crypto = SAFE.crypto if safe else None
    if "timestamp" in query and "nonce" in query and query.get("signature") == "sign":
        query["signature"] = PLAIN.signed_query(query["timestamp"], query["nonce"])["signature"]
    try:
        decode_request(TOKEN, crypto, query, body)
    except WeChatRequestError:
        pass


@FAST
@given(xml_text.filter(lambda t: t.strip() and "]]>" not in t), st.booleans())
def test_text_messages_round_trip_and_replies_come_back_intact(content, safe):
    sim = SAFE if safe else PLAIN
    xml = _xml({"ToUserName": sim.account, "FromUserName": sim.openid, "CreateTime": 1700000000,
                "MsgType": "text", "Content": content, "MsgId": 42})  # fmt: skip
    query, body = sim.envelope(xml)
    message, encrypted = decode_request(TOKEN, sim.crypto, query, body)
    assert isinstance(message, TextMessage) and encrypted == safe
    assert message.content.strip() == content.strip()
    # Any reply text, "]]>" included, reaches the user as it was.
    reply_text = content + "]]>" + content[::-1]
    reply = render_text_reply(message, reply_text, sim.crypto, query["nonce"], query["timestamp"])
    assert sim.read_reply(reply)[0] == reply_text


@FAST
@given(st.text(max_size=3000), st.integers(min_value=16, max_value=2048))
def test_reply_chunks_fit_and_keep_every_character(text, limit):
    chunks = split_utf8(text, limit)
    assert all(chunk and len(chunk.encode("utf-8")) <= limit for chunk in chunks)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)


@FAST
@given(st.lists(st.dictionaries(st.sampled_from(["text", "buttons", "custom", "image"]), ANYTHING), max_size=4))
def test_any_bot_messages_format(messages):
    assert all(isinstance(chunk, str) for chunk in format_reply(messages))


# --- the input sanitiser ------------------------------------------------------------------------------

payload_like = st.lists(
    st.sampled_from(["/", "inform", "greet", "restart", "{", "}", '"lender"', ":", '"x"', "你好", " ", "//"]),
    max_size=8,
).map("".join)


@FAST
@given(st.one_of(ANYTHING, payload_like))
def test_sanitize_is_idempotent_and_lets_only_our_payloads_through(value):
    text = sanitize(value)
    assert sanitize(text) == text
    assert not text.startswith("/") or is_allowed_payload(text)
