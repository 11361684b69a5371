"""The WeChat channel without a Rasa server: signatures, safe-mode crypto, refusing
hostile XML, the de-duplication stores, and the webhook logic (passive replies,
retries, pushes through a fake customer-service API) with a stand-in bot."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import uuid

import pytest
from wechatpy.events import ClickEvent
from wechatpy.messages import TextMessage
from wechatpy.utils import check_signature

from channels.wechat import (
    ERROR_REPLY,
    MAX_BODY_BYTES,
    MENU_PAYLOADS,
    TEXT_ONLY_REPLY,
    VOICE_UNCLEAR_REPLY,
    Forbidden,
    TooLarge,
    WeChatHandler,
    WeChatInput,
    WeChatRequestError,
    WeChatSettings,
    decode_request,
    make_signature,
    parse_xml_safely,
    signature_ok,
)
from channels.wechat_dedupe import MemoryDedupeStore, RedisDedupeStore
from evidence.texts import text
from scripts.wechat_sim import WeChatSim, _xml
from tests.fake_wechat_api import FakeWeChatAPI

TOKEN = "unit-token"
APPID = "wx-test-appid"
SECRET = "test-secret"
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]  # 43 characters, as WeChat shows it
REDIS_URL = "redis://127.0.0.1:6379/0"


def sim(aes_key: str = "", openid: str | None = None) -> WeChatSim:
    return WeChatSim("http://127.0.0.1:9/unused", TOKEN, APPID, aes_key, openid)


def text_xml(s: WeChatSim, content: str, msg_id: int = 1001) -> str:
    return _xml(
        {
            "ToUserName": s.account,
            "FromUserName": s.openid,
            "CreateTime": 1700000000,
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    )


def xml_for(s: WeChatSim, **fields) -> str:
    return _xml({"ToUserName": s.account, "FromUserName": s.openid, "CreateTime": 1700000000, **fields})


# --- signatures and parsing ------------------------------------------------------------------------


def test_signature_matches_wechatpy():
    signature = make_signature(TOKEN, "1700000000", "12345")
    check_signature(TOKEN, signature, "1700000000", "12345")  # raises if different
    assert signature_ok(TOKEN, signature, "1700000000", "12345")
    assert signature_ok(TOKEN, signature.upper(), "1700000000", "12345")
    assert not signature_ok(TOKEN, signature, "1700000001", "12345")
    assert not signature_ok("other", signature, "1700000000", "12345")
    assert not signature_ok(TOKEN, None, "1700000000", "12345")
    assert not signature_ok("", make_signature("", "1", "2"), "1", "2")  # no token, no access


def test_plain_message_is_decoded():
    s = sim()
    query, body = s.envelope(text_xml(s, "你好"))
    message, encrypted = decode_request(TOKEN, None, query, body)
    assert isinstance(message, TextMessage) and not encrypted
    assert (message.content, message.source, message.id) == ("你好", s.openid, 1001)


def test_safe_mode_round_trip():
    s = sim(AES_KEY)
    crypto = WeChatSettings(token=TOKEN, appid=APPID, aes_key=AES_KEY).make_crypto()
    query, body = s.envelope(text_xml(s, "我儿子欠了借呗"))
    assert b"Encrypt" in body and "借呗".encode() not in body
    message, encrypted = decode_request(TOKEN, crypto, query, body)
    assert encrypted and message.content == "我儿子欠了借呗"
    # A tampered msg_signature or the wrong AppID is refused.
    with pytest.raises(Forbidden):
        decode_request(TOKEN, crypto, {**query, "msg_signature": "0" * 40}, body)
    other = WeChatSettings(token=TOKEN, appid="wx-other", aes_key=AES_KEY).make_crypto()
    with pytest.raises(Forbidden):
        decode_request(TOKEN, other, query, body)
    with pytest.raises(WeChatRequestError, match="WECHAT_AES_KEY"):
        decode_request(TOKEN, None, query, body)


def test_wrong_signature_is_forbidden():
    s = sim()
    query, body = s.envelope(text_xml(s, "你好"))
    with pytest.raises(Forbidden):
        decode_request(TOKEN, None, {**query, "signature": "0" * 40}, body)
    with pytest.raises(Forbidden):
        decode_request(TOKEN, None, {k: v for k, v in query.items() if k != "signature"}, body)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Content>&lol3;</Content></xml>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>"""


