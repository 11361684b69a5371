"""Phone numbers: normalised, classified, masked and found in free text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.phones import REASONS, find_phones, mask_phone, mask_phones_in, normalize_phone


@pytest.mark.parametrize(
    "text, number, kind",
    [
        ("13812345678", "13812345678", "mobile"),
        ("138 1234 5678", "13812345678", "mobile"),
        ("138-1234-5678", "13812345678", "mobile"),
        ("+86 138 1234 5678", "13812345678", "mobile"),
        ("+86-13812345678", "13812345678", "mobile"),
        ("0086 13812345678", "13812345678", "mobile"),
        ("8613812345678", "13812345678", "mobile"),
        ("１３８１２３４５６７８", "13812345678", "mobile"),
        ("一三八一二三四五六七八", "13812345678", "mobile"),
        ("19912345678", "19912345678", "mobile"),
        ("010-12345678", "010-12345678", "landline"),
        ("0755 1234 5678", "0755-12345678", "landline"),
        ("(021)12345678", "021-12345678", "landline"),
        ("（０２１）５４８８３１２０", "021-54883120", "landline"),
        ("0371-65521234", "0371-65521234", "landline"),
        ("0571-8765432", "0571-8765432", "landline"),  # 7-digit local number
        ("+86 10 12345678", "010-12345678", "landline"),
        ("95188", "95188", "service"),
        ("95384", "95384", "service"),
        ("96110", "96110", "service"),
        ("400-123-4567", "400-123-4567", "service"),
        ("4001234567", "400-123-4567", "service"),
        ("800 123 4567", "800-123-4567", "service"),
        ("10086", "10086", "service"),
        ("1069012345678", "1069012345678", "service"),  # SMS port
    ],
)
def test_valid_numbers(text, number, kind):
    result = normalize_phone(text)
    assert result.valid, (text, result)
    assert (result.number, result.kind, result.reason) == (number, kind, None)


def test_e164():
    assert normalize_phone("138 1234 5678").e164 == "+8613812345678"
    assert normalize_phone("010-12345678").e164 == "+861012345678"
    assert normalize_phone("95188").e164 is None
    assert normalize_phone("110").e164 is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("110", "too_short"),
        ("120", "too_short"),
        ("1234", "too_short"),
        ("1381234567", "too_short"),
        ("138123456789", "too_long"),
        ("010-1234", "too_short"),
        ("0755-123456789", "too_long"),
        ("12345678901234567890123", "too_long"),
        ("abc13812345678", "letters"),
        ("138ABCD5678", "letters"),
        ("电话13812345678", "letters"),
        ("0371-6552xxxx", "incomplete"),
        ("138****5678", "incomplete"),
        ("+1 415 555 1234", "foreign"),
        ("65512345", "no_area_code"),
        ("23456", "unknown_prefix"),
    ],
)
def test_invalid_numbers(text, reason):
    result = normalize_phone(text)
    assert not result.valid
    assert result.number is None
    assert result.reason == reason
    assert result.reason_text == REASONS[reason]


@pytest.mark.parametrize(
    "text, masked",
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("010-12345678", "010-****5678"),
        ("0571-8765432", "0571-***5432"),
        ("95188", "95188"),  # a company hotline is not private
        ("not a number", "****"),
        ("12345678901234", "**********1234"),
        (None, "****"),
    ],
)
def test_mask_phone(text, masked):
    assert mask_phone(text) == masked


def test_find_phones_in_messages():
    text = (
        "记录：11月20日22:40 号码 +86 173 0042 8816 打给我老婆，另一个是010-8523-4567，"
        "还有13812345678 13912345678，欠了12345元，第12345条，2026-11-20 22:40，0371-6552xxxx，"
        "打了95188，（０２１）５４８８３１２０，又是 13812345678"
    )
    found = find_phones(text)
    assert [r.number for r in found] == [
        "17300428816",
        "010-85234567",
        "13812345678",
        "13912345678",
        "95188",
        "021-54883120",
    ]
    assert all(r.valid for r in found)
    assert found[0].raw == "+86 173 0042 8816"


@pytest.mark.parametrize(
    "text",
    [
        "今天下午三点",
        "188开头的号",
        "欠了12345元",
        "2026-11-20 22:40",
        "打了12次",
        "第1064条",
        "11/20",
        "abc12345678x",
    ],
)
def test_find_phones_ignores_what_is_not_a_number(text):
    assert find_phones(text) == []


def test_mask_phones_in_keeps_only_the_given_numbers():
    text = "催收用13812345678打给我妈13911112222，我的号码是13700001111，客服95188"
    masked = mask_phones_in(text, keep=["138 1234 5678", "13700001111"])
    assert masked == "催收用13812345678打给我妈139****2222，我的号码是13700001111，客服95188"
    assert mask_phones_in("没有号码，全角：，保持原样") == "没有号码，全角：，保持原样"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raise_on_any_text(text):
    result = normalize_phone(text)
    assert result.valid == (result.number is not None)
    assert result.valid or result.reason in REASONS
    for found in find_phones(text):
        assert found.valid
    assert isinstance(mask_phone(text), str)
    assert isinstance(mask_phones_in(text), str)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["1", "3", "8", "0", "86", "+", " ", "-", "(", ")", "９", "x", "号", "元"]),
        max_size=20,
    )
)
def test_never_raise_on_number_like_text(pieces):
    text = "".join(pieces)
    normalize_phone(text)
    for found in find_phones(text):
        assert normalize_phone(found.number).number == found.number
