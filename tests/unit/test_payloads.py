"""Typed "/intent{...}" strings cannot inject intents or entities."""

import pytest

from channels.payloads import MAX_MESSAGE_CHARS, sanitize


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("/ask_where_complain", "/ask_where_complain"),
        ('/faq{"faq_topic":"family_liability"}', '/faq{"faq_topic":"family_liability"}'),
        ('/faq{"faq_topic":"x","user_role":"guarantor"}', 'faq{"faq_topic":"x","user_role":"guarantor"}'),
        ('/inform{"lender":"generic_bank"}', '/inform{"lender":"generic_bank"}'),
        ("/restart", "/restart"),
        ('/inform{"user_role":"guarantor"}', 'inform{"user_role":"guarantor"}'),
        ("/faq{broken json", "faq{broken json"),
        ('/safety_threat{"x":1}', 'safety_threat{"x":1}'),
        ("//我儿子欠钱", "我儿子欠钱"),
        ("  你好  ", "你好"),
        (None, ""),
        (123, ""),
    ],
)
def test_sanitize(raw, expected):
    assert sanitize(raw) == expected


def test_long_messages_are_kept_whole_for_the_guard_to_refuse():
    # channels/guard.py answers over-long messages kindly instead of reading half of them.
    assert len(sanitize("啊" * (MAX_MESSAGE_CHARS + 1))) == MAX_MESSAGE_CHARS + 1
