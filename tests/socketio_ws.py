"""A minimal Socket.IO v5 client over one WebSocket, spoken at the Engine.IO level.

python-socketio's own client cannot use WebSocket with the aiohttp that Rasa 3.6
pins; speaking the protocol directly also shows which transport carried what.
Engine.IO v4 packets: 0 open, 2/3 ping/pong, 4 message, 5 upgrade, 6 noop;
Socket.IO v5 inside a message: 0 connect, 2 event, 4 connect error.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

TIMEOUT = 30


def ws_url(base: str, sid: str | None = None) -> str:
    url = base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
    return url + (f"&sid={sid}" if sid else "")


class SocketIO:
    """One Socket.IO client over an open WebSocket."""

    def __init__(self, ws) -> None:
        self.ws = ws

    async def packet(self) -> str:
        """The next Engine.IO packet, answering the server's pings on the way."""
        while True:
            packet = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
            if packet == "2":
                await self.ws.send("3")
                continue
            return packet

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send("42" + json.dumps([event, data], ensure_ascii=False))

    async def event(self, name: str) -> Any:
        while True:
            packet = await self.packet()
            if packet.startswith("42"):
                event, data = json.loads(packet[2:])
                if event == name:
                    return data

    async def start_session(self) -> str:
        session = uuid.uuid4().hex
        await self.emit("session_request", {"session_id": session})
        assert await self.event("session_confirm") == session
        return session

    async def say(self, session: str, text: str) -> list[str]:
        """Send; the bot's messages (the first within TIMEOUT, then any within 1.5 s)."""
        await self.emit("user_uttered", {"message": text, "session_id": session})
        replies = [(await self.event("bot_uttered")).get("text", "")]
        while True:
            try:
                replies.append((await asyncio.wait_for(self.event("bot_uttered"), 1.5)).get("text", ""))
            except TimeoutError:
                return replies
