"""Pure rules of the relation caches: how a server list compares with the cached one, which
event an application change means, how a member list is filtered. No I/O: unit-tested alone.

The official core keeps its relation tables by the same rule: fetch (a delta or everything),
compare with the local rows by key, write the difference, and call the listener once per
inserted, updated or deleted row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..protocol.constants import GroupRole
from .models import ACCEPTED, REJECTED, GroupMember

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)


@dataclass
class Diff(Generic[K, V]):
    """What changed between a cached list and a server list, by key (``old`` kept for updates)."""

    inserted: list[V] = field(default_factory=list)
    updated: list[tuple[V, V]] = field(default_factory=list)  # (old, new)
    deleted: list[V] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


def diff(cached: Iterable[V], server: Iterable[V], key: Callable[[V], K], *, complete: bool = True) -> Diff[K, V]:
    """Compare by ``key``; rows equal by value are unchanged. With ``complete`` False ``server``
    is a partial list (a delta): nothing is deleted for being absent from it."""
    old = {key(v): v for v in cached}
    out: Diff[K, V] = Diff()
    seen: set[K] = set()
    for v in server:
        k = key(v)
        seen.add(k)
        before = old.get(k)
        if before is None:
            out.inserted.append(v)
        elif before != v:
            out.updated.append((before, v))
    if complete:
        out.deleted = [v for k, v in old.items() if k not in seen]
    return out


class VersionDelta(Protocol[P_co]):
    """An incremental route's answer (``get_incremental_friends``, ``..._join_groups``, a member
    batch entry): ``full`` (the stored version is too old: re-read everything) or a delta."""

    @property
    def full(self) -> bool: ...

    @property
    def insert(self) -> Sequence[P_co]: ...

    @property
    def update(self) -> Sequence[P_co]: ...

    @property
    def delete(self) -> Sequence[str]: ...


def delta_diff(cached: Sequence[V], delta: VersionDelta[P] | None, to_model: Callable[[P], V],
               key: Callable[[V], str], *, full_rows: Sequence[P] = ()) -> tuple[list[P], Diff[str, V]]:
    """The wire rows to write and the difference they make, from an incremental answer: on
    ``full`` (or ``delta`` None), ``full_rows`` is the whole server list and whatever is cached but
    absent is deleted; otherwise the rows are the delta's inserts and updates and the deleted ones
    are the cached rows whose keys the delta names in ``delete``."""
    if delta is None or delta.full:
        rows = list(full_rows)
        return rows, diff(cached, [to_model(r) for r in rows], key)
    rows = [*delta.insert, *delta.update]
    d = diff(cached, [to_model(r) for r in rows], key, complete=False)
    gone = set(delta.delete)
    d.deleted = [v for v in cached if key(v) in gone]
    return rows, d


async def version_diff(cached: Sequence[V], delta: VersionDelta[P], to_model: Callable[[P], V],
                       key: Callable[[V], str],
                       read_all: Callable[[], Awaitable[Sequence[P]]]) -> tuple[list[P], Diff[str, V]]:
    """:func:`delta_diff` over an incremental answer, reading the whole list with ``read_all``
    only when the server says ``full``."""
    full_rows = await read_all() if delta.full else ()
    return delta_diff(cached, delta, to_model, key, full_rows=full_rows)


def application_outcome(old_result: int | None, new_result: int) -> str:
    """Which listener callback a changed friend/group application row means, as the official
    core's syncer decides: a new row (``old_result`` None) is ``"added"`` whatever its state; a
    changed row is ``"accepted"``, ``"rejected"`` or ``"added"`` (pending again, or asked again)
    by its new handle result."""
    if old_result is None:
        return "added"
    return {ACCEPTED: "accepted", REJECTED: "rejected"}.get(new_result, "added")


#: GetGroupMemberList filters of the official core: 0 all, 1 owner, 2 admins, 3 ordinary members,
#: 4 admins and members, 5 owner and admins.
MEMBER_FILTERS: dict[int, frozenset[int]] = {
    0: frozenset({GroupRole.OWNER, GroupRole.ADMIN, GroupRole.MEMBER}),
    1: frozenset({GroupRole.OWNER}),
    2: frozenset({GroupRole.ADMIN}),
    3: frozenset({GroupRole.MEMBER}),
    4: frozenset({GroupRole.ADMIN, GroupRole.MEMBER}),
    5: frozenset({GroupRole.OWNER, GroupRole.ADMIN}),
}


def member_sort_key(m: GroupMember) -> tuple[int, int, str]:
    """Owner, admins, members; each by join time (as the server and the official core order them)."""
    return -m.role_level, m.join_time, m.user_id


def filter_members(members: Iterable[GroupMember], *, role_filter: int = 0, join_time_begin: int = 0,
                   join_time_end: int = 0, exclude_user_ids: Iterable[str] = (), keyword: str = "",
                   offset: int = 0, count: int = 0) -> list[GroupMember]:
    """The member-list query: role filter (:data:`MEMBER_FILTERS`), join time in
    ``[begin, end]`` (0 = open), excluded IDs, keyword on user ID or nickname, then a page."""
    if role_filter not in MEMBER_FILTERS:
        raise ValueError(f"unknown member filter {role_filter} (0-5)")
    roles = MEMBER_FILTERS[role_filter]
    skip = set(exclude_user_ids)
    kw = keyword.lower()
    out = [m for m in members
           if m.role_level in roles and m.user_id not in skip
           and (not join_time_begin or m.join_time >= join_time_begin)
           and (not join_time_end or m.join_time <= join_time_end)
           and (not kw or kw in m.user_id.lower() or kw in m.nickname.lower())]
    out.sort(key=member_sort_key)
    return out[offset:offset + count] if count else out[offset:]


async def all_pages(call: Callable[[dict[str, int]], Awaitable[Any]], field_name: str,
                    page_size: int = 500) -> list[Any]:
    """Every item of a paged REST list (``pagination`` 1-based; stops at a short page or ``total``)."""
    out: list[Any] = []
    page = 1
    while True:
        resp = await call({"pageNumber": page, "showNumber": page_size})
        items = list(getattr(resp, field_name))
        out.extend(items)
        if len(items) < page_size or len(out) >= getattr(resp, "total", 0):
            return out
        page += 1
