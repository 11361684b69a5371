"""Letters as cards: a letter travels once (letters/message.py) and the page
shows it as one card, copied, downloaded as .docx and .txt, kept across a
reload.

``test_a_letter_from_the_real_bot_downloads_as_a_file`` asks the real bot
for a letter. The other tests serve a bot turn made by the project's own
letter code in the REST channel's shape (Playwright answers the two messages
of that turn; everything else is the real bot), to check the card in detail.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from datetime import date

import docx

from letters import registry, render_letter
from letters.message import letter_message
from tests.browser.conftest import ARTIFACTS, PAGE, WEBHOOK


def letter_payload() -> dict:
    letter = render_letter(
        "lender_complaint",
        {
            "author_relation": "parent",
            "lender_name": "重庆蚂蚁消费金融有限公司",
            "collector_numbers": ["13800138000"],
            "date": "2026年11月28日",
        },
    )
    return letter_message(letter, date(2026, 11, 28))


def fulfil(route, messages) -> None:
    route.fulfill(
        status=200,
        headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        body=json.dumps(messages, ensure_ascii=False),
    )


def serve_letter_turns(page, custom) -> None:
    """The bot's answers to "帮我写一封给平台的投诉信" and "确认生成", as the
    letter actions will send them; other messages go to the real bot."""

    def handle(route):
        request = route.request
        message = (request.post_data_json or {}).get("message") if request.method == "POST" else None
        if message == "帮我写一封给平台的投诉信":
            fulfil(
                route,
                [
                    {
                        "recipient_id": "x",
                        "text": "好的。信里会写：您是借款人的父母，放款机构是重庆蚂蚁消费金融有限公司。",
                    },
                    {
                        "recipient_id": "x",
                        "text": "信息都对的话，点“确认生成”。",
                        "buttons": [
                            {"title": "确认生成", "payload": "确认生成"},
                            {"title": "改一下", "payload": "改一下"},
                        ],
                    },
                ],
            )
        elif message == "确认生成":
            fulfil(
                route,
                [{"recipient_id": "x", "text": "信写好了。标着【待填写】的地方，请提交前补上。"}]
                + [{"recipient_id": "x", "custom": custom}]
                + [
                    {
                        "recipient_id": "x",
                        "text": "提交后告诉我工单号，我帮您记下。",
                        "buttons": [{"title": "记录提交情况", "payload": "记录提交情况"}],
                    }
                ],
            )
        else:
            route.fallback()

    page.route(WEBHOOK, handle)


def check_docx_download(page, card, title: str) -> None:
    with page.expect_download() as info:
        card.get_by_role("button", name=f"下载 Word 文档：{title}").click()
    download = info.value
    assert download.suggested_filename.endswith(".docx"), download.suggested_filename
    data = open(download.path(), "rb").read()
    assert data[:2] == b"PK"
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert title in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    download.save_as(str(ARTIFACTS / download.suggested_filename))


def test_a_letter_card_copies_and_downloads(chat, context):
    """The card, its label from the letter message, its buttons, no letter bubbles."""
    custom = letter_payload()
    page = chat.page
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=PAGE.rstrip("/"))
    serve_letter_turns(page, custom)
    chat.open().wait_welcome()

    chat.say("帮我写一封给平台的投诉信")
    before = chat.bot_rows()
    page.get_by_role("group", name="快捷回复").get_by_role("button", name="确认生成").click()
    chat.wait_reply(before)

    card = page.locator(".letter-card")
    assert card.count() == 1
    assert card.locator(".letter-kind").text_content() == registry.label("lender_complaint")
    assert card.locator(".letter-title").text_content() == custom["title"]
    # The letter's text bubbles are not shown again beside the card.
    bot_bubbles = page.locator(".row-bot .bubble").all_text_contents()
    assert not any("本人不是借款人" in text for text in bot_bubbles), bot_bubbles
    assert any("信写好了" in text for text in bot_bubbles)
    assert "记录提交情况" in chat.chips()  # buttons after the letter still work
    # Gaps are marked and counted.
    gaps = custom["body"].count("【待填写】")
    assert card.locator("mark").count() == gaps > 0
    assert f"还有 {gaps} 处" in card.locator(".letter-note").text_content()

    chat.screenshot("letter-card")
    card.screenshot(path=str(ARTIFACTS / "letter-card-only.png"))
    more = card.get_by_role("button", name="展开全文")
    more.click()
    assert card.get_by_role("button", name="收起").get_attribute("aria-expanded") == "true"

    card.get_by_role("button", name=f"复制全文：{custom['title']}").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == custom["title"] + "\n\n" + custom["body"]

    check_docx_download(page, card, custom["title"])

    with page.expect_download() as info:
        card.get_by_role("button", name=f"下载纯文本：{custom['title']}").click()
    txt = open(info.value.path(), "rb").read().decode("utf-8")
    assert info.value.suggested_filename.endswith(".txt")
    assert txt.startswith("\ufeff" + custom["title"] + "\r\n\r\n")
    assert "本人不是借款人" in txt

    chat.no_horizontal_scroll()

    # After a reload the card is still there and still downloads.
    page.reload()
    page.locator(".letter-card").wait_for()
    check_docx_download(page, page.locator(".letter-card"), custom["title"])


def test_a_letter_without_a_word_file_offers_text(chat):
    custom = letter_payload()
    del custom["docx_base64"]
    page = chat.page
    serve_letter_turns(page, custom)
    chat.open().wait_welcome()
    chat.say("帮我写一封给平台的投诉信")
    before = chat.bot_rows()
    page.get_by_role("button", name="确认生成").click()
    chat.wait_reply(before)
    card = page.locator(".letter-card")
    assert card.get_by_role("button", name="下载 Word 文档").count() == 0
    assert card.get_by_role("button", name="下载纯文本").is_visible()
    with page.expect_download() as info:
        card.get_by_role("button", name="下载纯文本").click()
    assert info.value.suggested_filename == custom["filename"].removesuffix(".docx") + ".txt"


def test_a_letter_from_the_real_bot_downloads_as_a_file(chat):
    chat.open().wait_welcome()
    page = chat.page
    replies = chat.say("帮我写一封给平台的投诉信")
    for _ in range(12):  # one question per missing fact, then the summary
        if page.locator(".letter-card").count():
            break
        assert not any("选一个" in text for text in replies), f"the bot left the letter: {replies}"
        time.sleep(2)  # a person's pace (the bot limits senders to 30 messages a minute)
        if "确认生成" in chat.chips():
            before = chat.bot_rows()
            page.get_by_role("group", name="快捷回复").get_by_role("button", name="确认生成").click()
            replies = chat.wait_reply(before)
        else:
            replies = chat.say("跳过")
    card = page.locator(".letter-card").last
    assert card.count() == 1, page.locator("#log").text_content()[-800:]
    title = card.locator(".letter-title").text_content()
    body = card.locator(".letter-body").text_content()
    assert "【待填写】" in body  # skipped facts stay open
    # The letter travels once: no bubble of that turn repeats it beside the card.
    letter = re.sub(r"\s+", "", title + body)
    for text in page.locator(".row-bot .bubble").all_text_contents():
        text = re.sub(r"\s+", "", text.removeprefix("安心说："))
        assert len(text) < 40 or text not in letter, text
    chat.screenshot("letter-card-real-bot")
    card.screenshot(path=str(ARTIFACTS / "letter-card-real-bot-card.png"))
    check_docx_download(page, card, title)
    chat.no_horizontal_scroll()
