"""The embeddable widget (web/embed.js) on an operator's page: a floating
button opens the chat in a panel, which talks to the real bot."""

from __future__ import annotations

from tests.browser.conftest import PAGE, TIMEOUT_MS


def test_the_floating_widget_opens_chats_and_closes(chat):
    page = chat.page
    page.set_viewport_size({"width": 1280, "height": 800})
    chat.open(PAGE + "embed-demo.html")
    launcher = page.get_by_role("button", name="打开安心聊天：催收骚扰应对助手")
    launcher.wait_for()
    assert page.locator("iframe").count() == 0  # nothing loads until the visitor opens it

    launcher.click()
    frame = page.frame_locator('iframe[title="安心聊天"]')
    frame.locator(".row-bot").first.wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_role("button", name="关闭安心聊天").get_attribute("aria-expanded") == "true"
    box = frame.get_by_role("textbox", name="输入消息")
    box.fill("催收天天给我爸妈打电话")
    box.press("Enter")
    frame.locator(".row-user").first.wait_for()
    page.wait_for_function(
        "() => { const d = document.querySelector('#anxin-widget').shadowRoot.querySelector('iframe')"
        ".contentDocument; return d.querySelectorAll('.row-bot').length > 3 && d.getElementById('typing').hidden; }",
        timeout=TIMEOUT_MS,
    )
    chat.screenshot("embed-open")

    # The close button inside the chat closes the panel; the launcher toggles it back.
    frame.get_by_role("button", name="关闭聊天窗口").click()
    page.wait_for_function(
        "() => document.querySelector('#anxin-widget').shadowRoot.querySelector('.panel').hidden"
    )
    launcher = page.get_by_role("button", name="打开安心聊天：催收骚扰应对助手")
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.click()
    assert frame.locator(".row-user").count() == 1  # the same conversation
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.querySelector('#anxin-widget').shadowRoot.querySelector('.panel').hidden"
    )


def test_the_widget_fills_a_phone_screen(chat):
    page = chat.page
    chat.open(PAGE + "embed-demo.html")
    page.get_by_role("button", name="打开安心聊天：催收骚扰应对助手").click()
    frame = page.frame_locator('iframe[title="安心聊天"]')
    frame.locator(".row-bot").first.wait_for(timeout=TIMEOUT_MS)
    panel = page.locator("#anxin-widget .panel")
    box = panel.bounding_box()
    assert box["width"] == 375 and box["x"] == 0
    chat.no_horizontal_scroll()
    chat.screenshot("embed-phone")
