"""An in-memory stand-in for OpenIMClient (same method names), for deterministic widget tests
and snapshots. Integration tests use the real client and server instead."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from openim_sdk.events import (
    ConnectionState,
    ConnectionStateChanged,
    ConversationChanged,
    Event,
    MessageReceived,
    MessageSendFailed,
    MessageSent,
    MessageUpdated,
)
from openim_sdk.models import Conversation, Message
from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType
from openim_sdk.social import Friend, Group, GroupMember, User

BASE_MS = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


class FakeClient:
    def __init__(self, user_id: str = "alice", *, nickname: str = "Alice") -> None:
        self.user_id = user_id
        self.nickname = nickname
        self.state = ConnectionState.CONNECTED
        self.convs: dict[str, Conversation] = {}
        self.msgs: dict[str, list[Message]] = {}
        self.friend_list: list[Friend] = []
        self.group_list: list[Group] = []
        self.members: dict[str, list[GroupMember]] = {}
        self.friends = _FakeFriends(self)
        self.groups = _FakeGroups(self)
        self.sent: list[Message] = []
        self.read: list[str] = []
        self.typing_calls: list[tuple[str, bool]] = []
        self.fail_sends = False
        self.downloads: list[str] = []
        self.refusals: dict[str, Any] = {}  # clientMsgID -> OpenIMError, as the SDK keeps them
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._ids = itertools.count(1)
        self.clock_ms = BASE_MS + 10 * 3600_000

    def send_error(self, client_msg_id: str) -> Any:
        return self.refusals.get(client_msg_id)

    # ---------------------------------------------------------------- seeding helpers

    def add_conversation(self, conv: Conversation) -> Conversation:
        self.convs[conv.conversation_id] = conv
        self.msgs.setdefault(conv.conversation_id, [])
        return conv

    def add_message(self, cid: str, send_id: str, text: str, *, minute: int, nickname: str = "",
                    content_type: int = ContentType.TEXT, content: dict[str, Any] | None = None,
                    status: int = MsgStatus.SEND_SUCCESS, at: list[str] | None = None,
                    is_read: bool = False) -> Message:
        lst = self.msgs.setdefault(cid, [])
        seq = len(lst) + 1
        conv = self.convs.get(cid)
        st = conv.conversation_type if conv else SessionType.SINGLE_CHAT
        body = content if content is not None else (
            {"content": text} if content_type == ContentType.TEXT else {"text": text})
        m = Message(client_msg_id=f"{cid}-{seq:05d}", conversation_id=cid, send_id=send_id,
                    group_id=conv.group_id if conv else "", session_type=st, content_type=content_type,
                    content_json=json.dumps(body), seq=seq, server_msg_id=f"s{seq}", send_time=BASE_MS + minute * 60_000,
                    status=status, sender_nickname=nickname or send_id, at_user_ids=at or [], is_read=is_read)
        lst.append(m)
        if conv is not None:
            conv.latest_text, conv.latest_time, conv.latest_client_msg_id = m.text, m.time, m.client_msg_id
            conv.max_seq = seq
        return m

    async def emit(self, ev: Event) -> None:
        await self._queue.put(ev)

    async def push(self, cid: str, send_id: str, text: str, *, minute: int, nickname: str = "") -> Message:
        m = self.add_message(cid, send_id, text, minute=minute, nickname=nickname)
        conv = self.convs[cid]
        conv.unread_count += 1
        await self.emit(MessageReceived(m))
        await self.emit(ConversationChanged(conv))
        return m

    async def set_state(self, state: ConnectionState) -> None:
        self.state = state
        await self.emit(ConnectionStateChanged(state))

    # ---------------------------------------------------------------- client API

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()

    async def conversations(self) -> list[Conversation]:
        return sorted(self.convs.values(), key=lambda c: (not c.is_pinned, -c.latest_time))

    async def messages(self, conversation_id: str, before_seq: int | None = None, limit: int = 50, *,
                       after_seq: int | None = None) -> list[Message]:
        lst = self.msgs.get(conversation_id, [])
        if after_seq is not None:
            return [m for m in lst if m.seq and m.seq > after_seq][:limit]
        if before_seq is not None:
            lst = [m for m in lst if m.seq and m.seq < before_seq]
        return list(lst[-limit:])

    async def send_text(self, conversation_id: str, text: str, *, group: bool = False,
                        at_user_ids: tuple[str, ...] = (), quote: Message | None = None) -> Message:
        n = next(self._ids)
        conv = self.convs[conversation_id]
        m = Message(client_msg_id=f"local-{n}", conversation_id=conversation_id, send_id=self.user_id,
                    session_type=conv.conversation_type, group_id=conv.group_id,
                    content_type=ContentType.TEXT, content_json=json.dumps({"content": text}), send_time=self.clock_ms,
                    status=MsgStatus.SENDING, at_user_ids=list(at_user_ids))
        self.sent.append(m)
        await self.emit(MessageReceived(m, is_self=True))  # as the SDK: the row shows at once, sending
        return m

    async def complete(self, m: Message, ok: bool = True) -> None:
        """The server's answer to a send, as the SDK reports it: MessageSent or MessageSendFailed."""
        lst = self.msgs.setdefault(m.conversation_id, [])
        m.status = MsgStatus.SEND_SUCCESS if ok else MsgStatus.SEND_FAILED
        if ok:
            m.seq = len(lst) + 1
            lst.append(m)
            await self.emit(MessageSent(m))
        else:
            await self.emit(MessageSendFailed(m))

    async def send_file(self, conversation_id: str, path: Path, *, group: bool = False, image: bool = False,
                        progress: Any = None) -> Message:
        n = next(self._ids)
        conv = self.convs[conversation_id]
        ct = ContentType.PICTURE if image else ContentType.FILE
        body = ({"sourcePicture": {"url": f"http://x/{Path(path).name}", "size": Path(path).stat().st_size}}
                if image else {"fileName": Path(path).name, "fileSize": Path(path).stat().st_size})
        m = Message(client_msg_id=f"local-{n}", conversation_id=conversation_id, send_id=self.user_id,
                    session_type=conv.conversation_type, group_id=conv.group_id, content_type=ct,
                    content_json=json.dumps(body), send_time=self.clock_ms, status=MsgStatus.SENDING)
        self.sent.append(m)
        await self.emit(MessageReceived(m, is_self=True))
        return m

    async def retry(self, client_msg_id: str) -> Message:
        for m in self.sent:
            if m.client_msg_id == client_msg_id:
                m.status = MsgStatus.SENDING
                await self.emit(MessageUpdated(m))  # as the SDK: queued again, sending
                return m
        raise KeyError(client_msg_id)

    async def mark_read(self, conversation_id: str) -> None:
        self.read.append(conversation_id)
        if conversation_id in self.convs:
            self.convs[conversation_id].unread_count = 0

    async def typing(self, conversation_id: str, typing: bool) -> None:
        self.typing_calls.append((conversation_id, typing))

    async def revoke(self, conversation_id: str, client_msg_id: str) -> None:
        pass

    async def search(self, text: str, conversation_id: str | None = None, limit: int = 50) -> list[Message]:
        out = [m for lst in self.msgs.values() for m in lst if text.lower() in m.text.lower()]
        return out[:limit]

    async def open_conversation(self, user_id: str | None = None, group_id: str | None = None) -> Conversation:
        if group_id:
            cid = f"sg_{group_id}"
            conv = Conversation(cid, SessionType.READ_GROUP_CHAT, group_id=group_id, show_name=group_id)
        else:
            a, b = sorted([self.user_id, user_id or ""])
            cid = f"si_{a}_{b}"
            conv = Conversation(cid, SessionType.SINGLE_CHAT, user_id=user_id or "", show_name=user_id or "")
        return self.convs.setdefault(cid, conv)

    async def download(self, message: Message, dest_dir: Path) -> Path:
        self.downloads.append(message.client_msg_id)
        Path(dest_dir).mkdir(parents=True, exist_ok=True)
        if message.content_type == ContentType.PICTURE:  # a real picture (4x4, red over blue)
            from PIL import Image

            p = Path(dest_dir) / "picture.png"
            img = Image.new("RGB", (4, 4), (0, 0, 255))
            img.paste((255, 0, 0), (0, 0, 4, 2))
            img.save(p)
            return p
        p = Path(dest_dir) / "file.bin"
        p.write_bytes(b"x")
        return p


