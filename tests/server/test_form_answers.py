"""Forms take only answers that fit the question: a report typed where a name
is asked is not a name, "还没还清" is not "还清了", and asking for the log in
the middle of a letter shows the log and then goes back to the letter."""

from __future__ import annotations


def _to_the_signature(bot) -> str:
    reply = bot.say("帮我给借呗写一封投诉信")
    for answer in ("我是借款人的妈妈",):
        if "署名" in reply:
            break
        reply = bot.say(answer)
    assert "署名" in reply, reply
    return reply


def test_a_report_typed_for_the_signature_is_not_a_name(bot):
    _to_the_signature(bot)
    reply = bot.say("半夜打电话，还骂人")
    assert "只要写姓名" in reply, reply
    assert "手机号" in bot.say("王丽"), "a real name is taken and the form goes on"


def test_asking_for_the_log_mid_letter_shows_the_log_and_goes_back(bot):
    _to_the_signature(bot)
    reply = bot.say("先让我看看我的记录")
    assert "记录" in reply and "确认生成" not in reply, reply
    assert "署名" in reply, "the letter's question comes back"


def test_not_yet_repaid_is_not_taken_for_repaid(bot):
    reply = bot.say("我借的钱还没还清 他们天天打 我该怎么跟他们谈")
    assert "结清证明" not in reply, reply


def test_a_question_about_a_hotline_is_not_recorded_as_a_complaint(bot):
    reply = bot.say("12348这个电话到底是管什么的")
    assert "记下了" not in reply and "提交" not in reply, reply


def test_the_log_reads_back_what_the_first_message_said(bot):
    reply = bot.say("帮我记一下 前天晚上十点半 有人打给我爸 骂得很难听")
    assert "22:30" in reply and "深夜" in reply, reply


def test_the_open_entrys_time_can_be_corrected_at_once(bot):
    bot.say("帮我记一下 前天下午两点 有人打给我老婆")
    reply = bot.say("不对 我记错了 是前天下午四点")
    assert "改成" in reply and "16:00" in reply, reply


def test_a_corrected_lender_replaces_the_first_one(bot):
    bot.say("我弟在借呗借的钱 催收天天打我")
    bot.say("不对 刚问清楚了 不是借呗 是微粒贷")
    reply = bot.say("那我该去哪里投诉")
    assert "微众" in reply and "蚂蚁" not in reply, reply
