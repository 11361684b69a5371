"""Screenshots sent to the WeChat Official Account, without a Rasa server: the image is
fetched from a fake WeChat media API, checked, stored and read once per MsgId, and the
bot hears of it as the web upload tells it; refused or lost images get a sentence that
says why, and whatever was stored before stays as it was."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from channels.wechat import WeChatHandler, WeChatSettings
from evidence import files, intake, samples
from evidence.texts import text
from scripts.wechat_sim import WeChatSim, _xml
from tests.fake_wechat_api import FakeWeChatAPI

TOKEN = "unit-token"
APPID = "wx-test-appid"
SECRET = "test-secret"
PROPOSED = [
    {"occurred_at": "2026-11-20T22:41:00", "time_text": "11月20日 22:41", "caller_number": "17123456789"}
]
SUMMARY = "我从截图里读到：\n1. 11月20日 22:41 17123456789 未接（3 次）\n记为 1 条来电记录？"


@pytest.fixture(autouse=True)
def stores(evidence_stores):
    return evidence_stores[1]


@pytest.fixture(scope="module")
def fake_api():
    with FakeWeChatAPI(appid=APPID, secret=SECRET) as fake:
        yield fake


@pytest.fixture
def api(fake_api):
    fake_api.reset()
    fake_api.delay = 0.0
    return fake_api


@pytest.fixture
def quick_ocr(monkeypatch):
    """OCR stood in for (the real one is tested once below): a fixed reading, after ``delay``."""

    class Reader:
        delay = 0.0

        async def __call__(self, data, received):
            await asyncio.sleep(self.delay)
            return list(PROPOSED), SUMMARY

    reader = Reader()
    monkeypatch.setattr(intake, "read_image", reader)
    return reader


class Bot:
    """Plays Rasa: the bot's reply to /evidence_received repeats what was read."""

    def __init__(self) -> None:
        self.messages = []

    async def __call__(self, message) -> None:
        self.messages.append(message)
        evidence = (message.metadata or {}).get("evidence") or {}
        reply = (
            f"收到了，截图已经原样保存。\n{evidence.get('summary', '')}"
            if evidence
            else f"收到：{message.text}"
        )
        await message.output_channel.send_text_message(message.sender_id, reply)


class Typed:
    """The guarded callback for what users write: an image must never come through it."""

    def __init__(self) -> None:
        self.messages = []

    async def __call__(self, message) -> None:
        self.messages.append(message)


