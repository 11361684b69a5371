"""Mask personal data in text: the one masker every log line goes through.

What is masked (each replaced by a tag, so a reader still sees that
something was there):

- ``<id>``     18-digit resident ID numbers (last character may be X), also in groups;
- ``<card>``   bank card numbers (16-19 digits, also in groups of four);
- ``<phone>``  mainland mobiles (with +86/86/0086, spaces or dashes anywhere) and
               landlines with an area code (010-12345678, (0755) 1234 5678, +86 10 ...);
- ``<number>`` any other run of 7 or more digits (or Chinese numerals: 一三八...),
               which also catches local landlines, 15-digit IDs and QQ numbers
               (but not the fraction of a decimal number, 0.98765432, nor digits
               inside a hexadecimal ID such as a conversation's uuid);
- ``<name>``   names where they are recognisable: after 我叫, 我姓, 姓名, 名字是/叫,
               联系人, 户名 ...; after 我是/他叫/老公/儿子叫 ... when a common
               surname follows; and as the value of a field named ``*name``
               (slots such as ``letter_author_name`` in Rasa's debug log).
               A name said with no such cue ("张伟说…") is not recognised.

Full-width digits count as digits. The masker never raises, and masking is
idempotent. Unix timestamps with a fraction (``1700000000.123``) and decimal
fractions are kept, since log lines are full of them and they identify no one.

``mask_log_text`` is for whole log lines: it also reads JSON ``\\uXXXX`` escapes
(structlog writes Chinese escaped) and hides secrets in ``token=...`` style
query parameters and headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PHONE, ID, CARD, NUMBER, NAME, SECRET = "<phone>", "<id>", "<card>", "<number>", "<name>", "***"

# Full-width digits and signs → ASCII, one character for one, so spans stay put.
_WIDE = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")
# Separators people put inside a number (one or two at a time: "138  1234 5678").
_S = r"[ \t\u00a0\u3000\-‐‑‒–—―()（）]"
_SEP = rf"{_S}{{0,2}}"
_CC = rf"(?:(?:\+|00){_SEP}86|\(\+?86\)|86(?={_S}))"  # country code, as typed

_ID = re.compile(rf"(?<!\d)\d{{6}}{_SEP}\d{{4}}{_SEP}\d{{4}}{_SEP}\d{{3}}[\dXx](?!\d)")
_CARD = re.compile(rf"(?<!\d)\d{{4}}(?:{_S}{{1,2}}\d{{4}}){{3}}(?:{_S}{{1,2}}\d{{1,3}})?(?!\d)")
_MOBILE = re.compile(rf"(?<!\d)(?:{_CC}{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!\d)")
_LANDLINE = re.compile(
    rf"(?<!\d)(?:{_CC}{_SEP}\(?0?|\(?0)(?:10|2\d|[3-9]\d\d)\)?{_SEP}[1-9]\d{{2,3}}{_SEP}\d{{4}}(?!\d)"
)
# A landline with its separators anywhere ("086111 11111"), as the phone finder reads it.
_SPACED_LANDLINE = re.compile(r"(?<![\d\-])\(?0(?:[ \-()]{0,2}\d){9,11}(?![\d\-])")
_EPOCH = re.compile(r"1[5-9]\d{8}\.\d")  # a Unix time with a fraction: not personal
_LONG_DIGITS = re.compile(r"\d{7,}")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdefABCDEF")
# Runs with a Chinese numeral in them (digits alone are _LONG_DIGITS'), with their
# fraction: "00000三0.0000000" leaves no digit run behind.
_CN_NUMERALS = re.compile(r"(?=[\d零〇一二三四五六七八九幺]*[零〇一二三四五六七八九幺])[\d零〇一二三四五六七八九幺]{7,}(?:\.\d+)?")

_SURNAMES_2 = "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 申屠 南宫 独孤".split()
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯"
    "纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪"
    "简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎"
    "甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_HAN = r"[\u4e00-\u9fff]"
_SURNAMES_2_RE = "|".join(_SURNAMES_2)
_SURNAME = f"(?:{_SURNAMES_2_RE}|[{_SURNAMES_1}])"
_GAP = r"[ \t:：,，\"'“”「」]{0,3}"

# Said outright: whatever follows is a name (Chinese, or a romanised one).
_NAMED = re.compile(
    r"(?P<cue>我叫|我名叫|名叫|我的名字是|我的名字叫|名字是|名字叫|名字[:：]|姓名是?|叫做|我姓|本人姓名|"
    r"联系人|户名|持卡人|收件人|借款人姓名|称呼我为?)"
    + _GAP
    + rf"(?P<name>(?:{_SURNAMES_2_RE}){_HAN}{{1,2}}|{_HAN}{{1,3}}|[A-Za-z][A-Za-z.'\-]*(?: [A-Z][A-Za-z.'\-]*)?)"
)
# Said in passing: a name only when a common surname follows ("我老公张伟", "他是李四").
_SURNAMED = re.compile(
    r"(?P<cue>我是|他叫|她叫|他是|她是|(?:儿子|女儿|老公|老婆|丈夫|妻子|爱人|爸爸|妈妈|父亲|母亲|"
    r"哥哥|姐姐|弟弟|妹妹|孩子|朋友|同事|借款人|担保人|催收员?|对方)(?:叫|名叫|是)?)"
    + _GAP
    + rf"(?P<name>{_SURNAME}{_HAN}{{1,2}})"
)
# A field holding a name, as logged: "letter_author_name: 王小明", "SlotSet(key: x_name, value: 王小明)",
# {"borrower_name": "王小明"}. Only Chinese values: "name": "greet" is an intent.
_NAME_FIELD = re.compile(
    r"(?P<cue>(?:name|姓名)[\"']?(?:\s*[:=]|,\s*value:)\s*[\"']?)" + rf"(?P<name>{_HAN}{{1,4}})"
)

_SECRET_PARAM = re.compile(
    r"(?i)(?<![A-Za-z0-9_])((?:access_token|auth_token|token|openid|appsecret|secret|password|passwd|"
    r"signature|msg_signature|echostr|api_key|apikey)=)([^&\s\"'<>]+)"
)
_SECRET_FIELD = re.compile(
    r"(?i)([\"'](?:access_token|auth_token|token|appsecret|secret|password|api_key)[\"']\s*:\s*[\"'])([^\"']+)"
)
_SECRET_HEADER = re.compile(r"(?i)((?:x-anxin-action-secret|authorization)[\"']?\s*[:=]\s*[\"']?)([^\"'\s,}]+(?: [^\"'\s,}]+)?)")
# structlog's JSON escapes Chinese as \uXXXX; read those (non-ASCII only, so JSON stays valid).
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _digit_tag(digits: str) -> str:
    count = sum(c.isdigit() for c in digits)
    if count == 11 and digits.lstrip()[:1] == "1":
        return PHONE
    if 16 <= count <= 19:
        return CARD
    return NUMBER


def _in_hex_token(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] (digits) sits in a hexadecimal token of 12+ characters
    with letters in it: ``d1f6b3304962e2ae5554dad7``, ``0x7f7d12345678``."""
    while start > 0 and text[start - 1] in _ALNUM:
        start -= 1
    while end < len(text) and text[end] in _ALNUM:
        end += 1
    token = text[start:end]
    if token[:2] in ("0x", "0X"):
        token = token[2:]
    return len(token) >= 12 and all(c in _HEX for c in token) and not token.isdigit()


