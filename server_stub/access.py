"""Who may read which conversation: the one rule every message/seq read path applies.

A conversation ID names its parties (spec ws-protocol §6.1), so the check is structural and
does not trust the caller's own conversation records (a user may create a record for any ID
through ``/conversation/set_conversations``):

- ``si_<a>_<b>`` / ``sn_<a>_<b>``: one of the two users.
- ``sg_<g>`` / ``g_<g>``: a member of group ``g``; a former member up to the cap the server put
  on their record when they left (``maxSeq``, repos.relations ``_cap_group_conversation``).
- ``n_<x>``: the owner(s) of the notification channel: ``x`` is a pair holding the caller
  (``n_<u>_<u>`` is the user's own channel, ``n_<a>_<b>`` the pair's), or a group the caller
  is a member of.
- App admins (``ServerConfig.admin_user_ids``) read everything.

Upstream open-im-server checks less (its 1005 ``PullMessageBySeqList`` has no check, and the
``n_`` conversations skip it); we are stricter on purpose (docs/spec/security-differences.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openim_sdk.protocol.conversation_id import single_conversation_id
from openim_sdk.protocol.pb.conversation import conversation_pb2

from .repos.conversations import conversation_records
from .repos.relations import member_group_ids

if TYPE_CHECKING:
    from .app import ServerCore

_PAIR_PREFIXES = ("si_", "sn_")
_GROUP_PREFIXES = ("sg_", "g_")


@dataclass(frozen=True)
class Bounds:
    """The part of a conversation a reader may see: ``min_seq``..``max_seq`` (0 = no bound)."""

    min_seq: int = 0
    max_seq: int = 0
    has_read_seq: int = 0


def is_pair_member(user_id: str, pair: str) -> bool:
    """``pair`` is ``<lo>_<hi>`` of a single-chat style ID and ``user_id`` is one of the two."""
    others = []
    if pair.startswith(user_id + "_"):
        others.append(pair[len(user_id) + 1:])
    if pair.endswith("_" + user_id):
        others.append(pair[: -len(user_id) - 1])
    return any(other and single_conversation_id(user_id, other)[3:] == pair for other in others)


def _group_of(cid: str) -> str | None:
    for prefix in _GROUP_PREFIXES:
        if cid.startswith(prefix):
            return cid[len(prefix):]
    return None


def readable_in(conn: sqlite3.Connection, user_id: str, cids: list[str], admin: bool = False) -> dict[str, Bounds]:
    """The conversations of ``cids`` that ``user_id`` may read, with the reader's bounds."""
    ids = list(dict.fromkeys(c for c in cids if c))
    records: dict[str, Bounds] = {}
    for cid, data, has_read in conversation_records(conn, user_id, ids):
        conv = conversation_pb2.Conversation.FromString(data)
        records[cid] = Bounds(conv.minSeq, conv.maxSeq, has_read)
    if admin:
        return {cid: records.get(cid, Bounds()) for cid in ids}
    groups = {g for c in ids for g in (_group_of(c), c[2:] if c.startswith("n_") else None) if g}
    member_of = member_group_ids(conn, user_id, list(groups))
    out: dict[str, Bounds] = {}
    for cid in ids:
        rec = records.get(cid)
        if cid.startswith(_PAIR_PREFIXES):
            ok = is_pair_member(user_id, cid[3:])
        elif (gid := _group_of(cid)) is not None:
            ok = gid in member_of or (rec is not None and rec.max_seq > 0)  # a former member, capped
        elif cid.startswith("n_"):
            ok = is_pair_member(user_id, cid[2:]) or cid[2:] in member_of
        else:
            ok = False
        if ok:
            out[cid] = rec or Bounds()
    return out


async def readable(core: ServerCore, user_id: str, cids: list[str], admin: bool = False) -> dict[str, Bounds]:
    """:func:`readable_in` on the read connection (``Storage.read``)."""
    if not cids:
        return {}
    return await core.storage.read(lambda conn: readable_in(conn, user_id, cids, admin))


async def can_read(core: ServerCore, user_id: str, cid: str, admin: bool = False) -> bool:
    return cid in await readable(core, user_id, [cid], admin)