def jpeg(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_handler(api, bot, typed=None, with_credentials=True, **overrides) -> WeChatHandler:
    settings = WeChatSettings(
        token=TOKEN,
        appid=APPID if with_credentials else "",
        appsecret=SECRET if with_credentials else "",
        api_base=api.base,
        customer_api=with_credentials,
        **overrides,
    )
    return WeChatHandler(settings, typed or Typed(), evidence_on_new_message=bot)


def sim() -> WeChatSim:
    return WeChatSim("http://127.0.0.1:9/unused", TOKEN, APPID)


def image_xml(s: WeChatSim, media_id: str, msg_id: int) -> str:
    return _xml(
        {
            "ToUserName": s.account,
            "FromUserName": s.openid,
            "CreateTime": 1700000000,
            "MsgType": "image",
            "PicUrl": "http://mmbiz.example/pic.jpg",
            "MediaId": media_id,
            "MsgId": msg_id,
        }
    )


async def post(handler: WeChatHandler, s: WeChatSim, xml: str):
    query, body = s.envelope(xml)
    reply = await handler.receive(query, body)
    assert reply.status == 200
    return reply, s.read_reply(reply.body)[0]


async def test_a_screenshot_is_fetched_stored_read_and_its_reading_answered(api, stores, caplog):
    caplog.set_level(logging.INFO)
    data = jpeg(samples.sample_call_log())
    api.add_media("media-calls", data)
    bot, typed = Bot(), Typed()
    handler = make_handler(api, bot, typed, passive_timeout=120)  # the real OCR, however slow
    s = sim()
    _, content = await post(handler, s, image_xml(s, "media-calls", 5001))
    # The user reads what was read off the screen: the times and the numbers.
    assert content.startswith("收到了") and "记为 5 条来电记录？" in content
    for shown in ("07:12", "22:41", "23:10", "13812345678", "17123456789"):
        assert shown in content
    [record] = stores.list(s.openid)
    assert record.channel == "wechat" and stores.read(record) == data
    [message] = bot.messages
    assert message.text == "/evidence_received" and message.sender_id == s.openid
    assert message.input_channel == "wechat" and message.message_id == "5001"
    assert message.metadata["evidence"]["file_id"] == record.id
    assert len(message.metadata["evidence"]["proposed"]) == 5
    assert typed.messages == []  # not through the guard, which would defuse "/evidence_received"
    # Logs: neither the OpenID, nor what was read, nor the media id.
    assert "evidence.stored" in caplog.text
    for secret in (s.openid, "22:41", "17123456789", "media-calls"):
        assert secret not in caplog.text
    await handler.close()


async def test_a_retried_image_is_fetched_and_stored_once(api, stores, quick_ocr):
    quick_ocr.delay = 0.3
    api.add_media("media-once", jpeg(samples.sample_sms()))
    bot = Bot()
    handler = make_handler(api, bot)
    s = sim()
    xml = image_xml(s, "media-once", 5002)
    results = await asyncio.gather(*(post(handler, s, xml) for _ in range(3)))
    _, again = await post(handler, s, xml)  # a retry after the answer was given
    assert {content for _, content in results} == {again} and "记为 1 条来电记录？" in again
    assert len(stores.list(s.openid)) == 1
    assert api.downloads_of("media-once") == 1 and len(bot.messages) == 1
    await handler.drain()
    assert api.messages == []  # answered passively, not pushed as well
    await handler.close()


async def test_a_slow_reading_reaches_the_user_by_customer_service_message(api, stores, quick_ocr):
    quick_ocr.delay = 0.5
    api.add_media("media-slow", jpeg(samples.sample_call_log()))
    handler = make_handler(api, Bot(), passive_timeout=0.05)
    s = sim()
    reply, content = await post(handler, s, image_xml(s, "media-slow", 5003))
    assert reply.body == "success" and content is None
    pushed = await asyncio.to_thread(api.wait_for, s.openid, 1, 10)
    assert pushed and "记为 1 条来电记录？" in pushed[0] and "22:41" in pushed[0]
    assert len(stores.list(s.openid)) == 1
    await handler.close()


@pytest.mark.parametrize(
    "media,words",
    [
        ((b"%PDF-1.4\n" + b"0" * 4000, "application/pdf"), "PDF"),
        ((b"%PDF-1.4\n" + b"0" * 4000, "image/jpeg"), "PDF"),  # a PDF WeChat calls a picture
        (None, "没能从微信取下来"),  # an unknown or expired media id: WeChat's 40007
        ((jpeg(samples.sample_sms())[:20000], "image/jpeg"), "不完整"),  # cut off on the way
    ],
    ids=["pdf", "pdf-as-jpeg", "unknown-media", "truncated"],
)
async def test_what_cannot_be_taken_gets_a_clear_sentence_and_nothing_stored_is_lost(
    api, stores, quick_ocr, media, words
):
    s = sim()
    kept = stores.add(
        s.openid, jpeg(samples.sample_sms()), files.check(jpeg(samples.sample_sms())), channel="wechat"
    )
    if media is not None:
        api.add_media("media-x", *media)
    bot = Bot()
    handler = make_handler(api, bot)
    _, content = await post(handler, s, image_xml(s, "media-x", 5004))
    assert words in content and "之前保存的证据都还在" in content
    assert [f.id for f in stores.list(s.openid)] == [kept.id] and bot.messages == []
    await handler.close()


async def test_an_image_over_the_limit_is_refused_without_being_stored(api, stores, quick_ocr, monkeypatch):
    monkeypatch.setattr(files, "MAX_BYTES", 2 * 1024 * 1024)
    big = samples.png_bytes(samples.sample_call_log().resize((2160, 4800)))
    big += b"\0" * max(0, 2 * 1024 * 1024 + 1 - len(big))
    api.add_media("media-big", big, "image/png")
    bot = Bot()
    handler = make_handler(api, bot)
    s = sim()
    _, content = await post(handler, s, image_xml(s, "media-big", 5005))
    assert content == files.refuse("too_big").message and "2 MB" in content
    assert stores.list(s.openid) == [] and bot.messages == []
    await handler.close()


async def test_a_stale_access_token_is_renewed_for_the_download(api, stores, quick_ocr):
    api.add_media("media-a", jpeg(samples.sample_call_log()))
    api.add_media("media-b", jpeg(samples.sample_sms()))
    handler = make_handler(api, Bot())
    s = sim()
    await post(handler, s, image_xml(s, "media-a", 5006))
    api.expire_token()  # another process fetched a new one
    _, content = await post(handler, s, image_xml(s, "media-b", 5007))
    assert "记为" in content and len(stores.list(s.openid)) == 2
    assert len(api.token_requests) == 2
    await handler.close()


async def test_without_the_accounts_credentials_an_image_gets_a_note(api, stores, quick_ocr):
    api.add_media("media-c", jpeg(samples.sample_call_log()))
    bot = Bot()
    handler = make_handler(api, bot, with_credentials=False)
    s = sim()
    _, content = await post(handler, s, image_xml(s, "media-c", 5008))
    assert content == text("wechat.no_media") and "网页版" in content
    assert stores.list(s.openid) == [] and api.media_requests == [] and bot.messages == []
    await handler.close()


async def test_images_sent_too_fast_are_not_fetched(api, stores, quick_ocr):
    class Closed:
        async def allow(self, key: str) -> bool:
            return False

    api.add_media("media-d", jpeg(samples.sample_call_log()))
    bot = Bot()
    settings = WeChatSettings(
        token=TOKEN, appid=APPID, appsecret=SECRET, api_base=api.base, customer_api=True
    )
    handler = WeChatHandler(settings, Typed(), evidence_on_new_message=bot, limiter=Closed())
    s = sim()
    _, content = await post(handler, s, image_xml(s, "media-d", 5009))
    assert content == text("wechat.busy") and "之前保存的证据都还在" in content
    assert stores.list(s.openid) == [] and api.media_requests == [] and bot.messages == []
    await handler.close()