def _long_run(match: re.Match[str]) -> str:
    run, text, start = match.group(0), match.string, match.start()
    if len(run) == 10 and _EPOCH.match(text, start):
        return run
    if start >= 2 and text[start - 1] == "." and text[start - 2].isdigit():
        return run  # the fraction of a decimal number (a confidence, a time): not personal
    # Part of a uuid, hash or address (conversation IDs stay traceable) — unless
    # the run is as long as a phone, ID or card number: "6222…445A" is a card.
    if run.isascii() and len(run) < 11 and _in_hex_token(text, start, match.end()):
        return run
    return _digit_tag(run) if run.isascii() else NUMBER


# Words after 我是/他是 ... that start with a surname but are not names (the bot's own
# name among them). Masking a non-name only costs a log reader a word, so this stays short.
_NOT_NAMES = (
    "安心", "高中", "单位", "单亲", "全职", "全家", "全部", "金融", "房东", "司机", "程序", "和他", "和她",
    "和我", "和你", "时候", "明天", "明白", "常常", "于是", "成年", "农民", "师傅", "文员", "车主", "商家",
)  # fmt: skip


def _name(match: re.Match[str]) -> str:
    start = match.start()
    whole = match.group(0)
    return whole[: match.start("name") - start] + NAME + whole[match.end("name") - start :]


def _surnamed(match: re.Match[str]) -> str:
    return match.group(0) if match.group("name").startswith(_NOT_NAMES) else _name(match)


def mask_pii(text: Any) -> str:
    """``text`` with phone, ID and card numbers, long digit runs and names masked."""
    if not isinstance(text, str):
        text = "" if text is None else _safe_str(text)
    if not text:
        return text
    text = text.translate(_WIDE)
    text = _ID.sub(ID, text)
    text = _CARD.sub(CARD, text)
    text = _MOBILE.sub(PHONE, text)
    text = _LANDLINE.sub(PHONE, text)
    text = _SPACED_LANDLINE.sub(PHONE, text)
    text = _LONG_DIGITS.sub(_long_run, text)
    text = _CN_NUMERALS.sub(_long_run, text)
    text = _NAMED.sub(_name, text)
    text = _SURNAMED.sub(_surnamed, text)
    text = _NAME_FIELD.sub(_name, text)
    return text


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    # ASCII escapes (quotes, control characters) and surrogates stay as they are.
    if code < 0x80 or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def mask_secrets(text: str) -> str:
    """``text`` with the values of token=, openid=, secret headers ... replaced by ***."""
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + SECRET, text)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + SECRET, text)
    return _SECRET_HEADER.sub(lambda m: m.group(1) + SECRET, text)


def mask_log_text(text: Any) -> str:
    """A log line (or traceback) with personal data and secrets masked."""
    if not isinstance(text, str):
        text = _safe_str(text)
    if "\\u" in text:
        text = _ESCAPE.sub(_unescape, text)
    return mask_pii(mask_secrets(text))


def mask_value(value: Any, _depth: int = 0) -> Any:
    """``value`` (str, number, dict, list ...) with every string in it masked.

    Long integers (a phone number kept as an int) become tags; booleans and
    floats are kept; other objects become their masked ``str()``. Used on
    structlog event dicts before they are rendered.
    """
    if isinstance(value, str):
        return mask_log_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return _digit_tag(str(abs(value))) if abs(value) >= 1_000_000 else value
    if _depth > 20:
        return mask_log_text(_safe_str(value))
    if isinstance(value, Mapping):
        return {key: mask_value(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(item, _depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return mask_log_text(bytes(value).decode("utf-8", errors="replace"))
    # Anything else would be rendered with str() or repr() anyway.
    return mask_log_text(_safe_str(value))


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def starts_with_surname(text: str) -> bool:
    """Whether ``text`` begins with a common Chinese surname (a name's first test)."""
    return re.match(_SURNAME, text or "") is not None
