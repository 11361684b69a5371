"""Reading incident facts and letter answers out of the user's words."""

import pytest

from actions.letters import definite_legal_name
from incidents import text as incident_text
from letters.fields import person_name
from letters.registry import kind_in
from nlu.text import normalize


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("昨晚十点半 13812345678 打给我妈，骂得很难听", "母亲"),
        ("催收打到我单位了", "同事"),
        ("他们打给我老婆了", "老婆"),
        ("我儿子欠钱，催收昨晚打给我", "我"),
        ("打我电话打了8次", "我"),
    ],
)
def test_who_was_called(text, who):
    assert incident_text.contacted_person(text, asked=False) == who


def test_a_relation_alone_is_the_person_only_when_asked():
    assert incident_text.contacted_person("我儿子欠了借呗", asked=False) is None
    assert incident_text.contacted_person("同事", asked=True) == "同事"
    assert incident_text.contacted_person("我妈", asked=True) == "母亲"


@pytest.mark.parametrize(
    ("text", "count"),
    [("一天打了8次", 8), ("连打了十二个电话", 12), ("打了两遍", 2), ("说要上门", None), ("11月20日", None)],
)
def test_attempts(text, count):
    assert incident_text.attempts(text) == count


@pytest.mark.parametrize(
    ("text", "asked", "found"),
    [
        ("有录音和截图", True, ["recording", "screenshot"]),
        ("没录音，有截图", True, ["screenshot"]),
        ("都没有", True, []),
        ("他骂人了", False, None),
        ("有通话记录", False, ["call_log"]),
    ],
)
def test_evidence(text, asked, found):
    assert incident_text.evidence(text, asked) == found


@pytest.mark.parametrize(
    ("text", "count", "ref"),
    [
        ("第2条时间不对", 5, 2),
        ("删除第三条", 5, 3),
        ("最后一条", 4, 4),
        ("3", 5, 3),
        ("第9条", 5, None),
        ("改成11号晚上", 20, None),
    ],
)
def test_entry_reference(text, count, ref):
    assert incident_text.entry_ref(text, count) == ref


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("帮我写投诉信", "lender_complaint"),
        ("写给金融监管的投诉", "regulator_complaint"),
        ("写信要求他们删除我的号码", "pipl_request"),
        ("写报警材料", "police_statement"),
        ("写12321举报", "report_12321"),
        ("你好", None),
    ],
)
def test_letter_kind(text, kind):
    assert kind_in(text) == kind


def test_legal_names_are_used_only_when_certain():
    assert definite_legal_name("ant_consumer_finance") == "重庆蚂蚁消费金融有限公司"
    assert definite_legal_name("generic_bank") is None
    assert definite_legal_name("jd_microloan") is None, "“或合作银行” is not one company"
    assert definite_legal_name("unknown") is None


@pytest.mark.parametrize(
    ("text", "name"), [("王秀英", "王秀英"), ("我叫李建国", "李建国"), ("张伟吧", "张伟")]
)
def test_person_name(text, name):
    assert person_name(text) == name


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("帮我记一下：他说，再不还就去你单位闹！你等着？", "他说，再不还就去你单位闹！你等着？"),
        ("他說(催收)會來家裡", "他说（催收）会来家里"),
        ("时间:22:40，打了3次", "时间：22:40，打了3次"),
        ("欠了1,000元", "欠了1,000元"),
    ],
)
def test_the_description_keeps_chinese_punctuation(typed, stored):
    """The NLU normaliser makes "，" ASCII; the letter quotes the user with "，"."""
    assert incident_text.description(normalize(typed)) == stored
