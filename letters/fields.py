"""Reading the letter form's free answers: a name must be a name.

"半夜打电话，还骂人" typed where the form asked for a signature is a report,
not a name; it must not end up under the letter.
"""

from __future__ import annotations

import re

from privacy.masking import starts_with_surname

_NAME = re.compile(
    r"^(?:我叫|我的名字是|我的名字叫|名字是|名字叫|姓名是?|署名是?|署名用|叫|就写)?\s*"
    r"(?P<name>[\u4e00-\u9fff·]{2,5}?)(?:吧|啊|呀|的|了)?[。.！!]?$"
)
# Words no one's name is made of, but reports and questions are.
_NOT_IN_NAMES = re.compile(
    r"打|电话|骂|催|半夜|说|欠|钱|不|没|什么|怎么|为什么|我|你|他|她|吗|呢|写|信|投诉|记录|跳过|知道"
)


def person_name(text: str | None) -> str | None:
    """The name in an answer like "王丽" / "我叫王丽", or None when it isn't one."""
    match = _NAME.match((text or "").strip())
    if not match:
        return None
    name = match["name"]
    if _NOT_IN_NAMES.search(name) or not starts_with_surname(name):
        return None
    return name
