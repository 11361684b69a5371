"""The incident log and the letters, over REST against the real servers.

One mother records three calls in her own words, with three kinds of time
expression, lists them, corrects one, sees the night call and the frequency
breach flagged, and gets each of the five letters filled from what she said.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

SHANGHAI = timezone(timedelta(hours=8))


def replies(bot, message):
    response = bot.post(message)
    assert response.status_code == 200, response.text
    return response.json()


def text_of(messages) -> str:
    parts = []
    for message in messages:
        parts.append(message.get("text", ""))
        parts.extend(f"[{b['title']}]" for b in message.get("buttons") or [])
    return "\n".join(parts)


@pytest.fixture(scope="module")
def mother(servers):
    from tests.server.conftest import Bot

    return Bot(servers["base"])


@pytest.fixture(scope="module")
def logged(mother):
    """Three calls, recorded the way a worried mother might type them."""
    now = datetime.now(SHANGHAI)
    first = mother.say("帮我记一下：昨晚十点半 13812345678 打给我妈，骂得很难听")
    assert "证据" in first, "time, number, person and what was said were all in the message"
    saved = mother.say("有录音")
    yesterday = now - timedelta(days=1)
    assert "记下了" in saved
    assert f"{yesterday.month}月{yesterday.day}日" in saved and "22:30" in saved, "the time is read back"
    assert "138****5678" in saved and "13812345678" not in saved, "numbers are masked in chat"
    assert "深夜" in saved

    assert "什么时候" in mother.say("再记一条")
    assert "号码" in mother.say("11月20日22:40")
    assert "打给了谁" in mother.say("0571-88886666")
    assert "说了什么" in mother.say("打到我单位，问我同事")
    assert "证据" in mother.say("说我儿子不还钱就去法院告他，让同事转告我")
    assert "记下了" in mother.say("都没有")

    third = mother.say("再记一条：前天下午三点 13912345678 打我电话打了8次，说再不还就上门")
    if "证据" in third:
        third = mother.say("有通话记录")
    assert "记下了" in third
    assert "一天内联系次数过多" in third
    return now


def test_the_log_lists_three_calls_and_flags_breaches(mother, logged):
    shown = mother.say("查看我的记录")
    assert "一共记了 3 条" in shown
    assert "1. 11月20日 22:40" in shown, "oldest first, numbered"
    assert "深夜或清晨联系" in shown
    assert "一天内联系次数过多" in shown and "8 次" in shown
    assert "联系与债务无关的人" in shown
    assert "13812345678" not in shown


def test_an_entry_can_be_corrected(mother, logged):
    asked = mother.say("第2条记错了，要改")
    assert "改成什么" in asked
    fixed = mother.say("时间是前天晚上十一点")
    day_before_yesterday = datetime.now(SHANGHAI) - timedelta(days=2)
    assert "改好了" in fixed and f"{day_before_yesterday.month}月{day_before_yesterday.day}日 23" in fixed
    assert "深夜" in mother.say("查看我的记录").split("2. ")[1].split("\n")[0]


def _letter(mother, request, answers=()):
    """Ask for a letter, answer what the bot still asks, confirm; return the turn's messages."""
    reply = text_of(replies(mother, request))
    for answer in answers:
        assert "确认生成" not in reply, f"asked for too little: {reply}"
        reply = text_of(replies(mother, answer))
    assert "确认生成" in reply, reply
    assert "属实" in reply, "the user confirms the facts are true"
    return replies(mother, "确认生成")


def _card(messages):
    cards = [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]
    assert len(cards) == 1, messages
    card = cards[0]
    assert card["type"] == "letter"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(card["docx_base64"]))) as docx:
        assert "word/document.xml" in docx.namelist()
    return card


def test_five_letters_are_filled_from_the_conversation(mother, logged):
    messages = _letter(
        mother,
        "帮我给借呗写一封投诉信",
        answers=["我是他妈妈", "王秀英", "13700001111", "跳过"],
    )
    card = _card(messages)
    body = card["body"]
    assert card["kind"] == "lender_complaint"
    assert "重庆蚂蚁消费金融有限公司" in body
    assert "王秀英" in body and "13700001111" in body
    assert "13812345678" in body and "0571-88886666" in body, "the lender needs the collectors' numbers"
    assert "本人不是借款人" in body, "a relative never promises to pay"
    assert "借款人：【待填写】" in body, "the skipped name is left blank, not invented"
    chat = [m["text"] for m in messages if m.get("text")]
    assert not any("本人不是借款人" in t or card["title"] in t for t in chat), "the letter travels once"
    assert card["label"] == "给放款机构的投诉信"
    assert "不构成任何还款承诺" in body

    regulator = _card(_letter(mother, "再写一份给金融监管的投诉"))
    assert regulator["kind"] == "regulator_complaint"
    assert "国家金融监督管理总局" in regulator["body"] and "王秀英" in regulator["body"]

    pipl = _card(_letter(mother, "写要求删除个人信息的通知"))
    assert pipl["kind"] == "pipl_request"
    assert "第47条" in pipl["body"] and "13700001111" in pipl["body"]

    police = _card(_letter(mother, "写报警材料", answers=["杭州市西湖区北山派出所"]))
    assert police["kind"] == "police_statement"
    assert "北山派出所" in police["body"] and "13912345678" in police["body"]

    report = _card(_letter(mother, "写12321举报"))
    assert report["kind"] == "report_12321"
    assert "13812345678" in report["body"]
    dates = re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", report["body"])
    assert dates, "the letter is dated"


def test_a_submission_is_recorded_with_its_due_date(mother, logged):
    reply = mother.say("我今天向平台客服投诉了，工单号 A20261129001")
    assert "A20261129001" in reply
    assert "答复" in reply


def test_an_entry_can_be_deleted_after_confirmation(bot):
    bot.say("记录一次骚扰：刚才 13600001111 打给我，说要上门")
    bot.say("都没有")
    asked = bot.say("删除第1条")
    assert "确定删除" in asked and "136****1111" in asked
    assert "没有删除" in bot.say("不删了")
    assert "确定删除" in bot.say("删除第1条")
    assert "已删除" in bot.say("确定删除")
    assert "还没有记录" in bot.say("查看我的记录")


def test_the_log_is_per_user(bot, mother, logged):
    other = bot.new_user()
    assert "还没有记录" in other.say("查看我的记录")