@pytest.mark.parametrize(
    "body", [BOMB, EXTERNAL, BOMB.replace(b"DOCTYPE", b"doctype")], ids=["bomb", "xxe", "lower"]
)
def test_dtds_and_entities_are_refused(body):
    with pytest.raises(WeChatRequestError, match="DTD"):
        parse_xml_safely(body)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><Content>unclosed</xml>",
        b"not xml at all",
        b"",
        b"   ",
        b"<html><body/></html>",
        b"\xff\xfe<xml/>",
    ],
)
def test_malformed_xml_is_refused(body):
    with pytest.raises(WeChatRequestError):
        parse_xml_safely(body)


def test_oversized_body_is_refused():
    with pytest.raises(TooLarge):
        parse_xml_safely(b"<xml><Content>" + b"a" * MAX_BODY_BYTES + b"</Content></xml>")


def test_well_formed_but_not_a_message_is_refused():
    s = sim()
    bad = [
        "<xml><Content>no type</Content></xml>",
        xml_for(s, MsgType="text", Content="x", MsgId="abc"),
        _xml({"FromUserName": "o", "CreateTime": "yesterday", "MsgType": "event", "Event": "CLICK"}),
        _xml({"CreateTime": 1, "MsgType": "text", "Content": "no sender", "MsgId": 1}),
    ]
    for xml in bad:
        query, body = s.envelope(xml)
        with pytest.raises(WeChatRequestError, match="not a WeChat message"):
            decode_request(TOKEN, None, query, body)


def test_click_event_parses():
    s = sim()
    query, body = s.envelope(xml_for(s, MsgType="event", Event="CLICK", EventKey="MENU_LIABILITY"))
    message, _ = decode_request(TOKEN, None, query, body)
    assert isinstance(message, ClickEvent) and message.key == "MENU_LIABILITY"


def test_settings_from_env_and_a_malformed_aes_key():
    env = {"WECHAT_TOKEN": "t", "WECHAT_APPID": "a", "WECHAT_APPSECRET": "s", "WECHAT_PASSIVE_TIMEOUT": "x"}
    settings = WeChatSettings.load({"api_base": "http://127.0.0.1:1/"}, env)
    assert settings.customer_api and settings.passive_timeout == 4.5
    assert settings.api_base == "http://127.0.0.1:1"
    assert not WeChatSettings.load(None, {**env, "WECHAT_CUSTOMER_API": "0"}).customer_api
    assert not WeChatSettings.load(None, {"WECHAT_TOKEN": "t"}).customer_api
    assert WeChatSettings.load(None, {"WECHAT_TEXT_LIMIT": "512"}).text_limit == 512
    assert WeChatSettings.load(None, {"WECHAT_TEXT_LIMIT": "99999"}).text_limit == 2048  # WeChat's cap
    with pytest.raises(ValueError, match="43"):
        WeChatInput(WeChatSettings(token="t", aes_key="too-short"))
    assert WeChatInput.name() == "wechat"


# --- de-duplication stores -------------------------------------------------------------------------


async def _store_semantics(store, key: str) -> None:
    assert await store.claim(key) is True
    assert await store.claim(key) is False  # a retry does not process again
    assert await store.result(key) is None  # still processing
    await store.finish(key, ["一", "二"])
    assert await store.result(key) == ["一", "二"]
    assert await store.claim_delivery(key, "passive") == ("passive", True)
    assert await store.claim_delivery(key, "passive") == ("passive", False)  # retries re-serve it
    assert await store.claim_delivery(key, "push") == ("passive", False)  # but never push as well
    other = key + "-b"
    assert await store.claim(other) is True
    assert await store.claim_delivery(other, "push") == ("push", True)
    assert await store.claim_delivery(other, "passive") == ("push", False)
    assert await store.get_token() is None
    await store.set_token("tok-1", 30)
    assert await store.get_token() == "tok-1"


async def test_memory_store_semantics_and_expiry():
    store = MemoryDedupeStore(ttl=0.2)
    await _store_semantics(store, "msg:1")
    await asyncio.sleep(0.3)
    assert await store.result("msg:1") is None
    assert await store.claim("msg:1") is True  # expired: a new message with an old id


async def test_memory_store_is_bounded():
    store = MemoryDedupeStore(ttl=60, max_entries=3)
    for i in range(10):
        await store.claim(f"k{i}")
    assert await store.claim("k9") is False and await store.claim("k0") is True
    assert len(store._entries) <= 4


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not _redis_answers(), reason="no Redis server answers PING at 127.0.0.1:6379"
)


@pytest.fixture
async def redis_prefix():
    prefix = f"anxin-test:{uuid.uuid4().hex[:8]}"
    yield prefix
    cleaner = RedisDedupeStore(REDIS_URL, prefix=prefix)
    async for name in cleaner._redis.scan_iter(match=f"{prefix}:*"):
        await cleaner._redis.delete(name)
    await cleaner.close()


