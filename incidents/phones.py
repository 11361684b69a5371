"""Chinese phone numbers: normalise, mask, and find them in free text.

Collectors call from mobiles, landlines (with area code) and business service
numbers (95xxx, 96xxx, 400/800, SMS ports 106...), so all of these are valid.
Normalised forms are national and readable:

- mobile:   ``13812345678``               (``e164`` → ``+8613812345678``)
- landline: ``010-12345678``, ``0755-12345678``
- service:  ``95188``, ``12321``, ``400-123-4567``, ``1069012345678``

Never raises on any input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

KINDS = ("mobile", "landline", "service")

# Reason codes for invalid input, with what the bot can tell the user.
REASONS = {
    "empty": "没有号码",
    "letters": "号码里有字母或其他字符",
    "incomplete": "号码不完整（有 x 或 * 代替的数字）",
    "too_short": "位数太少",
    "too_long": "位数太多",
    "foreign": "不是中国大陆的号码",
    "no_area_code": "座机号码缺少区号",
    "unknown_prefix": "不像手机、座机或客服号码",
}

_CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")
# Separators people type inside a number: spaces, dashes of all widths, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―.()（）\[\]]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 3-digit area codes are 010 and 020-029; all others have 4 digits.
_LANDLINE = re.compile(r"0(?:(?P<a3>10|2[0-9])|(?P<a4>[3-9][0-9]{2}))(?P<local>[1-9][0-9]{6,7})")
_SERVICE = (
    re.compile(r"9[56][0-9]{3,4}"),  # 95xxx / 96xxx hotlines (5 or 6 digits)
    re.compile(r"1[02][0-9]{3}"),  # 10xxx carriers, 12xxx public-service lines
    re.compile(r"[48]00[0-9]{7}"),  # 400 / 800 business numbers
    re.compile(r"106[0-9]{5,17}"),  # SMS ports collectors text from
)


@dataclass(frozen=True)
class PhoneResult:
    """A phone number read from user input.

    ``number`` is the normalised national form (``None`` when invalid);
    ``reason`` is a key of ``REASONS`` when invalid.
    """

    raw: str
    number: str | None
    kind: str | None
    valid: bool
    reason: str | None = None

    @property
    def digits(self) -> str:
        return re.sub(r"[^0-9]", "", self.number or "")

    @property
    def e164(self) -> str | None:
        """``+86...`` for mobiles and landlines; service numbers only work in China."""
        if not self.valid or self.kind == "service":
            return None
        return "+86" + self.digits.removeprefix("0")

    @property
    def reason_text(self) -> str | None:
        return REASONS.get(self.reason or "")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_CN_DIGITS)
    return _SEPARATORS.sub("", text)


def _invalid(raw: str, reason: str, kind: str | None = None) -> PhoneResult:
    return PhoneResult(raw=raw, number=None, kind=kind, valid=False, reason=reason)


def _classify(raw: str, digits: str, international: bool) -> PhoneResult:
    if _MOBILE.fullmatch(digits):
        return PhoneResult(raw, digits, "mobile", True)
    if international and not digits.startswith("0"):
        # "+86 10 12345678": the trunk 0 is dropped after the country code.
        digits = "0" + digits
    landline = _LANDLINE.fullmatch(digits)
    if landline:
        area = "0" + (landline["a3"] or landline["a4"])
        return PhoneResult(raw, f"{area}-{landline['local']}", "landline", True)
    if not international:
        for pattern in _SERVICE:
            if pattern.fullmatch(digits):
                number = (
                    f"{digits[:3]}-{digits[3:6]}-{digits[6:]}" if digits[:3] in ("400", "800") else digits
                )
                return PhoneResult(raw, number, "service", True)
    if len(digits) < 5:
        return _invalid(raw, "too_short")
    if digits.startswith("1") and len(digits) != 11 and len(digits) < 13:
        return _invalid(raw, "too_short" if len(digits) < 11 else "too_long", "mobile")
    if digits.startswith("0"):
        return _invalid(raw, "too_short" if len(digits) < 10 else "too_long", "landline")
    if digits[0] in "2345678" and len(digits) in (7, 8):
        return _invalid(raw, "no_area_code", "landline")
    if len(digits) > 12:
        return _invalid(raw, "too_long")
    return _invalid(raw, "unknown_prefix")


def normalize_phone(text: object) -> PhoneResult:
    """Normalise one phone number typed by a user.

    Accepts ``+86``/``0086``/``86`` prefixes, spaces, dashes, brackets,
    full-width and Chinese digits. Returns a ``PhoneResult``; invalid input
    (3-digit numbers, wrong length, letters, "0371-6552xxxx") has
    ``valid=False`` and a ``reason``.
    """
    raw = text if isinstance(text, str) else ""
    cleaned = _clean(raw)
    if not cleaned:
        return _invalid(raw, "empty")
    if re.search(r"[xX*＊?？]", cleaned) and re.fullmatch(r"\+?[0-9xX*＊?？]+", cleaned):
        return _invalid(raw, "incomplete")
    international = False
    if cleaned.startswith("+"):
        if not cleaned.startswith("+86"):
            return _invalid(raw, "foreign" if cleaned[1:].isdigit() else "letters")
        cleaned, international = cleaned[3:], True
    elif cleaned.startswith("0086"):
        cleaned, international = cleaned[4:], True
    if not cleaned.isascii() or not cleaned.isdigit():
        return _invalid(raw, "letters")
    if (
        not international
        and cleaned.startswith("86")
        and len(cleaned) == 13
        and _MOBILE.fullmatch(cleaned[2:])
    ):
        cleaned = cleaned[2:]
    if len(cleaned) > 20:
        return _invalid(raw, "too_long")
    return _classify(raw, cleaned, international)


# -- masking ---------------------------------------------------------------


def mask_phone(text: object) -> str:
    """``"13812345678"`` → ``"138****5678"``; landlines keep the area code
    (``"010-****5678"``); public service numbers are not private and stay as
    they are. Anything else keeps only its last digits."""
    result = normalize_phone(text)
    if result.valid and result.number:
        if result.kind == "mobile":
            return result.number[:3] + "****" + result.number[-4:]
        if result.kind == "landline":
            area, local = result.number.split("-")
            return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
        return result.number
    digits = re.sub(r"[^0-9]", "", _clean(text if isinstance(text, str) else ""))
    if not digits:
        return "****"
    keep = 4 if len(digits) >= 8 else min(2, len(digits) - 1)
    return "*" * (len(digits) - keep) + digits[len(digits) - keep :]


# -- finding numbers in free text -----------------------------------------

# A run of digits with the separators people put inside numbers; a "+" or
# bracket may open it. Letters right before or after mean it is something else.
_RUN = re.compile(r"(?<![0-9A-Za-z+])[+(]?[0-9][0-9()\- ]*[0-9]")
_GROUP = re.compile(r"\+?[0-9]+")
# Digits followed by these are amounts, counts or dates, not numbers.
_UNIT_AFTER = re.compile(r"\s*(?:元|块|万|千|百|次|个|天|日|月|年|号(?!码)|%|岁|分|秒|点|时|条|遍|通|人|笔)")
_UNIT_BEFORE = set("第¥$￥")


# Full-width digits and signs → ASCII, one character for one, so that spans
# found in the translated text are spans of the original too.
_HALF_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "＋": "+",
        "－": "-",
        "（": "(",
        "）": ")",
        "\u3000": " ",
    }
)


def _find(text: str) -> Iterator[tuple[int, int, PhoneResult]]:
    norm = text.translate(_HALF_WIDTH)
    for run in _RUN.finditer(norm):
        if run.end() < len(norm) and norm[run.end()].isascii() and norm[run.end()].isalpha():
            continue
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run.group())]
        i = 0
        while i < len(groups):
            found = None
            # Longest first: "0755 1234 5678" is one number, "138... 139..." two.
            for j in range(len(groups), i, -1):
                # An opening bracket belongs to the number: "(021)12345678".
                start = run.start() if i == 0 else groups[i][0]
                end = groups[j - 1][1]
                candidate = normalize_phone(norm[start:end])
                if candidate.valid and _plausible(norm, start, end, candidate):
                    found = (j, start, end, candidate)
                    break
            if found:
                j, start, end, candidate = found
                yield start, end, replace(candidate, raw=text[start:end])
                i = j
            else:
                i += 1


def _plausible(text: str, start: int, end: int, result: PhoneResult) -> bool:
    if start > 0 and text[start - 1] in _UNIT_BEFORE:
        return False
    # Short service numbers are easily amounts ("12345元"); long ones are not.
    if len(result.digits) <= 6 and _UNIT_AFTER.match(text, end):
        return False
    return True


def find_phones(text: object) -> list[PhoneResult]:
    """Every valid phone number in a free text, in order of first appearance,
    each once. Dates, times, amounts and partial numbers are skipped."""
    if not isinstance(text, str) or not text:
        return []
    seen: dict[str, PhoneResult] = {}
    for _, _, result in _find(text):
        seen.setdefault(result.number or "", result)
    return list(seen.values())


def mask_phones_in(text: str, keep: Iterable[str] = ()) -> str:
    """``text`` with every phone number masked, except the numbers in ``keep``
    (compared in normalised form, e.g. the author's own number)."""
    if not isinstance(text, str) or not text:
        return ""
    keep_numbers = {normalize_phone(k).number for k in keep} - {None}
    pieces, last = [], 0
    for start, end, result in _find(text):
        pieces.append(text[last:start])
        pieces.append(text[start:end] if result.number in keep_numbers else mask_phone(result.number))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
