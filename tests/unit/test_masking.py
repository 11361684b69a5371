"""The log masker (privacy/masking.py): what it masks, and properties on any input."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.masking import mask_log_text, mask_pii, mask_secrets, mask_value

WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    "text, masked",
    [
        ("我叫张三，电话13812345678", "我叫<name>，电话<phone>"),
        ("+86 138-1234-5678", "<phone>"),
        ("8613812345678", "<number>"),
        ("(+86)13812345678", "<phone>"),
        ("０086 138 1234 5678", "<phone>"),
        ("１３８１２３４５６７８", "<phone>"),
        ("138  1234  5678", "<phone>"),
        ("座机010-62345678", "座机<phone>"),
        ("(0755) 2345 6789", "<phone>"),
        ("+86 10 62345678", "<phone>"),
        ("本地号码87654321", "本地号码<number>"),
        ("身份证110101199003071234", "身份证<id>"),
        ("11010119900307123x号", "<id>号"),
        ("110101 19900307 123X", "<id>"),
        ("卡号6222 0212 3456 7890 123", "卡号<card>"),
        ("6222021234567890", "<card>"),
        ("一三八一二三四五六七八", "<number>"),
        ("我是王小明", "我是<name>"),
        ("我是他妈妈", "我是他妈妈"),
        ("我是借款人", "我是借款人"),
        ("您好，我是安心，专门帮", "您好，我是安心，专门帮"),
        ("姓名：欧阳娜娜。", "姓名：<name>。"),
        ("我姓赵", "我姓<name>"),
        ("他儿子叫李四，", "他儿子叫<name>，"),
        ("联系人: John Smith", "联系人: <name>"),
        ("他们说要找我老公张伟", "他们说要找我老公<name>"),
        ("\tletter_author_name: 王小明\n\tlender: None", "\tletter_author_name: <name>\n\tlender: None"),
        ("SlotSet(key: letter_borrower_name, value: 张伟)", "SlotSet(key: letter_borrower_name, value: <name>)"),
        ('{"name": "greet", "borrower_name": "欧阳娜娜"}', '{"name": "greet", "borrower_name": "<name>"}'),
        ("欠了5000元，每天打20次，95188", "欠了5000元，每天打20次，95188"),
        ("2024-01-01 13:14:15,123 [12345] INFO x", "2024-01-01 13:14:15,123 [12345] INFO x"),
        ("timestamp 1700000000.123456", "timestamp 1700000000.123456"),
        ("t=1795924771.1269927", "t=1795924771.1269927"),
        ('"confidence": 0.9999876543210987', '"confidence": 0.9999876543210987'),
        ("价格1.13812345678", "价格1.<phone>"),
        ("conversation 'd1f6b3304962e2ae5554dad7' at 0x7f7d12345678", "conversation 'd1f6b3304962e2ae5554dad7' at 0x7f7d12345678"),
        ("sender=sec-51a1234567dd user=u13812345678 qq123456789", "sender=sec-51a1234567dd user=u<phone> qq<number>"),
    ],
)
def test_masks(text, masked):
    assert mask_log_text(text) == masked


def test_log_lines_json_escapes_and_secrets():
    line = json.dumps({"event": "processor.message.parse", "parse_data_text": "我叫张三 13812345678"})
    masked = mask_log_text(line)
    assert json.loads(masked)["parse_data_text"] == "我叫<name> <phone>"
    assert mask_secrets("GET /x?token=abc&openid=o1&q=1") == "GET /x?token=***&openid=***&q=1"
    assert mask_secrets('{"access_token": "t0k"}') == '{"access_token": "***"}'
    assert mask_secrets("X-Anxin-Action-Secret: s3cr3t") == "X-Anxin-Action-Secret: ***"
    assert mask_secrets("Authorization: Bearer abc.def") == "Authorization: ***"


def test_values():
    event = {"text": "我叫张三", "n": 13812345678, "small": 42, "ok": True, "f": 1.5, "l": [b"13812345678"]}
    assert mask_value(event) == {"text": "我叫<name>", "n": "<phone>", "small": 42, "ok": True, "f": 1.5, "l": ["<phone>"]}
    assert mask_value(object()).startswith("<object object")


# --- properties -------------------------------------------------------------------------------------

SEPARATORS = ["", "", "", " ", "-", "  ", "\u3000", "—"]
# Surroundings of a number: no digits, separators or signs that could belong to it, and no
# backslash ("\u" + 4 digits reads as a JSON escape: the digits become one character).
NO_DIGITS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "Cs"), blacklist_characters="+-—―‒–‐‑()（）＋－ \t\u00a0\u3000\\"
    ),
    max_size=20,
)
# Digit runs of 7 or more are masked; a Unix time with a fraction, and decimal fractions,
# are kept on purpose.
LONG_RUN = re.compile(r"\d{7,}|[零〇一二三四五六七八九幺]{7,}")
EPOCH = re.compile(r"(?<!\d)1[5-9]\d{8}(?=\.\d)|(?<=\d\.)\d+")


def _digits_spelled(draw, digits: str) -> str:
    out = digits[0]
    for digit in digits[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + digit
    return out.translate(WIDE) if draw(st.booleans()) else out


@st.composite
def mobiles(draw):
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)))
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "0086", "86 ", "(+86)", "+86-"]))
    return digits, prefix + _digits_spelled(draw, digits)


@st.composite
def id_numbers(draw):
    digits = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=17, max_size=17)))
    digits += draw(st.sampled_from("0123456789Xx"))
    groups = [digits[:6], digits[6:10], digits[10:14], digits[14:]]
    return digits, "".join(g + draw(st.sampled_from(["", "", " ", "-"])) for g in groups).rstrip(" -")


@st.composite
def cards(draw):
    length = draw(st.integers(16, 19))
    digits = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length, max_size=length)))
    separator = draw(st.sampled_from(["", " ", "-", "  "]))
    return digits, separator.join(digits[i : i + 4] for i in range(0, length, 4))


@st.composite
def landlines(draw):
    area = draw(st.sampled_from(["010", "021", "020", "0755", "0371", "0512"]))
    local = draw(st.sampled_from("123456789")) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=7))
    )
    spelled = draw(st.sampled_from(["{a}-{l}", "({a}){l}", "({a}) {l}", "{a} {l}", "+86 {b} {l}", "{a}{l}"]))
    return area + local, spelled.format(a=area, b=area[1:], l=local)


def _leftover_digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_is_idempotent(text):
    once = mask_log_text(text)
    assert isinstance(once, str)
    assert mask_log_text(once) == once
    assert mask_pii(mask_pii(text)) == mask_pii(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789０１２３４５６７８９一二三八幺 -.+()X我叫是张三"))))
def test_no_long_digit_run_survives(text):
    masked = mask_log_text(text)
    left = LONG_RUN.findall(EPOCH.sub("", masked))
    assert not left, (text, masked)


@settings(max_examples=200, deadline=None)
@given(st.one_of(mobiles(), id_numbers(), cards(), landlines()), NO_DIGITS, NO_DIGITS)
def test_numbers_in_any_surroundings_are_masked(number, before, after):
    digits, spelled = number
    masked = mask_log_text(before + spelled + after)
    assert spelled not in masked
    # At most a country code's digits may be left of the number.
    assert len(_leftover_digits(masked.translate(str.maketrans("０１２３４５６７８９", "0123456789")))) <= 2, masked


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["我叫", "我的名字是", "姓名：", "姓名", "名字叫", "联系人 ", "我是", "我儿子叫", "她叫"]),
    st.sampled_from(["王", "李", "张", "欧阳", "诸葛", "陈"]),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=2),
    st.sampled_from(["", "，", "。", " ", "，电话"]),
)
def test_names_after_a_cue_are_masked(cue, surname, given_name, after):
    name = surname + given_name
    masked = mask_log_text(f"您好，{cue}{name}{after}")
    assert name not in masked and "<name>" in masked


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    )
)
def test_mask_value_takes_anything(value):
    mask_value(value)


@pytest.mark.parametrize("text", ["0000000000000000A", "卡号6222020200112233445a", "13812345678abc"])
def test_a_number_touching_hex_letters_is_still_masked(text):
    """Found by the property test: a card number followed by "A" passed as a hash."""
    assert not re.search(r"\d{11,}", mask_log_text(text))


@pytest.mark.parametrize("text", ["086111 11111", "086111(11111", "(0571) 8888 1234"])
def test_a_landline_with_separators_anywhere_is_masked(text):
    """Found by the property test: the phone finder reads these as landlines."""
    assert "<phone>" in mask_log_text(text)
