"""Evidence in the web chat (issue #15): the attach button, the upload with
its progress and thumbnail, the bot's proposal read from a screenshot, the
evidence pack as a download card, the chart as a picture, and refusals said
in the chat without losing anything.

The screenshots are drawn with Pillow (evidence/samples.py), so the test
knows every byte it sends: the pack's manifest must carry the same SHA-256.
``test_evidence_payloads_render_*`` serves one bot turn itself (as
test_letters.py does) to check the cards and the link rules in detail.

The flow's picture for the README (docs/img/evidence-flow.png) is written when
it is missing, or again with ANXIN_UPDATE_DOC_IMAGES=1; every run leaves its
copy in var/artifacts/browser/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

from PIL import Image

from evidence import files as evidence_files
from evidence import samples
from evidence.samples import Call
from tests.browser.conftest import ARTIFACTS, RASA_PORT, ROOT, WEBHOOK

RASA = f"http://localhost:{RASA_PORT}"
UPLOAD = f"{RASA}/webhooks/evidence/upload"
DOC_IMAGE = ROOT / "docs" / "img" / "evidence-flow.png"
DOC_IMAGE_LIMIT = 300 * 1024
PHONE = {"width": 390, "height": 844}

# A made-up evening of calls, drawn as a phone's call log; the outgoing call is not proposed.
CALLS = [
    Call("186 0000 7421", "未接", "06:58"),
    Call("186 0000 7421", "未接", "08:15", count=2),
    Call("021-5555 0132", "呼入", "12:40"),
    Call("155 1234 0098", "未接", "22:47"),
    Call("139 0000 3316", "呼出", "23:05"),
]
# In words of our own (data/nlu/evidence.yml has other ones): request_evidence_pack.
ASK_FOR_PACK = "麻烦把我存的证据都打成一个压缩包，我明天带去派出所"
# A PDF whose name says it is a screenshot.
FAKE_JPG = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n%%EOF\n"


def call_log_png() -> bytes:
    return samples.png_bytes(samples.call_log([("11月18日 星期二", CALLS)]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def watch_statuses(page) -> None:
    """Keep every upload status line the page shows (they come and go quickly)."""
    page.evaluate(
        """() => {
          window.__statuses = [];
          new MutationObserver(() => {
            document.querySelectorAll('.row-user .status').forEach((s) => {
              if (!window.__statuses.includes(s.textContent)) window.__statuses.push(s.textContent);
            });
          }).observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true});
        }"""
    )


def watch_uploads(page) -> list[tuple[str, str]]:
    """("start" | "end", url) for each upload POST, in the order the browser saw them."""
    seen: list[tuple[str, str]] = []

    def note(kind):
        def handler(request):
            if request.url == UPLOAD and request.method == "POST":
                seen.append((kind, request.url))

        return handler

    page.on("request", note("start"))
    page.on("requestfinished", note("end"))
    page.on("requestfailed", note("end"))
    return seen


def proposal(texts: list[str]) -> str:
    found = [t for t in texts if "我从截图里读到" in t]
    assert found, texts
    return found[-1]


def stored_history(page) -> str:
    return page.evaluate("localStorage.getItem('anxin.chat.v1')") or ""


def save_doc_image(page) -> Path:
    """The narrow-screen picture of the flow: the README's, when missing or asked for."""
    shot = page.screenshot()
    image = Image.open(io.BytesIO(shot)).convert("RGB").quantize(colors=256)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    if buffer.tell() > DOC_IMAGE_LIMIT:  # one CSS pixel per pixel, then
        shot = page.screenshot(scale="css")
        buffer = io.BytesIO()
        Image.open(io.BytesIO(shot)).convert("RGB").quantize(colors=256).save(buffer, "PNG", optimize=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "evidence-flow.png").write_bytes(buffer.getvalue())
    if not DOC_IMAGE.exists() or os.environ.get("ANXIN_UPDATE_DOC_IMAGES") == "1":
        DOC_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        DOC_IMAGE.write_bytes(buffer.getvalue())
    assert buffer.tell() <= DOC_IMAGE_LIMIT, buffer.tell()
    return DOC_IMAGE