@needs_redis
async def test_redis_store_semantics_and_expiry(redis_prefix):
    store = RedisDedupeStore(REDIS_URL, ttl=0.5, prefix=redis_prefix)
    try:
        await _store_semantics(store, "msg:1")
        await asyncio.sleep(0.7)
        assert await store.result("msg:1") is None
        assert await store.claim("msg:1") is True
    finally:
        await store.close()


# --- the webhook logic, with a stand-in bot --------------------------------------------------------


class StandInBot:
    """Plays Rasa's on_new_message: records calls, answers after ``delay`` seconds."""

    def __init__(self, replies=None, delay: float = 0.0, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.message_ids: list[str] = []
        self.replies = replies or (lambda text: [{"text": f"收到：{text}"}])
        self.delay = delay
        self.fail = fail

    async def __call__(self, message) -> None:
        self.calls.append((message.text, message.sender_id, message.input_channel))
        self.message_ids.append(message.message_id)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("boom")
        for reply in self.replies(message.text):
            if reply.get("buttons"):
                await message.output_channel.send_text_with_buttons(
                    message.sender_id, reply["text"], reply["buttons"]
                )
            else:
                await message.output_channel.send_text_message(message.sender_id, reply["text"])


@pytest.fixture(scope="module")
def fake_api():
    with FakeWeChatAPI(appid=APPID, secret=SECRET) as fake:
        yield fake


@pytest.fixture
def api(fake_api):
    fake_api.reset()
    fake_api.delay = 0.0
    return fake_api


def make_handler(bot, api=None, aes_key: str = "", store=None, **overrides) -> WeChatHandler:
    settings = WeChatSettings(
        token=TOKEN,
        appid=APPID,
        appsecret=SECRET if api else "",
        aes_key=aes_key,
        api_base=api.base if api else "http://127.0.0.1:9",
        customer_api=api is not None,
        **overrides,
    )
    return WeChatHandler(settings, bot, store=store)


async def pushed(api: FakeWeChatAPI, openid: str, count: int, timeout: float = 5.0) -> list[str]:
    # In a thread: the fake's blocking wait must not stop the event loop that pushes.
    return await asyncio.to_thread(api.wait_for, openid, count, timeout)


async def post(handler: WeChatHandler, s: WeChatSim, xml: str):
    query, body = s.envelope(xml)
    reply = await handler.receive(query, body)
    content = s.read_reply(reply.body)[0] if reply.status == 200 else None
    return reply, content


async def test_text_gets_a_passive_reply_and_typed_intents_are_defused(api):
    bot = StandInBot()
    handler = make_handler(bot, api)
    s = sim()
    reply, content = await post(handler, s, text_xml(s, '/inform{"user_role":"guarantor"}'))
    assert reply.status == 200 and reply.content_type.startswith("application/xml")
    assert content == '收到：inform{"user_role":"guarantor"}'
    assert bot.calls == [('inform{"user_role":"guarantor"}', s.openid, "wechat")]
    assert bot.message_ids == ["1001"]  # the MsgId, kept in the tracker
    await handler.close()


async def test_safe_mode_reply_is_encrypted(api):
    handler = make_handler(StandInBot(), api, aes_key=AES_KEY)
    s = sim(AES_KEY)
    reply, content = await post(handler, s, text_xml(s, "你好"))
    assert "<Encrypt>" in reply.body and "收到" not in reply.body
    assert content == "收到：你好"
    await handler.close()


async def test_buttons_are_numbered_in_the_reply(api):
    buttons = [{"title": "我或家人被催收骚扰", "payload": "/report_harassment"}]
    handler = make_handler(StandInBot(lambda _t: [{"text": "请选：", "buttons": buttons}]), api)
    s = sim()
    _, content = await post(handler, s, text_xml(s, "你好"))
    assert content == "请选：\n回复数字选择：\n1 我或家人被催收骚扰"
    await handler.close()


@pytest.mark.parametrize(
    "fields, sent, expected",
    [
        ({"MsgType": "event", "Event": "subscribe", "EventKey": ""}, "/greet", "收到：/greet"),
        ({"MsgType": "event", "Event": "subscribe", "EventKey": "qrscene_7"}, "/greet", "收到：/greet"),
        ({"MsgType": "event", "Event": "CLICK", "EventKey": "MENU_LIABILITY"}, '/faq{"faq_topic":"family_liability"}', None),
        ({"MsgType": "event", "Event": "CLICK", "EventKey": "NO_SUCH_KEY"}, "/greet", None),
        ({"MsgType": "voice", "MediaId": "m", "Recognition": "我是他妈妈。", "MsgId": 7}, "我是他妈妈。", None),
        ({"MsgType": "voice", "MediaId": "m", "Recognition": "", "MsgId": 8}, None, VOICE_UNCLEAR_REPLY),
        # An image is evidence now: one without a media id cannot be fetched, and says so.
        ({"MsgType": "image", "PicUrl": "http://127.0.0.1/a.jpg", "MsgId": 9}, None, text("wechat.download_failed")),
        ({"MsgType": "location", "Location_X": "1", "Location_Y": "2", "MsgId": 10}, None, TEXT_ONLY_REPLY),
        ({"MsgType": "event", "Event": "unsubscribe"}, None, None),
        ({"MsgType": "event", "Event": "VIEW", "EventKey": "https://example.org"}, None, None),
        ({"MsgType": "file", "Title": "x", "MsgId": 11}, None, None),
    ],
    ids=["subscribe", "subscribe-qr", "click", "click-unknown", "voice", "voice-unclear", "image", "location",
         "unsubscribe", "view", "unknown-type"],
)  # fmt: skip
async def test_message_types(api, fields, sent, expected):
    bot = StandInBot()
    handler = make_handler(bot, api)
    s = sim()
    reply, content = await post(handler, s, xml_for(s, **fields))
    assert reply.status == 200
    assert [c[0] for c in bot.calls] == ([sent] if sent else [])
    if sent is None and expected is None:
        assert reply.body == "success"
    else:
        assert content == (expected or f"收到：{sent}")
    await handler.close()


def test_menu_payloads_are_allowed_button_payloads():
    from channels.payloads import is_allowed_payload

    assert all(is_allowed_payload(p) for p in MENU_PAYLOADS.values())


async def test_a_failing_bot_gets_an_apology(api):
    handler = make_handler(StandInBot(fail=True), api)
    s = sim()
    _, content = await post(handler, s, text_xml(s, "你好"))
    assert content == ERROR_REPLY
    await handler.close()


async def test_concurrent_retries_are_processed_once(api):
    bot = StandInBot(delay=0.2)
    handler = make_handler(bot, api)
    s = sim()
    xml = text_xml(s, "你好", msg_id=42)
    results = await asyncio.gather(*(post(handler, s, xml) for _ in range(3)))
    assert len(bot.calls) == 1
    assert {content for _, content in results} == {"收到：你好"}
    # A retry after the answer was given gets it again (WeChat retries only when it lost it).
    _, again = await post(handler, s, xml)
    assert again == "收到：你好" and len(bot.calls) == 1
    await handler.drain()
    assert api.messages == []  # nothing pushed: the passive replies delivered it
    await handler.close()


async def test_slow_reply_is_pushed_once_through_the_customer_service_api(api):
    bot = StandInBot(delay=0.3)
    handler = make_handler(bot, api, passive_timeout=0.05)
    s = sim()
    xml = text_xml(s, "你好", msg_id=43)
    first, _ = await post(handler, s, xml)
    retry, _ = await post(handler, s, xml)  # while still processing
    assert first.body == retry.body == "success"
    assert await pushed(api, s.openid, 1) == ["收到：你好"]
    late, _ = await post(handler, s, xml)  # after the push: not sent again
    assert late.body == "success"
    await handler.drain()
    assert api.messages_to(s.openid) == ["收到：你好"] and len(bot.calls) == 1
    assert len(api.token_requests) == 1 and api.token_requests[0]["appid"] == APPID
    await handler.close()


async def test_retry_that_catches_the_answer_gets_it_passively_and_nothing_is_pushed(api):
    bot = StandInBot(delay=0.3)
    handler = make_handler(bot, api, passive_timeout=0.05)
    s = sim()
    xml = text_xml(s, "你好", msg_id=44)
    first, _ = await post(handler, s, xml)
    assert first.body == "success"
    handler.settings = WeChatSettings(**{**handler.settings.__dict__, "passive_timeout": 2.0})
    _, content = await post(handler, s, xml)  # waits for the same task
    await handler.drain()
    assert content == "收到：你好"
    assert api.messages_to(s.openid) == [] and len(bot.calls) == 1
    await handler.close()


async def test_when_wechat_hangs_up_the_reply_is_pushed(api):
    # Sanic cancels the handler when the client disconnects; the answer must still go out.
    handler = make_handler(StandInBot(delay=0.3), api, passive_timeout=4.0)
    s = sim()
    waiting = asyncio.create_task(post(handler, s, text_xml(s, "你好", msg_id=52)))
    await asyncio.sleep(0.1)
    waiting.cancel()
    assert await pushed(api, s.openid, 1) == ["收到：你好"]
    await handler.close()


async def test_long_reply_first_chunk_passive_rest_pushed_in_order(api):
    paragraphs = [f"第{i}段：" + "家人没有替还的义务。" * 60 for i in range(1, 5)]  # ~1800 bytes each
    handler = make_handler(StandInBot(lambda _t: [{"text": p} for p in paragraphs]), api)
    s = sim()
    reply, content = await post(handler, s, text_xml(s, "你好", msg_id=45))
    assert content.startswith("第1段") and len(content.encode()) <= 2048
    rest = await pushed(api, s.openid, 3)
    assert [p[:3] for p in rest] == ["第2段", "第3段", "第4段"]
    assert all(len(p.encode()) <= 2048 for p in rest)
    await handler.close()


async def test_stale_token_is_refreshed(api):
    handler = make_handler(StandInBot(delay=0.1), api, passive_timeout=0.01)
    s = sim()
    await post(handler, s, text_xml(s, "一", msg_id=46))
    assert await pushed(api, s.openid, 1)
    api.expire_token()  # e.g. another server fetched a new one
    await post(handler, s, text_xml(s, "二", msg_id=47))
    assert await pushed(api, s.openid, 2) == ["收到：一", "收到：二"]
    assert len(api.token_requests) == 2 and [r["errcode"] for r in api.refused] == [40001]
    await handler.close()


async def test_a_refused_push_is_logged_without_the_user(api, caplog):
    handler = make_handler(StandInBot(delay=0.05), api, passive_timeout=0.01)
    s = sim()
    api.fail_next(45015)  # over 48 hours since the user wrote
    with caplog.at_level(logging.INFO, logger="channels.wechat"):
        await post(handler, s, text_xml(s, "我的电话13812345678", msg_id=48))
        await handler.drain()
    assert api.messages_to(s.openid) == []
    assert "errcode=45015" in caplog.text
    assert s.openid not in caplog.text and "13812345678" not in caplog.text
    await handler.close()


async def test_without_the_api_a_slow_reply_is_held_for_a_retry():
    # Unverified accounts: no customer-service API, so wait past WeChat's cut-off instead.
    bot = StandInBot(delay=0.2)
    handler = make_handler(bot, None, passive_timeout=0.05, hold_timeout=1.0)
    assert handler.api is None and handler.wait_timeout == 1.0
    s = sim()
    _, content = await post(handler, s, text_xml(s, "你好", msg_id=49))
    assert content == "收到：你好"
    await handler.close()


async def test_without_the_api_a_long_reply_is_cut_with_a_warning(caplog):
    handler = make_handler(StandInBot(lambda _t: [{"text": "很长。" * 600}]), None)
    s = sim()
    with caplog.at_level(logging.WARNING, logger="channels.wechat"):
        _, content = await post(handler, s, text_xml(s, "你好", msg_id=51))
    assert len(content.encode()) <= 2048 and "wechat.reply.cut" in caplog.text
    await handler.close()


async def test_refusals(api):
    handler = make_handler(StandInBot(), api)
    s = sim()
    query, body = s.envelope(text_xml(s, "你好"))
    assert (await handler.receive({**query, "signature": "0" * 40}, body)).status == 403
    assert (await handler.receive(query, BOMB)).status == 400
    assert (await handler.receive(query, b"<xml><oops></xml>")).status == 400
    assert (await handler.receive(query, b"<xml>" + b" " * MAX_BODY_BYTES + b"</xml>")).status == 413
    assert handler.verify({**s.signed_query(), "echostr": "abc"}).body == "abc"
    assert handler.verify({**s.signed_query(), "signature": "0" * 40, "echostr": "abc"}).status == 403
    unconfigured = WeChatHandler(WeChatSettings(), StandInBot())
    assert (await unconfigured.receive(query, body)).status == 503
    assert unconfigured.verify(query).status == 503
    await handler.close()


@needs_redis
async def test_two_processes_share_one_redis(api, redis_prefix):
    # Two handlers stand for two server processes behind one load balancer.
    bot_a, bot_b = StandInBot(delay=0.3), StandInBot(delay=0.3)
    a = make_handler(bot_a, api, store=RedisDedupeStore(REDIS_URL, prefix=redis_prefix))
    b = make_handler(bot_b, api, store=RedisDedupeStore(REDIS_URL, prefix=redis_prefix))
    s = sim()
    xml = text_xml(s, "你好", msg_id=50)
    (_, first), (_, retry) = await asyncio.gather(post(a, s, xml), post(b, s, xml))
    assert first == retry == "收到：你好"
    assert len(bot_a.calls) + len(bot_b.calls) == 1
    await a.close()
    await b.close()
