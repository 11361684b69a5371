"""Rasa bot messages → WeChat text: joined bubbles, numbered buttons, 2048-byte chunks."""

import pytest

from channels.wechat_format import (
    CHOICE_PROMPT,
    MAX_BYTES,
    cdata_safe,
    format_reply,
    messages_to_text,
    split_utf8,
)

BUTTONS = [
    {"title": "我或家人被催收骚扰", "payload": "/report_harassment"},
    {"title": "家人要替他还钱吗", "payload": '/faq{"faq_topic":"family_liability"}'},
    {"title": "可以去哪里投诉", "payload": "/ask_where_complain"},
]


def test_bubbles_are_joined_with_a_blank_line():
    messages = [
        {"recipient_id": "u", "text": "您好，我是安心。"},
        {"recipient_id": "u", "text": "  第二条  "},
    ]
    assert messages_to_text(messages) == "您好，我是安心。\n\n第二条"


def test_buttons_become_numbered_lines_the_bot_understands():
    text = messages_to_text([{"text": "您遇到了什么情况？", "buttons": BUTTONS}])
    assert text == (
        f"您遇到了什么情况？\n{CHOICE_PROMPT}\n1 我或家人被催收骚扰\n2 家人要替他还钱吗\n3 可以去哪里投诉"
    )


def test_buttons_without_text_and_without_titles():
    assert messages_to_text([{"buttons": [{"payload": "/greet"}]}]) == f"{CHOICE_PROMPT}\n1 /greet"
    assert messages_to_text([{"buttons": [{}]}]) == ""


def test_custom_payloads_give_their_title_and_text():
    notice = {
        "custom": {"type": "notice", "title": "致催收公司的告知函", "text": "本人并非借款人……", "pdf": "x"}
    }
    assert messages_to_text([notice]) == "致催收公司的告知函\n本人并非借款人……"
    nested = {"custom": {"custom": {"type": "notice", "text": "正文"}}}
    assert messages_to_text([nested]) == "正文"
    # A letter travels once, as its message: on WeChat, its title and body.
    letter = {
        "custom": {"type": "letter", "title": "关于催收行为的投诉", "body": "正文", "docx_base64": "UEs="}
    }
    assert messages_to_text([letter]) == "关于催收行为的投诉\n\n正文"
    assert messages_to_text([{"custom": "not a dict"}]) == ""


def test_images_and_empty_messages():
    assert messages_to_text([{"image": "https://example.org/a.png"}, {"text": ""}, {}]) == (
        "https://example.org/a.png"
    )
    assert format_reply([]) == []


def _assert_chunks(text: str, chunks: list[str], limit: int = MAX_BYTES) -> None:
    assert all(0 < len(c.encode("utf-8")) <= limit for c in chunks)
    # Nothing lost but the whitespace at the cuts.
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


def test_short_text_is_one_chunk():
    assert split_utf8("你好") == ["你好"]
    assert split_utf8("   ") == []


def test_chinese_text_splits_at_about_680_characters_without_breaking_one():
    text = "催收骚扰" * 500  # 2000 characters, 6000 bytes, no place to break
    chunks = split_utf8(text)
    _assert_chunks(text, chunks)
    assert [len(c) for c in chunks] == [682, 682, 636]
    assert "".join(chunks) == text


@pytest.mark.parametrize("limit", [4, 5, 7, 100, 2047, 2048])
def test_mixed_widths_never_cut_a_character(limit):
    text = ("a😀中b" * 700) + "ü" * 300  # 1-, 4-, 3- and 2-byte characters
    chunks = split_utf8(text, limit)
    _assert_chunks(text, chunks, limit)
    assert "".join(chunks) == text
    for chunk in chunks:
        chunk.encode("utf-8").decode("utf-8")  # each chunk is whole characters


def test_prefers_paragraph_then_sentence_breaks():
    first = "第一段。" * 100  # 1200 bytes
    second = "第二段。" * 100
    text = f"{first}\n\n{second}"
    assert split_utf8(text) == [first, second]
    sentences = "这是一句话。" * 200  # 3600 bytes, no newline
    chunks = split_utf8(sentences)
    _assert_chunks(sentences, chunks)
    assert all(c.endswith("。") for c in chunks)


def test_a_break_too_early_is_ignored():
    text = "短。" + "长" * 1000
    chunks = split_utf8(text)
    _assert_chunks(text, chunks)
    assert len(chunks[0]) == 682  # not cut after "短。"


def test_format_reply_joins_then_splits():
    long_bubble = {"text": "家人没有替还的义务。" * 120}  # 3600 bytes
    chunks = format_reply([{"text": "您好"}, long_bubble, {"text": "还有问题吗？", "buttons": BUTTONS[:1]}])
    assert len(chunks) == 2
    assert chunks[0].startswith("您好\n\n家人")
    assert chunks[-1].endswith(f"{CHOICE_PROMPT}\n1 我或家人被催收骚扰")
    assert all(len(c.encode()) <= MAX_BYTES for c in chunks)


def test_cdata_safe():
    assert cdata_safe("a]]>b") == "a]]]]><![CDATA[>b"
    assert cdata_safe("普通文字") == "普通文字"