def test_a_call_log_screenshot_is_read_confirmed_and_packed(chat, tmp_path):
    page = chat.page
    page.set_viewport_size(PHONE)
    chat.open().wait_welcome()
    png = call_log_png()
    shot = tmp_path / "通话记录.png"
    shot.write_bytes(png)
    watch_statuses(page)
    before = chat.bot_rows()

    page.locator("#file-input").set_input_files(str(shot))

    # The user's own bubble: the thumbnail (this page's object URL) and the placeholder.
    row = page.locator(".row-user").last
    thumb = row.locator("img.file-thumb")
    thumb.wait_for()
    assert thumb.get_attribute("src").startswith("blob:")
    assert thumb.get_attribute("alt") == "截图：通话记录.png"
    assert "[截图] 通话记录.png" in row.text_content()
    texts = chat.wait_reply(before)
    statuses = page.evaluate("window.__statuses")
    assert any(re.fullmatch(r"上传中 \d+%|已传完，安心正在查看…", s) for s in statuses), statuses
    assert row.locator(".status").count() == 0 and row.locator(".progress").count() == 0
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 1080

    # What OCR read from the picture, shown before anything is logged.
    read = proposal(texts)
    for seen in ("18600007421", "15512340098", "021-55550132", "06:58", "22:47", "11月18日", "（2 次）"):
        assert seen in read, (seen, read)
    assert "13900003316" not in read  # the call the user made is not proposed
    assert "记为 4 条来电记录" in read
    assert chat.chips() == ["记下", "不用记"]
    chat.no_horizontal_scroll()
    chat.screenshot("evidence-proposal")
    # For the README: from the thumbnail down to the buttons on a phone's screen
    # (a taller phone when the proposal is long).
    needed = page.evaluate(
        """(row) => {
          const top = row.getBoundingClientRect().top;
          const bottom = document.querySelector('.chips').getBoundingClientRect().bottom;
          const log = document.getElementById('log-wrap').getBoundingClientRect();
          return Math.ceil(window.innerHeight - log.height + (bottom - top) + 24);
        }""",
        row.element_handle(),
    )
    page.set_viewport_size({"width": PHONE["width"], "height": min(max(PHONE["height"], needed), 960)})
    row.evaluate("row => { row.scrollIntoView({block: 'start'}); row.parentElement.parentElement.scrollTop -= 12; }")
    save_doc_image(page)
    page.set_viewport_size(PHONE)

    # The history keeps a placeholder, never the picture.
    stored = stored_history(page)
    assert "[截图] 通话记录.png" in stored
    assert "blob:" not in stored and "iVBOR" not in stored and len(stored) < 20_000

    before = chat.bot_rows()
    page.get_by_role("group", name="快捷回复").get_by_role("button", name="记下").click()
    logged = " ".join(chat.wait_reply(before))
    assert "记下了 4 条" in logged, logged

    texts = chat.say(ASK_FOR_PACK)
    card = page.locator(".pack-card").last
    card.wait_for()
    link = card.get_by_role("link", name="下载证据包 (.zip)")
    href = link.get_attribute("href")
    assert href.startswith(f"{RASA}/webhooks/evidence/pack/"), href
    assert any("证据包准备好了" in t for t in texts), texts
    # The link in the bot's words is the card's button here.
    assert "/webhooks/evidence/pack/" not in " ".join(texts)
    chat.no_horizontal_scroll()
    chat.screenshot("evidence-pack-card")

    with page.expect_download() as info:
        link.click()
    download = info.value
    assert re.fullmatch(r"anxin-evidence-\d{8}\.zip", download.suggested_filename)
    data = Path(download.path()).read_bytes()
    (ARTIFACTS / "evidence-pack.zip").write_bytes(data)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        listed = manifest["files"] + manifest["generated_files"]
        assert {"timeline.docx", "chart.png", "README.txt", "manifest.json"} <= names
        assert {item["name"] for item in listed} == names - {"manifest.json", "README.txt"}
        for item in listed:
            body = archive.read(item["name"])
            assert sha256(body) == item["sha256"], item["name"]
            assert len(body) == item["size"], item["name"]
        assert len(manifest["files"]) == 1
        uploaded = manifest["files"][0]
        assert uploaded["sha256"] == sha256(png)
        assert archive.read(uploaded["name"]) == png
        assert uploaded["type"] == "png" and uploaded["source"] == "web"
        assert uploaded["linked_entries"] == [1, 2, 3, 4]


