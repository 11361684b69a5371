"""WeChat Official Account (公众号) channel: /webhooks/wechat/webhook.

WeChat's servers call the webhook with signed XML (encrypted in safe mode)
and wait at most 5 s for the answer; without one they send the same message
again, up to three times. So each message is handled once (de-duplicated by
MsgId), answered passively when Rasa is done within WECHAT_PASSIVE_TIMEOUT,
and otherwise acknowledged with "success" and delivered later through the
customer-service API. See docs/operators.md, "WeChat Official Account".

An image message is evidence (issue #15): within the same once-per-MsgId turn
it is downloaded through WeChat's media API, checked, stored and read by OCR
(evidence/intake.py, as the web upload does), and the bot gets
``/evidence_received`` with what was read; a refused or lost image gets a
sentence that says why (evidence/messages.yml) and leaves every stored file as
it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError

import aiohttp
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent, ClickEvent, SubscribeEvent, SubscribeScanEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage, ImageMessage, TextMessage, VoiceMessage
from wechatpy.replies import TextReply

from channels.guard import AtOnce, allowed, channel_guard, default_limiter, read_capped_body
from channels.payloads import sanitize
from channels.ratelimit import RateLimiter, sender_key
from channels.wechat_dedupe import DEFAULT_TTL, DedupeStore, make_store
from channels.wechat_format import MAX_BYTES, cdata_safe, format_reply
from evidence import files, intake
from evidence import store as evidence_store
from evidence.texts import text as evidence_text

logger = logging.getLogger(__name__)

CHANNEL = "wechat"  # the input channel's name: in trackers, stored files and rate-limit keys
DEFAULT_API_BASE = "https://api.weixin.qq.com"
MAX_BODY_BYTES = 64 * 1024
SUCCESS = "success"  # WeChat's "received, no passive reply" answer

# Menu buttons (EventKey of CLICK events) → the intent payloads our buttons use.
MENU_PAYLOADS = {
    "MENU_HARASSED": "/report_harassment",
    "MENU_LIABILITY": '/faq{"faq_topic":"family_liability"}',
    "MENU_COMPLAIN": "/ask_where_complain",
    "MENU_WHAT_TO_SAY": '/faq{"faq_topic":"what_to_say"}',
}
SUBSCRIBE_PAYLOAD = "/greet"

TEXT_ONLY_REPLY = (
    "抱歉，视频、位置和链接这类消息我还看不懂。请直接打字或发语音告诉我您遇到的情况，"
    "比如“催收天天给我家里人打电话”。催收的短信和通话记录可以截图发给我，我会原样保存。"
)
VOICE_UNCLEAR_REPLY = "抱歉，这段语音我没能听清。麻烦您打字告诉我遇到的情况，好吗？"
ERROR_REPLY = "抱歉，我这边出了点问题，请稍后再发一次。如果有人威胁您的人身安全，请立即拨打 110。"
NON_TEXT_TYPES = {"video", "shortvideo", "location", "link", "miniprogrampage"}

# The customer-service API answers these when the access token is stale.
TOKEN_ERRCODES = {40001, 40014, 42001}
# After a passive first chunk, the rest waits a moment so it arrives after it.
REST_PUSH_DELAY = 0.5
# WeChat's media ids are 64 characters; anything much longer is not one.
MAX_MEDIA_ID = 256

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def user_hash(openid: str) -> str:
    """A short, stable stand-in for an OpenID in logs."""
    return hashlib.sha256(openid.encode("utf-8")).hexdigest()[:10]


# --- settings --------------------------------------------------------------------------------------


def _float(value: str, default: float, name: str) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        logger.warning("wechat.settings.invalid name=%s; using %s", name, default)
        return default


@dataclass(frozen=True)
class WeChatSettings:
    """The channel's settings: environment variables first, then credentials.yml."""

    token: str = ""
    appid: str = ""
    appsecret: str = ""
    aes_key: str = ""
    api_base: str = DEFAULT_API_BASE
    passive_timeout: float = 4.5
    hold_timeout: float = 5.5
    customer_api: bool = False
    redis_url: str = ""
    dedupe_ttl: float = DEFAULT_TTL
    text_limit: int = MAX_BYTES

    @classmethod
    def load(
        cls, credentials: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> WeChatSettings:
        env = os.environ if env is None else env
        credentials = credentials or {}

        def get(name: str, key: str, default: str = "") -> str:
            value = env.get(name) or credentials.get(key) or default
            return str(value).strip()

        appid, appsecret = get("WECHAT_APPID", "appid"), get("WECHAT_APPSECRET", "appsecret")
        # Unverified personal accounts have no customer-service API: WECHAT_CUSTOMER_API=0.
        api_flag = get("WECHAT_CUSTOMER_API", "customer_api").lower()
        customer_api = bool(appid and appsecret) and api_flag not in ("0", "false", "no", "off")
        return cls(
            token=get("WECHAT_TOKEN", "token"),
            appid=appid,
            appsecret=appsecret,
            aes_key=get("WECHAT_AES_KEY", "aes_key"),
            api_base=get("WECHAT_API_BASE", "api_base", DEFAULT_API_BASE).rstrip("/"),
            passive_timeout=_float(get("WECHAT_PASSIVE_TIMEOUT", "passive_timeout"), 4.5, "passive_timeout"),
            hold_timeout=_float(get("WECHAT_HOLD_TIMEOUT", "hold_timeout"), 5.5, "hold_timeout"),
            customer_api=customer_api,
            redis_url=get("WECHAT_REDIS_URL", "redis_url"),
            dedupe_ttl=_float(get("WECHAT_DEDUPE_TTL", "dedupe_ttl"), DEFAULT_TTL, "dedupe_ttl"),
            # WeChat refuses longer texts; a lower cap only makes more, shorter messages.
            text_limit=int(
                min(
                    max(_float(get("WECHAT_TEXT_LIMIT", "text_limit"), MAX_BYTES, "text_limit"), 16),
                    MAX_BYTES,
                )
            ),
        )

    def make_crypto(self) -> WeChatCrypto | None:
        """The safe-mode cipher, or None in plain mode; a malformed key fails at start-up."""
        if not self.aes_key:
            return None
        try:
            if len(self.aes_key) != 43:
                raise ValueError
            return WeChatCrypto(self.token, self.aes_key, self.appid)
        except (ValueError, AssertionError) as error:
            raise ValueError(
                "WECHAT_AES_KEY (EncodingAESKey) must be the 43 characters shown by WeChat"
            ) from error


# --- request decoding ------------------------------------------------------------------------------


class WeChatRequestError(Exception):
    """A request the webhook refuses, with its HTTP status."""

    status = 400


class Forbidden(WeChatRequestError):
    status = 403


class TooLarge(WeChatRequestError):
    status = 413


def make_signature(token: str, *parts: str) -> str:
    """WeChat's signature: sha1 of the sorted parts joined (as wechatpy.utils.check_signature)."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def signature_ok(token: str, signature: str | None, timestamp: str | None, nonce: str | None) -> bool:
    if not (token and signature and timestamp is not None and nonce is not None):
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a query may hold anything.
    expected = make_signature(token, timestamp, nonce).encode("ascii")
    return hmac.compare_digest(expected, signature.lower().encode("utf-8", errors="replace"))


def parse_xml_safely(body: bytes | str) -> dict[str, str]:
    """The <xml> root's child elements as a dict, refusing anything risky.

    Bodies are size-limited, and DTDs/entities (billion laughs, external
    entities) are refused before any parser sees them, then again by
    defusedxml; wechatpy's own parsing runs only on XML that passed here.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"body over {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise WeChatRequestError("empty body")
    lowered = raw.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise WeChatRequestError("DTDs and entities are not accepted")
    try:
        root = defused_fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise WeChatRequestError("malformed XML") from error
    if root.tag != "xml":
        raise WeChatRequestError("root element is not <xml>")
    return {child.tag: (child.text or "") for child in root}


def decode_request(
    token: str, crypto: WeChatCrypto | None, query: Mapping[str, str], body: bytes
) -> tuple[BaseMessage, bool]:
    """The message in a webhook POST, and whether it came encrypted (safe or compatible mode)."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"body over {MAX_BODY_BYTES} bytes")
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    encrypted = query.get("encrypt_type", "").lower() == "aes"
    # Plain mode's only proof of origin; WeChat also sends it in safe mode, where it is
    # checked before the (costlier) XML parsing and decryption when present.
    if (not encrypted or query.get("signature")) and not signature_ok(
        token, query.get("signature"), timestamp, nonce
    ):
        raise Forbidden("bad signature")
    fields = parse_xml_safely(body)
    if encrypted:
        if crypto is None:
            raise WeChatRequestError("encrypted message but WECHAT_AES_KEY is not set")
        if not fields.get("Encrypt"):
            raise WeChatRequestError("no <Encrypt> element")
        try:
            xml = crypto.decrypt_message(
                {"Encrypt": fields["Encrypt"]}, query.get("msg_signature", ""), timestamp, nonce
            )
        except (InvalidSignatureException, InvalidAppIdException) as error:
            raise Forbidden("bad msg_signature or AppID") from error
        except Exception as error:
            raise WeChatRequestError("cannot decrypt") from error
        parse_xml_safely(xml)
    else:
        try:
            xml = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WeChatRequestError("body is not UTF-8") from error
    try:
        message = parse_message(xml)
        if not isinstance(message.source, str) or not message.source:
            raise ValueError("no FromUserName")
        int(message.id)  # MsgId (or CreateTime, for events) is the de-duplication key
        message.time  # noqa: B018 (raises if CreateTime is not a number)
    except Exception as error:
        raise WeChatRequestError("not a WeChat message") from error
    return message, encrypted


def render_text_reply(
    message: BaseMessage, content: str, crypto: WeChatCrypto | None, nonce: str, timestamp: str
) -> str:
    """The passive XML reply, encrypted when the request was."""
    xml = TextReply(content=cdata_safe(content), message=message).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, timestamp or None)
    return xml


# --- customer-service API --------------------------------------------------------------------------


class CustomerServiceError(Exception):
    """The WeChat API refused a call; ``errcode`` says why."""

    def __init__(self, errcode: Any, errmsg: Any) -> None:
        super().__init__(f"errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode


class MediaError(Exception):
    """An image could not be fetched from WeChat; ``reason`` (an errcode or an error's
    type, never its text: that may quote the URL with the token) says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaTooBig(MediaError):
    def __init__(self) -> None:
        super().__init__("too_big")


def _media_errcode(body: bytes, mime: str) -> int | None:
    """WeChat's errcode when the media API answered JSON instead of a file, else None."""
    looks_like_json = "json" in mime.lower() or mime.lower().startswith("text/") or body[:1] == b"{"
    if not looks_like_json or len(body) > 64 * 1024:
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None  # not JSON after all: the file check decides what it is
    if not isinstance(data, dict):
        return None
    try:
        return int(data.get("errcode") or -1)  # JSON without an error is still not a file
    except (TypeError, ValueError):
        return -1


class CustomerServiceAPI:
    """Text messages through /cgi-bin/message/custom/send, and users' images through
    /cgi-bin/media/get, with aiohttp.

    wechatpy's client is synchronous and would block the event loop Rasa
    runs on. The access token is cached in the dedupe store until shortly
    before it expires and refreshed when WeChat calls it stale.
    """

    def __init__(self, base: str, appid: str, secret: str, store: DedupeStore, timeout: float = 10) -> None:
        self.base = base.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.store = store
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def access_token(self, stale: str | None = None) -> str:
        """A valid token; ``stale`` is one WeChat just refused, so a newer one is fetched."""
        async with self._lock:
            try:
                cached = await self.store.get_token()
            except Exception:
                cached = None
            if cached and cached != stale:
                return cached
            params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
            async with self._client().get(f"{self.base}/cgi-bin/token", params=params) as reply:
                data = await reply.json(content_type=None)
            token = data.get("access_token") if isinstance(data, dict) else None
            if not token:
                data = data if isinstance(data, dict) else {}
                raise CustomerServiceError(data.get("errcode"), data.get("errmsg"))
            expires_in = float(data.get("expires_in") or 7200)
            # Renew a little early: a token that expires in flight costs a failed send.
            try:
                await self.store.set_token(token, max(1.0, expires_in - min(300.0, expires_in / 5)))
            except Exception:
                logger.warning("wechat.token.not_cached")
            return token

    async def _send(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")  # WeChat shows \\uXXXX literally
        async with self._client().post(
            f"{self.base}/cgi-bin/message/custom/send",
            params={"access_token": token},
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        ) as reply:
            data = await reply.json(content_type=None)
        return data if isinstance(data, dict) else {"errcode": -1, "errmsg": "not JSON"}

    async def send_text(self, openid: str, content: str) -> bool:
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token = await self.access_token()
        for attempt in range(2):
            data = await self._send(token, payload)
            errcode = int(data.get("errcode") or 0)
            if errcode == 0:
                return True
            if errcode in TOKEN_ERRCODES and attempt == 0:
                token = await self.access_token(stale=token)
                continue
            # 45015: over 48 h since the user wrote; 45047: over the message quota; 48001: no API rights.
            logger.warning(
                "wechat.customer_api.refused errcode=%s errmsg=%s user=%s",
                errcode,
                data.get("errmsg"),
                user_hash(openid),
            )
            return False
        return False

    async def send_texts(self, openid: str, chunks: list[str]) -> int:
        """Send ``chunks`` one call each, in order, stopping at a failure; returns how many went."""
        sent = 0
        for chunk in chunks:
            try:
                ok = await self.send_text(openid, chunk)
            except (aiohttp.ClientError, TimeoutError, CustomerServiceError, ValueError) as error:
                # Not str(error) of a network error: it may quote the URL with the token.
                reason = error if isinstance(error, CustomerServiceError) else type(error).__name__
                logger.warning("wechat.customer_api.failed %s user=%s", reason, user_hash(openid))
                ok = False
            if not ok:
                break
            sent += 1
        return sent

    async def download_media(self, media_id: str, limit: int) -> tuple[bytes, str]:
        """The bytes and Content-Type of a user's image (a temporary medium: WeChat keeps
        it 3 days). ``MediaTooBig`` past ``limit`` bytes (the rest is not read),
        ``MediaError`` when WeChat refuses or cannot be reached."""
        if not isinstance(media_id, str) or not media_id.strip() or len(media_id) > MAX_MEDIA_ID:
            raise MediaError("no_media_id")
        try:
            token = await self.access_token()
            for attempt in range(2):
                params = {"access_token": token, "media_id": media_id.strip()}
                async with self._client().get(f"{self.base}/cgi-bin/media/get", params=params) as reply:
                    mime = reply.headers.get("Content-Type", "")
                    if reply.content_length is not None and reply.content_length > limit:
                        raise MediaTooBig()
                    body = bytearray()
                    async for chunk in reply.content.iter_chunked(64 * 1024):
                        body += chunk
                        if len(body) > limit:
                            raise MediaTooBig()
                    status = reply.status
                errcode = _media_errcode(bytes(body), mime)
                if errcode in TOKEN_ERRCODES and attempt == 0:
                    token = await self.access_token(stale=token)
                    continue
                if errcode is not None:
                    raise MediaError(f"errcode={errcode}")  # 40007: unknown or expired media id
                if status != 200:
                    raise MediaError(f"http={status}")
                return bytes(body), mime
        except MediaError:
            raise
        except CustomerServiceError as error:
            raise MediaError(f"token errcode={error.errcode}") from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise MediaError(type(error).__name__) from None
        raise MediaError("token")

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


# --- the webhook's logic ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An HTTP answer for WeChat (kept independent of Sanic so it can be tested without a server)."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


SUCCESS_REPLY = Reply(200, SUCCESS)


class WeChatHandler:
    """Verification, decoding, de-duplication and delivery for one account."""

    def __init__(
        self,
        settings: WeChatSettings,
        on_new_message: OnNewMessage,
        store: DedupeStore | None = None,
        api: CustomerServiceAPI | None = None,
        *,
        evidence_on_new_message: OnNewMessage | None = None,
        limiter: RateLimiter | None = None,
        evidence_files: evidence_store.EvidenceStore | None = None,
    ) -> None:
        """``on_new_message`` takes what users write (guarded: channels/guard.py);
        ``evidence_on_new_message`` takes ``/evidence_received`` for a stored image, which
        the guard would defuse as typed text (so images are rate-limited here, by
        ``limiter``, against the same per-sender budget)."""
        self.settings = settings
        self.on_new_message = on_new_message
        self.evidence_on_new_message = evidence_on_new_message or on_new_message
        self.limiter = limiter
        self._evidence_files = evidence_files
        self.crypto = settings.make_crypto() if settings.token else None
        self.store = store or make_store(
            settings.redis_url, settings.dedupe_ttl, prefix=f"anxin:wechat:{settings.appid or 'default'}"
        )
        if api is None and settings.customer_api:
            api = CustomerServiceAPI(settings.api_base, settings.appid, settings.appsecret, self.store)
        self.api = api
        # Images come through the media API, which needs the access token only: an account
        # without the customer-service API (WECHAT_CUSTOMER_API=0) may still have it.
        if api is None and settings.appid and settings.appsecret:
            self.media: CustomerServiceAPI | None = CustomerServiceAPI(
                settings.api_base, settings.appid, settings.appsecret, self.store
            )
        else:
            self.media = api
        self._tasks: dict[str, asyncio.Task] = {}
        self._background: set[asyncio.Task] = set()
        self._taking = AtOnce()  # images being taken in, per user

    @property
    def wait_timeout(self) -> float:
        # Without the customer-service API a late reply can only go out passively, to one
        # of WeChat's retries: so hold the request past WeChat's 5 s, which makes it retry.
        if self.api is not None:
            return self.settings.passive_timeout
        return max(self.settings.passive_timeout, self.settings.hold_timeout)

    def verify(self, query: Mapping[str, str]) -> Reply:
        """GET: WeChat's server-address check; echo ``echostr`` when the signature holds."""
        if not self.settings.token:
            return Reply(503, "WeChat channel not configured (WECHAT_TOKEN)")
        if not signature_ok(
            self.settings.token, query.get("signature"), query.get("timestamp"), query.get("nonce")
        ):
            return Reply(403, "bad signature")
        return Reply(200, query.get("echostr", ""))

    async def receive(self, query: Mapping[str, str], body: bytes) -> Reply:
        """POST: a message or event; the passive reply, or "success"."""
        if not self.settings.token:
            return Reply(503, "WeChat channel not configured (WECHAT_TOKEN)")
        try:
            message, encrypted = decode_request(self.settings.token, self.crypto, query, body)
        except WeChatRequestError as error:
            logger.info("wechat.rejected status=%s reason=%s", error.status, error)
            return Reply(error.status, str(error))
        content = await self.answer(message)
        if not content:
            return SUCCESS_REPLY
        xml = render_text_reply(
            message,
            content,
            self.crypto if encrypted else None,
            query.get("nonce", ""),
            query.get("timestamp", ""),
        )
        return Reply(200, xml, "application/xml; charset=utf-8")

    @staticmethod
    def dedupe_key(message: BaseMessage) -> str:
        if message.id:
            return f"msg:{message.id}"
        # Events have no MsgId; a retry repeats sender, time, event and key. Hashed: the key
        # may sit in Redis, which needs no OpenIDs.
        event = getattr(message, "event", "")
        raw = f"{message.source}|{message.time}|{event}|{getattr(message, 'key', '') or ''}"
        return "evt:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    async def answer(self, message: BaseMessage) -> str | None:
        """The passive reply text for ``message``, or None for "success"."""
        openid = message.source
        if isinstance(message, TextMessage):
            text = sanitize(message.content)
            if not text:
                return None
        elif isinstance(message, VoiceMessage):
            # WeChat transcribes voice itself when the account enables 语音识别.
            text = sanitize(message.recognition)
            if not text:
                return VOICE_UNCLEAR_REPLY
        elif isinstance(message, SubscribeEvent | SubscribeScanEvent):
            text = SUBSCRIBE_PAYLOAD  # the welcome and menu come from the domain
        elif isinstance(message, ClickEvent):
            text = MENU_PAYLOADS.get((message.key or "").strip(), SUBSCRIBE_PAYLOAD)
        elif isinstance(message, BaseEvent):
            return None  # unsubscribe, VIEW, LOCATION reports, scans: nothing to say
        elif isinstance(message, ImageMessage):
            # Evidence: taken in once per MsgId, like any message (a retry waits for it).
            logger.info("wechat.received type=image user=%s", user_hash(openid))
            return await self.converse(self.dedupe_key(message), openid, "", media_id=message.media_id or "")
        elif message.type in NON_TEXT_TYPES:
            return TEXT_ONLY_REPLY
        else:
            return None
        logger.info("wechat.received type=%s user=%s", message.type, user_hash(openid))
        return await self.converse(self.dedupe_key(message), openid, text)

    async def converse(self, key: str, openid: str, text: str, media_id: str | None = None) -> str | None:
        """Hand ``text`` (or the image ``media_id``) to Rasa once per ``key``; the first
        chunk of the reply if it is ready in time (the rest is pushed), else None (the push
        delivers it all)."""
        try:
            first = await self.store.claim(key)
        except Exception:
            logger.exception("wechat.dedupe.unavailable")
            first = True  # better a rare double answer than none
        task = self._tasks.get(key)
        if first and task is None:
            task = self._start(key, openid, text, media_id)
        try:
            chunks = await self._wait(
                key, task, self.wait_timeout, lambda: self._start(key, openid, text, media_id)
            )
        except asyncio.CancelledError:
            # WeChat hung up before we answered: the push path still delivers.
            self._push_later(key, openid, task or self._tasks.get(key))
            raise
        task = task or self._tasks.get(key)  # taken over while waiting (see _wait)
        if chunks is None:
            self._push_later(key, openid, task)
            return None
        if not chunks:
            return None
        how, decided = await self._claim_delivery(key, "passive")
        if how != "passive":
            return None  # already sent through the customer-service API
        # A retry gets the same passive reply again (WeChat retries only when it did not get
        # the first), but the rest of a long reply is pushed only once.
        if decided and len(chunks) > 1:
            if self.api is not None:
                self._spawn(self._push(openid, chunks[1:], delay=REST_PUSH_DELAY))
            else:
                logger.warning("wechat.reply.cut user=%s chunks_lost=%d", user_hash(openid), len(chunks) - 1)
        return chunks[0]

    def _start(self, key: str, openid: str, text: str, media_id: str | None = None) -> asyncio.Task:
        task = asyncio.create_task(self._process(key, openid, text, media_id))
        self._tasks[key] = task
        task.add_done_callback(lambda _done, k=key: self._tasks.pop(k, None))
        return task

    async def _process(self, key: str, openid: str, text: str, media_id: str | None = None) -> list[str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        collector = CollectingOutputChannel()
        try:
            # The MsgId goes into the tracker, to find a WeChat message in a conversation.
            message_id = key.removeprefix("msg:") if key.startswith("msg:") else None
            if media_id is None:
                await self.on_new_message(
                    UserMessage(text, collector, openid, input_channel=CHANNEL, message_id=message_id)
                )
            else:
                await self._take_image(openid, media_id, collector, message_id)
            chunks = format_reply(collector.messages, self.settings.text_limit)
        except Exception as error:
            # The type only: an exception's message could quote what the user wrote.
            logger.error("wechat.processing.failed error=%s user=%s", type(error).__name__, user_hash(openid))
            chunks = [ERROR_REPLY]
        try:
            await self.store.finish(key, chunks)
        except Exception:
            logger.exception("wechat.dedupe.unavailable")
        logger.info(
            "wechat.processed user=%s seconds=%.2f chunks=%d",
            user_hash(openid),
            loop.time() - started,
            len(chunks),
        )
        return chunks

    async def _take_image(
        self, openid: str, media_id: str, collector: CollectingOutputChannel, message_id: str | None
    ) -> None:
        """Download, check, store and read one image, then tell the bot (or the user why not)."""
        who = user_hash(openid)

        async def say(sentence: str) -> None:
            await collector.send_text_message(openid, sentence)

        if self.limiter is not None and not await allowed(sender_key(CHANNEL, openid), self.limiter):
            logger.info("wechat.image.rate_limited user=%s", who)
            return await say(evidence_text("wechat.busy"))
        if self.media is None:
            logger.info("wechat.image.no_media_api user=%s", who)
            return await say(evidence_text("wechat.no_media"))
        with self._taking.slot(openid, files.MAX_FILES_AT_ONCE) as free:
            if not free:
                logger.info("evidence.refused reason=too_many channel=wechat sender=%s", who)
                return await say(files.refuse("too_many").message)
            try:
                data, mime = await self.media.download_media(media_id, files.MAX_BYTES)
            except MediaTooBig:
                logger.info("evidence.refused reason=too_big channel=wechat sender=%s", who)
                return await say(files.refuse("too_big").message)
            except MediaError as error:
                logger.warning("wechat.media.failed reason=%s user=%s", error.reason, who)
                return await say(evidence_text("wechat.download_failed"))
            try:
                taken = await intake.take_in(
                    data, openid, channel=CHANNEL, who=who, mime=mime, store=self._evidence_files
                )
            except files.Refused as refused:
                return await say(refused.message)
            except intake.NotStored:
                return await say(evidence_text("web.failed"))
        await self.evidence_on_new_message(
            intake.evidence_message(openid, taken.evidence, collector, CHANNEL, message_id)
        )

    async def _wait(
        self, key: str, task: asyncio.Task | None, timeout: float, start: Callable[[], asyncio.Task] | None = None
    ) -> list[str] | None:
        """The reply chunks if ready within ``timeout``, else None. While another process
        answers, ``start`` takes over when that process's claim lapses (it died)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if task is not None:
            # Never cancels the task. The timeout is seen only when the loop is free: a turn that
            # computes without awaiting I/O (no action server call) finishes before it fires.
            done, _ = await asyncio.wait({task}, timeout=timeout)
            return task.result() if done else None
        # Being processed by another process (Redis, SQLite), or done already: poll the store.
        polls = 0
        while True:
            try:
                chunks = await self.store.result(key)
            except Exception:
                chunks = None
            if chunks is not None:
                return chunks
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            polls += 1
            if start is not None and polls % 5 == 0 and key not in self._tasks:
                try:
                    taken = await self.store.claim(key)  # True only once the other's claim lapsed
                except Exception:
                    taken = False
                if taken:
                    logger.info("wechat.dedupe.taken_over")
                    return await self._wait(key, start(), max(deadline - loop.time(), 0.0))
            await asyncio.sleep(min(0.1, remaining))

    async def _claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        try:
            return await self.store.claim_delivery(key, how)
        except Exception:
            logger.exception("wechat.dedupe.unavailable")
            return how, True

    def _push_later(self, key: str, openid: str, task: asyncio.Task | None) -> None:
        # Only the process running the task pushes; several waiters may ask, one push wins.
        if task is not None and self.api is not None:
            self._spawn(self._push_when_done(key, openid, task))

    async def _push_when_done(self, key: str, openid: str, task: asyncio.Task) -> None:
        await asyncio.wait({task})
        if task.cancelled() or task.exception() is not None:
            return
        chunks = task.result()
        if not chunks:
            return
        how, decided = await self._claim_delivery(key, "push")
        if how == "push" and decided:
            await self._push(openid, chunks)

    async def _push(self, openid: str, chunks: list[str], delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        assert self.api is not None
        sent = await self.api.send_texts(openid, chunks)
        logger.info("wechat.pushed user=%s chunks=%d/%d", user_hash(openid), sent, len(chunks))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        # Keep a reference: the event loop holds tasks only weakly.
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for running conversations and pushes (tests; shutdown)."""
        pending = set(self._tasks.values()) | set(self._background)
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def close(self) -> None:
        await self.drain(timeout=5.0)
        if self.api is not None:
            await self.api.close()
        if self.media is not None and self.media is not self.api:
            await self.media.close()
        await self.store.close()


# --- the Rasa input channel ------------------------------------------------------------------------


def _to_sanic(reply: Reply) -> HTTPResponse:
    return response.text(reply.body, status=reply.status, content_type=reply.content_type)


class WeChatInput(InputChannel):
    """Rasa input channel for a WeChat Official Account (公众号), at /webhooks/wechat/webhook.

    Settings come from WECHAT_* environment variables (see docs/operators.md); without
    WECHAT_TOKEN the channel answers 503, so the bot still starts for REST.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(WeChatSettings.load(credentials))

    def __init__(self, settings: WeChatSettings | None = None) -> None:
        self.settings = settings or WeChatSettings.load()
        self.settings.make_crypto()  # a malformed EncodingAESKey stops start-up, not the first message
        if not self.settings.token:
            logger.warning("wechat.disabled: WECHAT_TOKEN is not set; the webhook answers 503")

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        # Rate limit and length cap per OpenID (channels/guard.py); a retried MsgId is
        # de-duplicated before this, so WeChat's retries do not count against the user.
        # A stored image reaches Rasa unguarded (its "/evidence_received" would be defused),
        # after the handler checked the same rate limit itself.
        handler = WeChatHandler(
            self.settings,
            channel_guard(on_new_message, self.name()),
            evidence_on_new_message=on_new_message,
            limiter=default_limiter(),
        )
        blueprint = Blueprint("wechat_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings.token else "not configured"})

        # stream=True: an oversized body is refused without first being read whole.
        @blueprint.route("/webhook", methods=["GET", "POST"], stream=True)
        async def webhook(request: Request) -> HTTPResponse:
            query = {k: v[0] for k, v in request.get_args(keep_blank_values=True).items() if v}
            if request.method == "GET":
                return _to_sanic(handler.verify(query))
            body = await read_capped_body(request, MAX_BODY_BYTES)
            if body is None:
                return _to_sanic(Reply(413, f"body over {MAX_BODY_BYTES} bytes"))
            return _to_sanic(await handler.receive(query, body))

        @blueprint.listener("after_server_stop")
        async def close(app: Any, loop: Any) -> None:
            await handler.close()

        return blueprint
