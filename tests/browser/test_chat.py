"""The chat page against the real bot: replies, quick replies, memory across
reloads, a new conversation, phone-sized layout, bad input shown as text,
the Chinese IME and the keyboard."""

from __future__ import annotations

import json
import re

from tests.browser.conftest import ARTIFACTS, PAGE, RASA_PORT, WEBHOOK

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_a_chinese_message_gets_a_reply(chat):
    chat.open().wait_welcome()
    page = chat.page
    assert page.get_by_role("heading", name="安心").is_visible()
    welcome = " ".join(page.locator(".row-bot").all_text_contents())
    assert "安心" in welcome  # the bot's own welcome, asked for with /greet

    replies = chat.say("我儿子在借呗借了钱，催收一天给我打十几个电话，我要替他还吗？")

    assert replies and all(HAN.search(text) for text in replies), replies
    assert not any(text.startswith("安心说") for text in replies)
    user = page.locator(".row-user .bubble").last
    assert "我儿子在借呗借了钱" in user.text_content()
    # WeChat look: bot bubbles white on the left, the user's green on the right.
    bot_box = page.locator(".row-bot .bubble").first.bounding_box()
    user_box = user.bounding_box()
    assert bot_box["x"] < 80  # next to the bot's avatar on the left
    assert user_box["x"] + user_box["width"] > 375 - 80  # next to the user's avatar on the right
    assert page.locator(".row-bot .avatar").first.bounding_box()["x"] < 20
    assert page.locator(".row-user .avatar").last.bounding_box()["x"] > 300
    assert page.locator(".row-user .bubble").last.evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(149, 236, 105)"
    )
    assert page.locator(".time").count() >= 1  # a time separator
    chat.screenshot("phone-conversation")


def test_a_quick_reply_chip_sends_its_payload_and_shows_its_title(chat):
    chat.open().wait_welcome()
    page = chat.page
    chips = chat.chips()
    assert "家人要替他还钱吗" in chips, chips
    before = chat.bot_rows()

    page.get_by_role("group", name="快捷回复").get_by_role("button", name="家人要替他还钱吗").click()

    replies = chat.wait_reply(before)
    # The title is what the user sees; the payload (/faq{...}) went to the bot.
    assert page.locator(".row-user .bubble").last.text_content().endswith("家人要替他还钱吗")
    assert "faq_topic" not in page.locator("#log").text_content()
    assert any("替" in text or "还" in text for text in replies), replies
    assert "家人要替他还钱吗" not in chat.chips()  # the old chips went away


def test_the_conversation_survives_a_reload_and_新对话_starts_over(chat):
    chat.open().wait_welcome()
    page = chat.page
    chat.say("催收说要去我单位闹")
    sender = chat.sender()
    texts = page.locator("#log .row").all_text_contents()
    assert len(texts) >= 3

    page.reload()
    page.locator(".row").first.wait_for()
    chat.wait_idle()
    assert chat.sender() == sender
    assert page.locator("#log .row").all_text_contents() == texts
    # And the bot remembers it too: the same conversation goes on.
    assert chat.say("还有别的办法吗")

    page.get_by_role("button", name="新对话").click()
    dialog = page.get_by_role("dialog", name="开始新对话？")
    assert dialog.is_visible()
    dialog.get_by_role("button", name="开始新对话").click()
    chat.wait_welcome()
    assert chat.sender() != sender
    assert chat.user_rows() == 0
    assert "催收说要去我单位闹" not in page.locator("#log").text_content()


def test_新对话_can_be_cancelled_with_the_keyboard(chat):
    chat.open().wait_welcome()
    page = chat.page
    chat.say("你好")
    sender = chat.sender()
    page.get_by_role("button", name="新对话").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog").is_visible()
    page.keyboard.press("Escape")
    assert not page.get_by_role("dialog").is_visible()
    assert chat.sender() == sender
    assert page.evaluate("document.activeElement.id") == "new-chat-button"  # focus came back