def test_a_pdf_named_jpg_is_refused_in_the_chat_and_nothing_is_lost(chat):
    page = chat.page
    chat.open().wait_welcome()
    assert chat.say("你好")  # a turn that starts no form, so the pack request below is not taken as an answer
    earlier = page.locator("#log .row").all_text_contents()
    refusal = evidence_files.refuse("pdf").message
    before = chat.bot_rows()

    page.locator("#file-input").set_input_files(
        {"name": "催收短信.jpg", "mimeType": "image/jpeg", "buffer": FAKE_JPG}
    )

    texts = chat.wait_reply(before)
    assert texts == [refusal], texts  # the server's own sentence, as a turn of the bot
    row = page.locator(".row-user").last
    assert "[截图] 催收短信.jpg" in row.text_content()
    assert "没有收下" in row.locator(".status.failed").text_content()
    assert row.get_by_role("button", name=re.compile("重新上传")).count() == 0  # sending it again would not help
    rows = page.locator("#log .row").all_text_contents()
    assert rows[: len(earlier)] == earlier
    chat.screenshot("evidence-refused-pdf")

    # The conversation goes on, and survives a reload with the refusal in it.
    assert chat.say("谢谢")
    page.reload()
    page.locator(".row").first.wait_for()
    chat.wait_idle()
    after = page.locator("#log .row").all_text_contents()
    assert after[: len(earlier)] == earlier
    assert any(refusal in text for text in after)
    stored = stored_history(page)
    assert "[截图] 催收短信.jpg" in stored and "%PDF" not in stored

    # Nothing was kept on the server: there is no pack to make yet.
    texts = chat.say(ASK_FOR_PACK)
    assert any("还没有发过截图或录音" in t for t in texts), texts
    assert page.locator(".pack-card").count() == 0


def test_files_are_checked_on_the_page_before_anything_is_sent(chat):
    page = chat.page
    chat.open().wait_welcome()
    posts = watch_uploads(page)
    users = chat.user_rows()
    before = chat.bot_rows()

    page.locator("#file-input").set_input_files(
        [
            {"name": "催收录音.mp3", "mimeType": "audio/mpeg", "buffer": b"ID3" + b"\0" * (21 * 1024 * 1024)},
            {"name": "说明.txt", "mimeType": "text/plain", "buffer": "他们说明天来家里".encode()},
            {"name": "合同.pdf", "mimeType": "application/pdf", "buffer": FAKE_JPG},
            {"name": "空白.png", "mimeType": "image/png", "buffer": b""},
        ]
    )

    page.wait_for_function(f"() => document.querySelectorAll('.row-bot').length >= {before + 4}")
    said = [t.removeprefix("安心说：") for t in page.locator(".row-bot .stack").all_text_contents()[before:]]
    assert len(said) == 4, said
    assert "21.0 MB" in said[0] and "超过了 20 MB" in said[0] and "剪成几段" in said[0]
    assert "收不了" in said[1] and "m4a、mp3、amr、wav、aac" in said[1]
    assert "PDF" in said[2] and "截个图" in said[2]
    assert "0 字节" in said[3]
    assert chat.user_rows() == users  # nothing went out, so nothing is shown as sent
    assert posts == []
    chat.screenshot("evidence-checked-on-the-page")


