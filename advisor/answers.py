"""Reading a user's short answer to one of the bot's questions (plain Python).

The words people use for "I don't know", "yes"/"no", "nothing special" and
"paid off / not yet", shared by the forms (actions/form_kit.py and the forms
built on it). A button's payload is read the same way as typed words.
"""

from __future__ import annotations

UNKNOWN_WORDS = ("不知道", "不清楚", "不晓得", "搞不清", "不确定", "忘了", "说不上")
# "就是打电话": the collectors did nothing the user can name.
NOTHING_SPECIFIC = ("就是打电话", "只是打电话", "光打电话", "没什么", "都没有", "没有")
# Most telling first: "还没还清" is not repaid, though it holds "还清".
REPAID_WORDS = (
    ("partly", ("还了一部分", "一部分", "还了一些", "还了点", "还了一点", "部分还")),
    ("not_repaid", ("没还", "还没", "未还", "没有还", "不还", "还不上", "还不起", "逾期", "没钱还", "欠着")),
    ("repaid", ("还清", "结清", "还完", "已经还了", "都还了", "还上了")),
)
# "说不还就让你坐牢" quotes the collector: these count only as an answer.
ANSWER_ONLY_WORDS = ("不还",)
# A "no" wins over a "yes" in the same answer ("不是，先不删").
NO_WORDS = ("不删", "不要", "先不", "取消", "算了", "不用", "别删", "不是", "不对")
YES_WORDS = ("确定", "确认", "删吧", "删除", "是的", "对", "好的", "嗯")
# Besides a yes, what confirms the facts a letter will state ("确认生成", "都属实").
LETTER_YES_WORDS = ("生成", "属实", "没问题", "可以", "写吧")


def says_unknown(text: str) -> bool:
    """ "不知道", "不清楚", "忘了"..."""
    return any(word in text for word in UNKNOWN_WORDS)


def says_nothing_specific(text: str) -> bool:
    """No behaviour to name ("就是打电话", "没有"), or not known."""
    return any(word in text for word in NOTHING_SPECIFIC) or says_unknown(text)


def repaid_answer(text: str, asked: bool) -> str | None:
    """``repaid`` / ``partly`` / ``not_repaid`` from the words; ``unknown``
    when the question was ``asked`` and the user does not know; else None.
    Outside the question, a collector's words quoted ("不还就…") do not count."""
    for value, words in REPAID_WORDS:
        if any(word in text for word in words if asked or word not in ANSWER_ONLY_WORDS):
            return value
    if asked and says_unknown(text):
        return "unknown"
    return None


def yes_no(text: str, intent: str | None = None) -> bool | None:
    """Yes / no to a confirmation question, from the intent or the words; None
    when the answer is neither."""
    if any(word in text for word in NO_WORDS) or intent == "deny":
        return False
    if intent == "affirm" or any(word in text for word in YES_WORDS):
        return True
    return None


def confirms_letter(text: str, intent: str | None = None) -> bool | None:
    """Yes / no to "are the letter's facts true, shall I write it?"."""
    answer = yes_no(text, intent)
    if answer is None and any(word in text for word in LETTER_YES_WORDS):
        return True
    return answer