def test_a_phone_sized_page_has_no_horizontal_scroll(chat):
    page = chat.page
    page.set_viewport_size({"width": 375, "height": 667})
    chat.open().wait_welcome()
    chat.no_horizontal_scroll()
    chat.say("催收" * 400)  # one long line without spaces
    chat.say("https://example.com/" + "a" * 300 + " 还有 13800000000" * 5)
    chat.no_horizontal_scroll()
    for box in page.locator(".bubble").evaluate_all("els => els.map(e => e.getBoundingClientRect().right)"):
        assert box <= 375
    chat.screenshot("phone-375-long-text")


def test_markup_and_very_long_input_are_shown_as_text(chat):
    chat.open().wait_welcome()
    page = chat.page
    markup = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>粗体</b>'
    chat.say(markup)
    bubble = page.locator(".row-user .bubble").last
    assert bubble.text_content() == "我说：" + markup
    assert page.locator("#log script, #log img, #log b").count() == 0
    assert page.evaluate("window.__pwned") is None

    # The input stops at the bot's own limit (2000 characters) and says so.
    box = page.get_by_role("textbox", name="输入消息")
    box.fill("长" * 2100)
    assert len(box.input_value()) == 2000
    assert page.locator("#limit-hint").is_visible()
    box.press("Enter")
    chat.wait_idle()
    assert page.locator(".row-user .bubble").last.text_content() == "我说：" + "长" * 2000
    chat.no_horizontal_scroll()
    chat.screenshot("markup-as-text")


def test_enter_does_not_send_while_an_ime_is_composing(chat):
    chat.open().wait_welcome()
    page = chat.page
    box = page.get_by_role("textbox", name="输入消息")
    box.fill("cui")
    box.dispatch_event("compositionstart")
    box.press("Enter")  # choosing a candidate
    assert chat.user_rows() == 0
    box.fill("催收")
    box.dispatch_event("compositionend")
    box.press("Shift+Enter")  # a new line, not a message
    assert chat.user_rows() == 0
    box.press("Enter")
    chat.wait_idle()
    assert chat.user_rows() == 1
    assert page.locator(".row-user .bubble").last.text_content().strip().endswith("催收")


def test_keyboard_only_and_accessible_names(chat):
    chat.open().wait_welcome()
    page = chat.page
    assert page.get_by_role("log", name="聊天记录").is_visible()
    assert page.get_by_role("button", name="发送").is_disabled()  # nothing typed yet
    chip = page.get_by_role("group", name="快捷回复").get_by_role("button").first
    title = chip.text_content()
    before = chat.bot_rows()
    chip.focus()
    page.keyboard.press("Enter")
    chat.wait_reply(before)
    assert page.locator(".row-user .bubble").last.text_content().endswith(title)
    # After a chip the focus is back in the input, ready to type.
    assert page.evaluate("document.activeElement.id") == "input"
    page.keyboard.type("谢谢")
    assert page.get_by_role("button", name="发送").is_enabled()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send-button"
    before = chat.bot_rows()
    page.keyboard.press("Enter")
    chat.wait_reply(before)


def test_hotline_numbers_in_replies_are_tappable(chat):
    chat.open().wait_welcome()
    page = chat.page
    assert page.locator('#notice a[href="tel:110"]').count() == 1
    # The welcome names 12348 (public legal services).
    assert page.locator('.row-bot a[href="tel:12348"]').count() >= 1
    chat.say("他们说要上门打我，我很害怕")
    assert page.locator('.row-bot a[href="tel:110"]').count() >= 1


def test_an_unreachable_server_is_said_clearly_and_the_page_reconnects(chat):
    chat.open().wait_welcome()
    page = chat.page
    rasa = f"http://localhost:{RASA_PORT}/**"
    page.route(rasa, lambda route: route.abort("connectionrefused"))

    page.get_by_role("textbox", name="输入消息").fill("催收半夜打电话")
    page.get_by_role("textbox", name="输入消息").press("Enter")
    banner = page.get_by_role("alert")
    banner.wait_for()
    assert "连不上" in banner.text_content()
    assert "等待连接" in page.locator(".row-user .status").last.text_content()
    assert page.locator("#status-line").text_content() == "未连接"
    chat.screenshot("offline-banner")

    # The server is back: the page notices by itself and sends what was waiting.
    before = chat.bot_rows()
    page.unroute(rasa)
    chat.wait_reply(before)
    page.wait_for_function("() => document.getElementById('banner-text').textContent.includes('已重新连上')")
    assert page.locator(".row-user .status").count() == 0