# Counts the page's own uploads in flight (the browser's request events may report an
# aborted upload after the next one has begun, so they cannot tell overlap apart).
COUNT_UPLOADS_IN_FLIGHT = """
(() => {
  let inFlight = 0;
  window.__mostUploadsAtOnce = 0;
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__isUpload = String(url).includes("/webhooks/evidence/upload");
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (this.__isUpload) {
      inFlight += 1;
      window.__mostUploadsAtOnce = Math.max(window.__mostUploadsAtOnce, inFlight);
      // DONE comes before load / error, whose handlers may start the next upload at once.
      this.addEventListener("readystatechange", () => {
        if (this.readyState === 4 && !this.__ended) { this.__ended = true; inFlight -= 1; }
      });
    }
    return send.apply(this, arguments);
  };
})();
"""


def test_several_files_go_one_after_another_and_a_failed_one_can_be_retried(chat, tmp_path):
    page = chat.page
    page.add_init_script(COUNT_UPLOADS_IN_FLIGHT)
    chat.open().wait_welcome()
    log = tmp_path / "通话记录.png"
    log.write_bytes(call_log_png())
    sms = tmp_path / "短信.png"
    sms.write_bytes(samples.png_bytes(samples.sample_sms()))
    posts = watch_uploads(page)
    dropped = []

    def drop_the_first(route):
        if route.request.method == "POST" and not dropped:
            dropped.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.route(UPLOAD, drop_the_first)
    page.locator("#file-input").set_input_files([str(log), str(sms)])

    # The chat stays usable meanwhile (a message that starts no form of its own).
    box = page.get_by_role("textbox", name="输入消息")
    assert box.is_enabled()
    box.fill("谢谢")
    box.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.row-user .bubble')].some(b => b.textContent.endsWith('谢谢'))"
    )

    failed = page.locator(".row-user", has_text="[截图] 通话记录.png")
    failed.locator(".status.failed").wait_for()
    assert "网络断了" in failed.locator(".status").text_content()
    chat.wait_idle()
    assert failed.locator("img.file-thumb").count() == 1  # the thumbnail stays
    sent = page.locator(".row-user", has_text="[截图] 短信.png")
    assert sent.locator(".status").count() == 0
    assert "我从截图里读到" in page.locator("#log").text_content()
    chat.screenshot("evidence-upload-failed")
    # The text messages' proposal is answered before the call log is sent again.
    before = chat.bot_rows()
    page.get_by_role("group", name="快捷回复").get_by_role("button", name="不用记").click()
    assert any("什么都没记" in t for t in chat.wait_reply(before))

    before = chat.bot_rows()
    failed.get_by_role("button", name="重新上传 通话记录.png").click()
    texts = chat.wait_reply(before)
    assert "18600007421" in proposal(texts)
    assert failed.locator(".status").count() == 0

    # One at a time: three uploads (the dropped one, the other file, the retry), never two at once.
    assert [kind for kind, _ in posts].count("start") == 3, posts
    assert page.evaluate("window.__mostUploadsAtOnce") == 1
    assert len(dropped) == 1


