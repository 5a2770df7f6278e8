"""Scheduled clean-up (upstream's cron task) driven by a fake clock, and uploads with a
server-chosen part size, one presigned PUT for small files and the md5 check (issue 14)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import OpenIMError
from openim_sdk.rest import RestClient
from openim_sdk.rest.files import download, openim_hash, upload_file
from server_stub import ServerApp
from server_stub.cleanup import DAY_MS, Cleanup

from .conftest import server_config
from .msgs_behaviour_helpers import People, detail, sent

PART = 1024  # the test server's minimum part size


@pytest.fixture
async def srv(tmp_path: Any) -> AsyncIterator[ServerApp]:
    cfg = server_config(tmp_path, cleanup_interval=3600.0, retain_chat_records_days=1, file_expire_days=1,
                        extra={"min_part_size": PART})
    async with ServerApp(cfg) as s:
        yield s


@pytest.fixture
async def people(srv: ServerApp) -> AsyncIterator[People]:
    admin = await RestClient.admin(srv.api_url)
    p = People(srv, admin)
    yield p
    await p.close()
    await admin.aclose()


def _at(offset_ms: int) -> Any:
    base = time.time()
    return lambda: base + offset_ms / 1000


async def _seqs(rest: RestClient, user: str, cid: str) -> list[int]:
    resp = await rest.msg.pull_msg_by_seq(user_id=user, seq_ranges=[
        {"conversationID": cid, "begin": 1, "end": 100, "num": 100}])
    return [m.seq for m in resp.msgs[cid].Msgs] if cid in resp.msgs else []


async def test_destruct_and_retention(srv: ServerApp, people: People, tmp_path: Any) -> None:
    assert srv.core is not None
    await people.add("ca", "cb")
    cid = "si_ca_cb"
    async with people.client(tmp_path, "ca") as a:
        await a.wait_synced(10)
        events = a.events()
        for i in range(3):
            await sent(a, events, await a.send_text("cb", f"burn {i}"))
    cb = people.rest["cb"]
    await cb.conversation.set_conversations(user_ids=["cb"], conversation={
        "conversationID": cid, "conversationType": 1, "userID": "ca", "isMsgDestruct": True, "msgDestructTime": 60})
    async with people.raw("cb") as raw:
        report = await Cleanup(srv.core, clock=_at(120_000)).run_once()
        assert report.destructed == 1 and report.deleted_messages == 0
        change = await raw.until(lambda c, m: m.contentType == ContentType.CONVERSATION_CHANGE)
        assert detail(change[-1][1])["conversationIDList"] == [cid]
    conv = (await cb.conversation.get_conversations(owner_user_id="cb", conversation_ids=[cid])).conversations[0]
    assert conv.minSeq == 4 and conv.latestMsgDestructTime > 0
    assert await _seqs(cb, "cb", cid) == []  # gone for cb ...
    assert await _seqs(people.rest["ca"], "ca", cid) == [1, 2, 3]  # ... not for ca
    # not due again until msgDestructTime has passed since the last run
    assert (await Cleanup(srv.core, clock=_at(150_000)).run_once()).destructed == 0
    # chat records past the retention are deleted for everyone
    report = await Cleanup(srv.core, clock=_at(2 * DAY_MS)).run_once()
    assert report.deleted_messages >= 3
    assert await _seqs(people.rest["ca"], "ca", cid) == []


async def test_old_files_are_deleted_in_the_upstream_groups_only(srv: ServerApp, people: People) -> None:
    assert srv.core is not None
    await people.add("fa")
    fa = people.rest["fa"]
    await upload_file(fa, os.urandom(300), "fa/pic.bin", cause="msg-picture")
    await upload_file(fa, os.urandom(300), "fa/keep.bin", cause="")
    assert (await Cleanup(srv.core, clock=_at(0)).run_once()).deleted_objects == 0
    report = await Cleanup(srv.core, clock=_at(2 * DAY_MS)).run_once()
    assert report.deleted_objects == 1
    with pytest.raises(OpenIMError):
        await fa.object.access_url(name="fa/pic.bin")
    assert (await fa.object.access_url(name="fa/keep.bin")).url


async def test_schedule_runs_every_interval(srv: ServerApp) -> None:
    assert srv.core is not None
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    clean = Cleanup(srv.core, clock=_at(0), sleep=fake_sleep)
    await clean.run_forever(rounds=2)
    assert slept == [3600.0, 3600.0] and clean.last is not None


async def test_upload_part_size_is_the_servers(srv: ServerApp, people: People) -> None:
    await people.add("ua")
    ua = people.rest["ua"]
    data = os.urandom(3 * PART - 10)
    md5s = [hashlib.md5(data[i:i + PART]).hexdigest() for i in range(0, len(data), PART)]
    init = await ua.object.initiate_multipart_upload(hash=openim_hash(md5s), size=len(data), part_size=1 << 20,
                                                     max_parts=-1, name="ua/big.bin")
    assert init.upload.partSize == PART and [p.partNumber for p in init.upload.sign.parts] == [1, 2, 3]
    state = await upload_file(ua, data, "ua/big.bin")
    assert state.part_size == PART
    async with RestClient(srv.api_url, people.sdk_tokens["ua"]) as api:
        assert await download(api, state.url, expected_hash=openim_hash(md5s), part_size=PART) == data


async def test_small_upload_is_one_presigned_put_with_md5_check(srv: ServerApp, people: People) -> None:
    await people.add("ub")
    ub = people.rest["ub"]
    claimed, sent_bytes = os.urandom(500), os.urandom(500)
    h = openim_hash([hashlib.md5(claimed).hexdigest()])
    init = await ub.object.initiate_multipart_upload(hash=h, size=500, part_size=PART, max_parts=-1,
                                                     name="ub/small.bin")
    assert [p.partNumber for p in init.upload.sign.parts] == [1]
    with pytest.raises(OpenIMError) as no_sign:
        await ub.object.auth_sign(upload_id=init.upload.uploadID, part_numbers=[1])
    assert no_sign.value.code == 500
    part = init.upload.sign.parts[0]
    async with httpx.AsyncClient() as http:
        put = await http.put(part.url, params={kv.key: kv.values[0] for kv in part.query}, content=sent_bytes)
        assert put.status_code == 200
    with pytest.raises(OpenIMError) as refused:
        await ub.object.complete_multipart_upload(upload_id=init.upload.uploadID,
                                                  parts=[hashlib.md5(claimed).hexdigest()], name="ub/small.bin")
    assert refused.value.code == 1001 and "md5 mismatching" in refused.value.detail
    with pytest.raises(OpenIMError):  # nothing was stored under the name
        await ub.object.access_url(name="ub/small.bin")
    state = await upload_file(ub, claimed, "ub/small.bin")
    assert state.url.endswith("/object/ub/small.bin")
