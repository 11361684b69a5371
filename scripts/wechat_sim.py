"""Chat with a running bot exactly as WeChat's servers would.

Each line you type becomes a signed WeChat XML message (encrypted when an
EncodingAESKey is given, as in safe mode) POSTed to the webhook; the passive
reply is decrypted and printed. Like WeChat, a request unanswered after 5 s
is sent again with the same MsgId, three attempts in all.

    python scripts/wechat_sim.py                      # interactive; settings from WECHAT_* env vars
    python scripts/wechat_sim.py -m 你好 -m 1          # one-shot messages
    python scripts/wechat_sim.py --check              # the GET check WeChat makes when you save the URL
    python scripts/wechat_sim.py --api-port 5177      # also print customer-service API pushes
                                                      # (start the bot with WECHAT_API_BASE=http://127.0.0.1:5177)

Interactive commands: :subscribe  :unsubscribe  :click KEY  :voice TEXT  :image  :quit
"""

from __future__ import annotations

import argparse
import os
import random
import string
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.wechat import make_signature  # noqa: E402

WECHAT_TIMEOUT = 5.0  # WeChat waits this long for an answer, then retries
WECHAT_ATTEMPTS = 3


@dataclass
class Result:
    """One message's outcome: the last HTTP answer and the reply text, if any."""

    status: int
    body: str
    content: str | None
    attempts: int
    encrypted: bool = False

    @property
    def success_only(self) -> bool:
        return self.status == 200 and self.body.strip() in ("success", "")


def _xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in fromstring(xml.encode("utf-8"))}