def demo_client() -> FakeClient:
    """A fixed scene for snapshots: a few single chats, a muted one, a pinned group."""
    c = FakeClient("alice", nickname="Alice")
    g = c.add_conversation(Conversation("sg_team", SessionType.READ_GROUP_CHAT, group_id="team",
                                        show_name="Team Rocket", is_pinned=True))
    bob = c.add_conversation(Conversation("si_alice_bob", SessionType.SINGLE_CHAT, user_id="bob",
                                          show_name="Bob"))
    carol = c.add_conversation(Conversation("si_alice_carol", SessionType.SINGLE_CHAT, user_id="carol",
                                            show_name="Carol", recv_msg_opt=2))
    c.add_conversation(Conversation("si_alice_dave", SessionType.SINGLE_CHAT, user_id="dave",
                                    show_name="Dave"))
    c.add_message("si_alice_dave", "dave", "see you tomorrow", minute=-60 * 24 * 3, nickname="Dave")
    c.add_message(bob.conversation_id, "bob", "hey Alice!", minute=600, nickname="Bob")
    c.add_message(bob.conversation_id, "bob", "are we still on for lunch?", minute=601, nickname="Bob")
    c.add_message(bob.conversation_id, "alice", "yes — 12:30 at the usual place", minute=603, nickname="Alice")
    c.add_message(bob.conversation_id, "bob", "great\nI'll bring the slides", minute=604, nickname="Bob")
    c.add_message(bob.conversation_id, "alice", "perfect, thanks", minute=605, nickname="Alice", is_read=True)
    bob.unread_count = 0
    for i in range(3):
        c.add_message(carol.conversation_id, "carol", f"newsletter #{i + 1}", minute=500 + i, nickname="Carol")
    carol.unread_count = 3
    c.add_message(g.conversation_id, "bob", "group created", minute=400, nickname="Bob",
                  content_type=ContentType.GROUP_CREATED, content={"detail": "{}"})
    c.add_message(g.conversation_id, "bob", "welcome to the team!", minute=401, nickname="Bob")
    c.add_message(g.conversation_id, "carol", "@alice can you review the deck?", minute=410, nickname="Carol",
                  content_type=ContentType.AT_TEXT, at=["alice"])
    c.add_message(g.conversation_id, "carol", "", minute=411, nickname="Carol", content_type=ContentType.FILE,
                  content={"fileName": "deck-v2.pdf", "fileSize": 2_411_724, "sourceUrl": "http://x/deck-v2.pdf"})
    c.add_message(g.conversation_id, "alice", "on it", minute=415, nickname="Alice", content_type=ContentType.QUOTE,
                  content={"text": "on it", "quoteMessage": {"sendID": "carol", "senderNickname": "Carol",
                                                             "contentType": 101,
                                                             "textElem": {"content": "can you review the deck?"}}})
    c.add_message(g.conversation_id, "bob", "@carol nice work", minute=430, nickname="Bob",
                  content_type=ContentType.AT_TEXT, at=["carol"])
    c.add_message(g.conversation_id, "bob", "", minute=431, nickname="Bob",
                  content_type=ContentType.MSG_REVOKE_NOTIFICATION, content={})
    c.add_message(g.conversation_id, "alice", "sending this one offline", minute=432, nickname="Alice",
                  status=MsgStatus.SEND_FAILED)
    g.unread_count = 2
    c.members["team"] = [GroupMember("team", "alice", nickname="Alice"), GroupMember("team", "bob", nickname="Bob"),
                         GroupMember("team", "carol", nickname="Carol")]
    c.friend_list = [Friend("alice", User("bob", "Bob")), Friend("alice", User("carol", "Carol"))]
    c.group_list = [Group("team", "Team Rocket")]
    return c


class _FakeFriends:
    """``client.friends`` (the cache reads the TUI uses)."""

    def __init__(self, client: FakeClient) -> None:
        self._c = client

    async def list(self) -> list[Friend]:
        return self._c.friend_list


class _FakeGroups:
    """``client.groups`` (the cache reads the TUI uses)."""

    def __init__(self, client: FakeClient) -> None:
        self._c = client

    async def list(self) -> list[Group]:
        return self._c.group_list

    async def members(self, group_id: str) -> list[GroupMember]:
        return self._c.members.get(group_id, [])