def test_a_page_opened_with_a_server_down_says_so_at_once(chat):
    page = chat.page
    page.route(f"http://localhost:{RASA_PORT}/**", lambda route: route.abort("connectionrefused"))
    chat.open()
    page.get_by_role("alert").wait_for()
    assert "连不上" in page.get_by_role("alert").text_content()
    page.get_by_role("button", name="立即重试").click()
    page.get_by_text("还是连不上，稍后会自动再试").wait_for()
    assert page.get_by_role("alert").is_visible()


def test_a_desktop_screen_gets_a_centred_column(context):
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(PAGE)
    page.locator(".row-bot").first.wait_for()
    box = page.locator("#app").bounding_box()
    assert box["width"] <= 762 and abs(box["x"] - (1280 - box["width"]) / 2) < 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desktop.png"))


def test_numbers_and_links_in_a_reply_become_the_right_links(chat):
    """Rendering (a bot turn served by Playwright): which numbers are tappable."""
    text = (
        "拨打 110 报警；12378；95188；12356；010-12321；13812345678；0571-88889999。"
        "工单号12345；欠了12000元；第110条；138****5678；2026年11月28日。"
        "网站 https://www.12321.cn/ 和 www.example.com。<b>不是粗体</b>"
    )

    def handle(route):
        if route.request.method == "POST" and (route.request.post_data_json or {}).get("message") == "号码":
            route.fulfill(
                status=200,
                headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
                body=json.dumps([{"recipient_id": "x", "text": text}], ensure_ascii=False),
            )
        else:
            route.fallback()

    chat.page.route(WEBHOOK, handle)
    chat.open().wait_welcome()
    chat.say("号码")
    bubble = chat.page.locator(".row-bot .bubble").last
    assert bubble.text_content() == "安心说：" + text
    links = bubble.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert links == [
        "tel:110",
        "tel:12378",
        "tel:95188",
        "tel:12356",
        "tel:01012321",
        "tel:13812345678",
        "tel:057188889999",
        "https://www.12321.cn/",
        "https://www.example.com",
    ]
    assert bubble.locator("a[target=_blank][rel~=noopener]").count() == 2


def test_when_the_bot_erases_the_data_the_page_forgets_too(chat):
    """With the bot's {"type": "data_erased"} payload (served by Playwright):
    nothing of the conversation stays on the device."""

    def handle(route):
        if route.request.method == "POST" and (route.request.post_data_json or {}).get("message") == "确定删除":
            route.fulfill(
                status=200,
                headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
                body=json.dumps(
                    [
                        {"recipient_id": "x", "text": "已删除：1 条记录，以及我们全部的聊天记录。"},
                        {"recipient_id": "x", "custom": {"type": "data_erased"}},
                    ],
                    ensure_ascii=False,
                ),
            )
        else:
            route.fallback()

    page = chat.page
    page.route(WEBHOOK, handle)
    chat.open().wait_welcome()
    chat.say("我妈妈的电话13812345678被催收打爆了")
    sender = chat.sender()
    page.get_by_role("textbox", name="输入消息").fill("确定删除")
    page.get_by_role("textbox", name="输入消息").press("Enter")
    page.get_by_text("这台设备上的聊天记录也已清除").wait_for()
    assert page.locator(".row .bubble").all_text_contents() == ["安心说：已删除：1 条记录，以及我们全部的聊天记录。"]
    assert chat.sender() != sender
    stored = page.evaluate("localStorage.getItem('anxin.chat.v1')")
    assert "13812345678" not in stored and sender not in stored
    page.reload()
    page.locator(".row").first.wait_for()
    assert chat.user_rows() == 0