class WeChatSim:
    """Plays WeChat's servers against one webhook, as one user (OpenID)."""

    def __init__(
        self,
        url: str,
        token: str,
        appid: str = "",
        aes_key: str = "",
        openid: str | None = None,
        account: str = "gh_anxin_sim",
        timeout: float = WECHAT_TIMEOUT,
        attempts: int = WECHAT_ATTEMPTS,
    ) -> None:
        self.url = url
        self.token = token
        self.appid = appid
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None
        self.openid = openid or "o-sim-" + uuid.uuid4().hex[:20]
        self.account = account
        self.timeout = timeout
        self.attempts = attempts
        self.http = requests.Session()
        self._msg_id = random.randint(10**15, 10**16)

    def next_msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    @staticmethod
    def _nonce() -> str:
        return "".join(random.choices(string.digits, k=10))

    def signed_query(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or self._nonce()
        return {
            "signature": make_signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": self.openid,
        }

    def check(self) -> requests.Response:
        """The GET WeChat sends when the server URL is saved; the body must echo echostr."""
        query = {**self.signed_query(), "echostr": self._nonce() + "echo"}
        return self.http.get(self.url, params=query, timeout=self.timeout)

    def envelope(self, xml: str) -> tuple[dict[str, str], bytes]:
        """Query and body of a POST carrying ``xml``, encrypted in safe mode."""
        query = self.signed_query()
        if self.crypto is None:
            return query, xml.encode("utf-8")
        sealed = _fields(self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))
        query.update(encrypt_type="aes", msg_signature=sealed["MsgSignature"])
        body = _xml({"ToUserName": self.account, "Encrypt": sealed["Encrypt"]})
        return query, body.encode("utf-8")

    def post(self, xml: str, timeout: float | None = None) -> requests.Response:
        query, body = self.envelope(xml)
        return self.http.post(
            self.url,
            params=query,
            data=body,
            headers={"Content-Type": "text/xml"},
            timeout=timeout or self.timeout,
        )

    def read_reply(self, body: str) -> tuple[str | None, bool]:
        """The text of a passive reply (decrypted if need be), and whether it was encrypted."""
        if not body.strip().startswith("<xml"):
            return None, False
        fields = _fields(body)
        encrypted = "Encrypt" in fields
        if encrypted:
            if self.crypto is None:
                raise ValueError("encrypted reply but no EncodingAESKey given")
            fields = _fields(
                self.crypto.decrypt_message(
                    fields, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
                )
            )
        if fields.get("FromUserName") != self.account or fields.get("ToUserName") != self.openid:
            raise ValueError("reply addressed to someone else")
        return fields.get("Content"), encrypted

    def send(self, fields: dict[str, Any]) -> Result:
        """Send one message as WeChat does: retry with the same XML on timeout."""
        xml = _xml(
            {
                "ToUserName": self.account,
                "FromUserName": self.openid,
                "CreateTime": int(time.time()),
                **fields,
            }
        )
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self.post(xml)
            except requests.Timeout:
                if attempt == self.attempts:
                    return Result(0, "", None, attempt)
                continue
            content, encrypted = self.read_reply(answer.text) if answer.status_code == 200 else (None, False)
            return Result(answer.status_code, answer.text, content, attempt, encrypted)
        raise AssertionError("unreachable")

    def text(self, content: str, msg_id: int | None = None) -> Result:
        return self.send({"MsgType": "text", "Content": content, "MsgId": msg_id or self.next_msg_id()})

    def voice(self, recognition: str, msg_id: int | None = None) -> Result:
        fields = {"MsgType": "voice", "MediaId": "sim-media", "Format": "amr", "Recognition": recognition}
        return self.send({**fields, "MsgId": msg_id or self.next_msg_id()})

    def image(self) -> Result:
        fields = {"MsgType": "image", "PicUrl": "http://127.0.0.1/sim.jpg", "MediaId": "sim-media"}
        return self.send({**fields, "MsgId": self.next_msg_id()})

    def event(self, event: str, key: str | None = None) -> Result:
        fields: dict[str, Any] = {"MsgType": "event", "Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self.send(fields)


def _show(result: Result) -> None:
    if result.status == 0:
        print(f"  ✗ no answer within {WECHAT_TIMEOUT:.0f} s on all {result.attempts} attempts")
    elif result.content is not None:
        lock = " 🔒" if result.encrypted else ""
        retried = f" (attempt {result.attempts})" if result.attempts > 1 else ""
        print(f"安心{lock}{retried} > {result.content}\n")
    elif result.success_only:
        print('  ("success": no passive reply; a late reply comes through the customer-service API)\n')
    else:
        print(f"  ✗ HTTP {result.status}: {result.body[:200]}\n")


def _run_line(sim: WeChatSim, line: str) -> bool:
    """Send one typed line; False when the user wants to quit."""
    command, _, rest = line.partition(" ")
    if command in (":quit", ":q", ":exit"):
        return False
    if command == ":subscribe":
        _show(sim.event("subscribe", ""))
    elif command == ":unsubscribe":
        _show(sim.event("unsubscribe"))
    elif command == ":click":
        _show(sim.event("CLICK", rest.strip() or "MENU_HARASSED"))
    elif command == ":voice":
        _show(sim.voice(rest.strip()))
    elif command == ":image":
        _show(sim.image())
    elif line.strip():
        _show(sim.text(line.strip()))
    return True


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    port = env.get("RASA_PORT", "5005")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=f"http://localhost:{port}/webhooks/wechat/webhook")
    parser.add_argument("--token", default=env.get("WECHAT_TOKEN", ""))
    parser.add_argument("--appid", default=env.get("WECHAT_APPID", ""))
    parser.add_argument("--secret", default=env.get("WECHAT_APPSECRET", ""), help="for --api-port")
    parser.add_argument("--aes-key", default=env.get("WECHAT_AES_KEY", ""), help="EncodingAESKey: safe mode")
    parser.add_argument("--plain", action="store_true", help="plain mode even if an AES key is set")
    parser.add_argument("--openid", help="the user (default: a new one each run)")
    parser.add_argument("--check", action="store_true", help="only the GET verification")
    parser.add_argument("-m", "--message", action="append", help="send this and exit (repeatable)")
    parser.add_argument("--api-port", type=int, help="run a fake customer-service API on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: set WECHAT_TOKEN or pass --token")

    sim = WeChatSim(args.url, args.token, args.appid, "" if args.plain else args.aes_key, args.openid)
    if args.check:
        echostr_ok = sim.check()
        print(f"GET verification: HTTP {echostr_ok.status_code} {echostr_ok.text[:80]!r}")
        return 0 if echostr_ok.status_code == 200 and echostr_ok.text.endswith("echo") else 1

    fake = None
    if args.api_port:
        from tests.fake_wechat_api import FakeWeChatAPI

        def pushed(data: dict[str, Any]) -> None:
            if data.get("touser") == sim.openid:
                print(f"\n安心 (customer-service API) > {data['text']['content']}\n", flush=True)

        fake = FakeWeChatAPI(args.api_port, args.appid, args.secret, on_message=pushed).start()
        print(f"fake customer-service API on {fake.base}")

    mode = "safe mode (encrypted)" if sim.crypto else "plain mode"
    print(f"→ {args.url} as {sim.openid}, {mode}")
    try:
        if args.message:
            for message in args.message:
                print(f"我 > {message}")
                _run_line(sim, message)
            if fake is not None:
                time.sleep(WECHAT_TIMEOUT)  # give late replies time to arrive
            return 0
        print("Type a message (:subscribe :unsubscribe :click KEY :voice TEXT :image :quit).")
        while True:
            try:
                line = input("我 > ")
            except EOFError:
                break
            if not _run_line(sim, line):
                break
    except requests.ConnectionError:
        print(
            f"✗ cannot reach {args.url}: is the bot running (make run) with WECHAT_TOKEN set?",
            file=sys.stderr,
        )
        return 1
    finally:
        if fake is not None:
            fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