def test_evidence_payloads_render_as_a_download_card_and_a_chart(chat):
    """A bot turn served here: a chart and a pack by relative paths (resolved
    against the Rasa base), and links the page must refuse."""
    page = chat.page
    chart_png = samples.png_bytes(Image.new("RGB", (600, 300), (40, 120, 200)))
    expired = "这个链接已经过期了，请再说一次要证据包。"
    cors = {"Access-Control-Allow-Origin": "*"}

    def bot(route):
        message = (route.request.post_data_json or {}).get("message") if route.request.method == "POST" else None
        if message != "给我看看图":
            route.fallback()
            return
        turn = [
            {"recipient_id": "x", "text": "这是您的来电规律："},
            {"recipient_id": "x", "custom": {"type": "chart", "url": "/webhooks/evidence/chart/abc", "alt": "来电规律图"}},
            {"recipient_id": "x", "custom": {"type": "evidence_pack", "url": "/webhooks/evidence/pack/abc"}},
            {"recipient_id": "x", "custom": {"type": "chart", "url": "javascript:alert(1)", "alt": "坏图"}},
            {"recipient_id": "x", "custom": {"type": "chart", "url": "/webhooks/evidence/../rest/webhook", "alt": "坏图"}},
            {"recipient_id": "x", "custom": {"type": "evidence_pack", "url": "/webhooks/rest/webhook"}},
            {"recipient_id": "x", "custom": {"type": "evidence_pack", "url": "data:application/zip;base64,UEsFBg=="}},
        ]
        route.fulfill(
            status=200,
            headers={"Content-Type": "application/json", **cors},
            body=json.dumps(turn, ensure_ascii=False),
        )

    page.route(WEBHOOK, bot)
    page.route(
        f"{RASA}/webhooks/evidence/chart/abc",
        lambda route: route.fulfill(status=200, headers={"Content-Type": "image/png", **cors}, body=chart_png),
    )
    page.route(
        f"{RASA}/webhooks/evidence/pack/abc",
        lambda route: route.fulfill(
            status=403,
            headers={"Content-Type": "application/json", **cors},
            body=json.dumps({"error": expired}, ensure_ascii=False),
        ),
    )
    chat.open().wait_welcome()
    chat.say("给我看看图")

    charts = page.locator(".chart-card")
    assert charts.count() == 1
    img = charts.locator("img.chart-img")
    page.wait_for_function("() => document.querySelector('.chart-img').naturalWidth === 600")
    assert img.get_attribute("alt") == "来电规律图"
    assert img.get_attribute("src").startswith("blob:")
    assert charts.locator("figcaption").text_content() == "来电规律图"
    cards = page.locator(".pack-card")
    assert cards.count() == 1
    assert cards.get_by_role("link").get_attribute("href") == f"{RASA}/webhooks/evidence/pack/abc"
    hrefs = page.locator("#log a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if not re.match(r"^(https?:|tel:)", h)], hrefs
    chat.no_horizontal_scroll()
    chat.screenshot("evidence-chart-and-pack")

    # Tap the chart: the full picture; Escape closes it and gives the focus back.
    page.get_by_role("button", name="查看大图：来电规律图").click()
    viewer = page.get_by_role("dialog", name="查看大图：来电规律图")
    assert viewer.is_visible()
    assert viewer.get_by_role("img", name="来电规律图").is_visible()
    chat.screenshot("evidence-chart-viewer")
    page.keyboard.press("Escape")
    assert not viewer.is_visible()
    assert page.evaluate("document.activeElement.className") == "chart-open"

    # An expired link: the server's sentence on the card, the chat still there.
    cards.get_by_role("link", name="下载证据包 (.zip)").click()
    note = cards.locator(".pack-note")
    note.wait_for()
    assert note.text_content() == expired
    assert "这是您的来电规律" in page.locator("#log").text_content()


def test_the_real_bot_draws_the_log_as_a_chart(chat, tmp_path):
    """The chart payload from the bot itself, when the user asks to see the log."""
    page = chat.page
    chat.open().wait_welcome()
    shot = tmp_path / "通话记录.png"
    shot.write_bytes(call_log_png())
    before = chat.bot_rows()
    page.locator("#file-input").set_input_files(str(shot))
    proposal(chat.wait_reply(before))
    before = chat.bot_rows()
    page.get_by_role("group", name="快捷回复").get_by_role("button", name="记下").click()
    chat.wait_reply(before)

    chat.say("让我看看目前的来电记录")

    chart = page.locator(".chart-card .chart-img").last
    chart.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.chart-img')].some(i => i.naturalWidth > 0)")
    assert chart.get_attribute("alt")
    chat.screenshot("evidence-real-chart")
