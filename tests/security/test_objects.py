"""Object storage (issue 12, point 1): no file outside the objects dir can be read or written.

Every field of every file/object route gets a traversal corpus (absolute paths, ``..`` anywhere,
URL-encoded and double-encoded, NUL, backslashes, control characters, 5,000 characters). Each case
is checked by trying to read a canary file with random content placed OUTSIDE the data dir (and
the SQLite database next to the objects dir): its bytes must never appear in any response, API
routes must answer an OpenIM envelope 1001/1002/1004 and raw paths a 4xx. A real upload and
download still work afterwards; nothing unexpected is stored; file modes stay 0700/0600 even with
umask 000.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openim_sdk.rest.files import openim_hash, part_md5s
from server_stub import ServerApp
from server_stub.services import third

from .conftest import Api, server_config

USER = "evil1"
VALID_HASH = "0123456789abcdef0123456789abcdef"
SQLITE_MAGIC = b"SQLite format 3"
PART = 5 << 20  # the server's default minimum part size; small files are one part


# --------------------------------------------------------------------------- fixtures and helpers


class Canary:
    def __init__(self, path: Path, secret: bytes) -> None:
        self.path = path
        self.secret = secret

    def check(self, what: str, body: bytes) -> None:
        assert self.secret not in body, f"canary leaked by {what}"
        assert SQLITE_MAGIC not in body, f"database leaked by {what}"
        assert b"root:x:0:0" not in body, f"/etc/passwd leaked by {what}"


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Canary]:
    """Random content in tmp_path's parent: outside the data dir (tmp_path) and its objects dir."""
    secret = os.urandom(24).hex().encode()
    path = tmp_path.parent / f"canary-{os.urandom(6).hex()}.txt"
    path.write_bytes(secret)
    yield Canary(path, secret)
    path.unlink(missing_ok=True)


@pytest.fixture
async def user(admin: Api, http: httpx.AsyncClient) -> Api:
    await admin.register(USER)
    return Api(http, await admin.user_token(USER))


def corpus(canary: Canary, tmp_path: Path) -> list[str]:
    """Hostile names/keys. Every one must be refused as a whole name, hash or ID."""
    c = canary.path.name
    # relative climbs from every directory the server builds paths in
    climbs = ["../" * k + c for k in range(1, 7)] + ["../" * k + "openim.sqlite3" for k in range(1, 4)]
    cases = [
        "/etc/passwd",
        str(canary.path),
        str(tmp_path / "openim.sqlite3"),
        "//etc/passwd",
        "../../openim.sqlite3",
        *climbs,
        "..",
        "../",
        "./../" + c,
        f"{USER}/../../../{c}",
        f"{USER}/a/../../../../{c}",
        f"{USER}/..",
        f"a/b/c/../../../../../{c}",
        f"x/../../{c}/..",
        # URL-encoded, once and twice, and mixed
        "%2e%2e%2f%2e%2e%2f%2e%2e%2f" + c,
        "%2E%2E%2F%2E%2E%2F" + c,
        "..%2f..%2f..%2f" + c,
        "%2e%2e/%2e%2e/%2e%2e/" + c,
        ".%2e/.%2e/.%2e/" + c,
        f"{USER}/%2e%2e/%2e%2e/%2e%2e/{c}",
        "%2fetc%2fpasswd",
        "%252e%252e%252f%252e%252e%252f%252e%252e%252f" + c,
        f"{USER}/%252e%252e/%252e%252e/{c}",
        "%25252e%25252e%25252f" + c,
        "%2e%2e%5c%2e%2e%5c" + c,
        "%00",
        f"{USER}/a%00b",
        # NUL, backslash, control characters
        f"{USER}/x\x00",
        f"{USER}/\x00../../{c}",
        "\x00",
        "..\\..\\x",
        "..\\..\\..\\" + c,
        f"{USER}\\..\\..\\{c}",
        f"{USER}/a\\b",
        f"{USER}/a\nb",
        f"{USER}/a\rb",
        f"{USER}/a\tb",
        f"{USER}/\x1b[31mred",
        f"{USER}/a\x7fb",
        f"{USER}/a\x85b",
        f"{USER}/a\x01b",
        # very long
        f"{USER}/" + "a" * 5000,
        "../" * 1700 + c,
        f"{USER}/" + "é" * 600,  # 1,206 bytes of UTF-8: over the byte limit
    ]
    return cases


def plain_name(name: str) -> bool:
    """Independent of the server's code: no '..', backslash or control character, however often decoded."""
    for _ in range(4):
        if (".." in name.split("/") or "\\" in name or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name)
                or len(name.encode()) > 1024):
            return False
        name = urllib.parse.unquote(name)
    return True


def expect_refused(env: dict[str, Any], what: str, codes: tuple[int, ...] = (1001, 1002, 1004)) -> None:
    assert env.get("errCode") in codes, f"{what}: expected one of {codes}, got {env}"


async def post(api: Api, canary: Canary, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.raw(path, body)
    canary.check(f"{path} {body!r:.200}", r.content)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    env: dict[str, Any] = r.json()
    return env


async def raw_http(server: ServerApp, method: str, target: bytes, body: bytes = b"",
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request with exactly ``target`` on the request line (no client-side normalisation)."""
    url = httpx.URL(server.api_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = [f"{method} ".encode() + target + b" HTTP/1.1", f"Host: {url.host}:{url.port}".encode(),
            b"Connection: close", f"Content-Length: {len(body)}".encode()]
    head += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, data


def encodings(payload: str) -> list[bytes]:
    """Request-target forms of a payload: encoded keeping '/', all encoded, double-encoded, literal."""
    forms = [urllib.parse.quote(payload, safe="/"), urllib.parse.quote(payload, safe=""),
             urllib.parse.quote(urllib.parse.quote(payload, safe=""), safe=""),
             urllib.parse.quote(payload, safe="/.\\")]
    if all(0x21 <= ord(ch) <= 0x7E for ch in payload):
        forms.append(payload)  # literal dots, slashes, backslashes and percents on the request line
    return list(dict.fromkeys(f.encode() for f in forms))


def signed(core: Any, path: str) -> bytes:
    """A query signed with the server secret for exactly ``path``: proves the path check, not the HMAC."""
    expires = third.now_ms() + 60_000
    return ("?" + urllib.parse.urlencode(third._signed_query(core, path, expires))).encode()


def multipart_form(content: bytes) -> tuple[bytes, str]:
    boundary = "----objtest" + os.urandom(8).hex()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def round_trip(api: Api, data: bytes, name: str) -> None:
    """A real multipart upload with a valid hash, then the download through GET /object/<name>."""
    h = openim_hash(part_md5s(data, PART))
    init = await api.ok("/object/initiate_multipart_upload", {
        "hash": h.upper(), "size": len(data), "partSize": PART, "maxParts": -1, "name": name,
        "contentType": "application/x-test"})
    async with httpx.AsyncClient(timeout=10) as http:
        if init["upload"] is not None:
            for part in init["upload"]["sign"]["parts"]:
                q = {kv["key"]: kv["values"][0] for kv in part["query"]}
                n = part["partNumber"]
                chunk = data[(n - 1) * PART: n * PART]
                r = await http.put(part["url"], params=q, content=chunk)
                assert r.status_code == 200, r.text
            done = await api.ok("/object/complete_multipart_upload", {
                "uploadID": init["upload"]["uploadID"], "parts": part_md5s(data, PART), "name": name})
            url = done["url"]
        else:
            url = init["url"]
        r = await http.get(url, follow_redirects=True)
        assert r.status_code == 200 and r.content == data
        acc = await api.ok("/object/access_url", {"name": name})
        assert (await http.get(acc["url"])).content == data


async def form_round_trip(api: Api, data: bytes, name: str) -> None:
    init = await api.ok("/object/initiate_form_data", {"name": name, "size": len(data)})
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(init["url"], files={"file": ("f", data, "application/octet-stream")})
        assert r.status_code in init["successCodes"], r.text
        done = await api.ok("/object/complete_form_data", {"id": init["id"]})
        assert (await http.get(done["url"], follow_redirects=True)).content == data


def objects_tree(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "objects").rglob("*"))


async def assert_store_clean(server: ServerApp, tmp_path: Path) -> None:
    """Every recorded object has a normalised name and a valid key; every file is a plain file under objects/."""
    assert server.core is not None
    rows = await server.core.storage.run(lambda c: c.execute("SELECT name, hash FROM objects").fetchall())
    for name, key in rows:
        assert third.normalize_name(name) == name, name
        assert third._KEY.fullmatch(key), key
    root = (tmp_path / "objects").resolve()
    for p in objects_tree(tmp_path):
        assert not p.is_symlink(), p
        assert p.resolve().is_relative_to(root), p


# --------------------------------------------------------------------------- the corpus on the API routes


async def test_traversal_corpus_api_routes(server: ServerApp, admin: Api, user: Api, canary: Canary,
                                           tmp_path: Path) -> None:
    cases = corpus(canary, tmp_path)
    ok_name = f"{USER}/ok.bin"

    # an open upload and an open form upload of the attacker's own, to aim the ID/name fields at
    up = await user.ok("/object/initiate_multipart_upload", {
        "hash": VALID_HASH, "size": 10, "partSize": PART, "maxParts": -1, "name": ok_name})
    upload_id = up["upload"]["uploadID"]
    form = await user.ok("/object/initiate_form_data", {"name": f"{USER}/form.bin", "size": 10})

    async def refused(api: Api, path: str, body: dict[str, Any], what: str, codes: tuple[int, ...]) -> None:
        expect_refused(await post(api, canary, path, body), what, codes)

    async def prefixed_name(path: str, body: dict[str, Any]) -> None:
        env = await post(user, canary, path, body)
        if env["errCode"] == 0:  # only when the name is a plain one after the prefix, e.g. "evil1//etc/passwd"
            assert plain_name(body["name"]), (path, body["name"])
        else:
            expect_refused(env, f"{path} name={body['name']!r:.80}", (1001,))

    async def hash_refused(api: Api, payload: str, who: str, n: int) -> None:
        """The storage key: refused, and the object it would have made serves nothing (tried for real)."""
        name = f"{USER}/h{n}-{who}"
        env = await post(api, canary, "/object/initiate_multipart_upload", {
            "hash": payload, "size": 10, "partSize": PART, "maxParts": -1, "name": name})
        r = await api.client.get(f"/object/{name}", follow_redirects=True)
        canary.check(f"GET /object/{name} after hash={payload!r:.80}", r.content)
        assert r.status_code == 404, (payload, r.status_code)
        expect_refused(env, f"{who} hash={payload!r:.80}", (1001,))

    checks: list[Any] = []
    for n, payload in enumerate(cases):
        for who, api in (("user", user), ("admin", admin)):
            p = f"{who} {payload!r:.80}"
            # hash: always 1001, whoever asks
            checks.append(hash_refused(api, payload, who, n))
            # names: the validator (1001), or for the ordinary user maybe the prefix rule first (1002)
            codes = (1001, 1002) if who == "user" else (1001,)
            checks.append(refused(api, "/object/initiate_multipart_upload", {
                "hash": VALID_HASH, "size": 10, "partSize": PART, "maxParts": -1, "name": payload},
                "initiate name " + p, codes))
            checks.append(refused(api, "/object/initiate_form_data", {"name": payload, "size": 10},
                                  "form name " + p, codes))
            checks.append(refused(api, "/object/complete_multipart_upload", {
                "uploadID": upload_id, "parts": [hashlib.md5(b"x").hexdigest()], "name": payload},
                "complete name " + p, codes))
            checks.append(refused(api, "/object/access_url", {"name": payload}, "access_url " + p, (1001, 1004)))
            # IDs
            checks.append(refused(api, "/object/complete_multipart_upload", {
                "uploadID": payload, "parts": [VALID_HASH], "name": ok_name}, "complete uploadID " + p, (1001, 1004)))
            checks.append(refused(api, "/object/auth_sign", {"uploadID": payload, "partNumbers": [1]},
                                  "auth_sign uploadID " + p, (1001, 1004)))
            checks.append(refused(api, "/object/complete_form_data", {"id": payload},
                                  "complete_form_data id " + p, (1001, 1004)))
        # the same names under the user's own prefix must still be refused unless they normalise to a
        # plain name (a leading '/' becomes an ordinary segment after the prefix)
        prefixed = f"{USER}/{payload}"
        checks.append(prefixed_name("/object/initiate_multipart_upload", {
            "hash": VALID_HASH, "size": 10, "partSize": PART, "maxParts": -1, "name": prefixed}))
        checks.append(prefixed_name("/object/initiate_form_data", {"name": prefixed, "size": 10}))
    for i in range(0, len(checks), 64):  # concurrently: each keep-alive REST round trip is slow-ish
        await asyncio.gather(*checks[i:i + 64])

    # part numbers out of range on a real upload
    for numbers in ([0], [-1], [2], [1 << 31], [10**6]):
        env = await post(user, canary, "/object/auth_sign", {"uploadID": upload_id, "partNumbers": numbers})
        expect_refused(env, f"auth_sign partNumbers={numbers}", (1001,))
    # another user's upload and form IDs are not theirs to complete
    await admin.register("other1")
    other = Api(user.client, await admin.user_token("other1"))
    expect_refused(await post(other, canary, "/object/auth_sign", {"uploadID": upload_id, "partNumbers": [1]}),
                   "foreign auth_sign", (1002,))
    expect_refused(await post(other, canary, "/object/complete_form_data", {"id": form["id"]}),
                   "foreign complete_form_data", (1002,))

    # nothing hostile was stored; everything still works
    await assert_store_clean(server, tmp_path)
    assert canary.path.read_bytes() == canary.secret
    await round_trip(user, os.urandom(PART + 1234), f"{USER}/after/multi.bin")
    await round_trip(user, os.urandom(100), f"{USER}/after/small.bin")
    await form_round_trip(user, os.urandom(300), f"{USER}/after/form.bin")
    # names needing URL quoting still round-trip (decoded once, signed on the canonical path)
    await round_trip(user, os.urandom(200), f"{USER}/after/my file 50% #1?é.bin")
    await round_trip(user, os.urandom(201), f"{USER}/after/%41%2e%2e.bin")
    # names are normalised: empty and '.' segments dropped, the same object either way
    data = os.urandom(150)
    await round_trip(user, data, f"{USER}//after/./norm.bin")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{server.api_url}/object/{USER}/after/norm.bin", follow_redirects=True)
        assert r.status_code == 200 and r.content == data
    await assert_store_clean(server, tmp_path)


# --------------------------------------------------------------------------- the corpus on the raw paths


async def test_traversal_corpus_raw_paths(server: ServerApp, admin: Api, user: Api, canary: Canary,
                                          tmp_path: Path) -> None:
    assert server.core is not None
    core = server.core
    cases = corpus(canary, tmp_path)
    # the attacker's own, legitimately signed upload/form URLs, whose query they reuse on other paths
    up = await user.ok("/object/initiate_multipart_upload", {
        "hash": VALID_HASH, "size": 10, "partSize": PART, "maxParts": -1, "name": f"{USER}/ok.bin"})
    upload_id = up["upload"]["uploadID"]
    part_query = "?" + urllib.parse.urlencode({kv["key"]: kv["values"][0]
                                               for kv in up["upload"]["sign"]["parts"][0]["query"]})
    form = await user.ok("/object/initiate_form_data", {"name": f"{USER}/form.bin", "size": 10})
    form_id = form["id"]
    form_query = "?" + form["url"].split("?", 1)[1]
    form_body, form_ctype = multipart_form(b"0123456789")
    seen = 0

    async def expect_4xx(method: str, target: bytes, body: bytes = b"", **headers: str) -> None:
        nonlocal seen
        status, data = await raw_http(server, method, target, body, headers)
        canary.check(f"{method} {target!r:.120}", data)
        assert 400 <= status < 500, f"{method} {target!r:.160} -> {status} {data[:200]!r}"
        seen += 1

    for payload in cases:
        for enc in encodings(payload):
            text = enc.decode()
            # GET/HEAD /object/<x>: no token needed, so the most exposed route
            await expect_4xx("GET", b"/object/" + enc)
            await expect_4xx("HEAD", b"/object/" + enc)
            await expect_4xx("GET", f"/object/{USER}/".encode() + enc)
            # GET /_files/<x>: unsigned, with the attacker's own signature, and signed for that very path
            await expect_4xx("GET", b"/_files/" + enc)
            await expect_4xx("GET", b"/_files/" + enc + part_query.encode())
            await expect_4xx("GET", b"/_files/" + enc + signed(core, "/_files/" + text))
            await expect_4xx("GET", b"/_files/" + enc + signed(core, "/_files/" + urllib.parse.unquote(text)))
            # PUT /_upload/<x>/<n> with the payload as upload ID and as part number
            for target, path in ((f"/_upload/{text}/1", f"/_upload/{urllib.parse.unquote(text)}/1"),
                                 (f"/_upload/{upload_id}/{text}", f"/_upload/{upload_id}/{urllib.parse.unquote(text)}")):
                await expect_4xx("PUT", target.encode(), b"0123456789")
                await expect_4xx("PUT", target.encode() + part_query.encode(), b"0123456789")
                await expect_4xx("PUT", target.encode() + signed(core, path), b"0123456789")
            # POST /_form/<x>
            for q in (b"", form_query.encode(), signed(core, "/_form/" + urllib.parse.unquote(text))):
                await expect_4xx("POST", b"/_form/" + enc + q, form_body, **{"Content-Type": form_ctype})
    # upload IDs/part numbers that are not hex / not positive integers, correctly signed
    for bad_id in ("g" * 32, upload_id.upper(), upload_id[:-1], upload_id + "0", "-1", "0x10"):
        await expect_4xx("PUT", f"/_upload/{bad_id}/1".encode() + signed(core, f"/_upload/{bad_id}/1"), b"x")
        await expect_4xx("POST", f"/_form/{bad_id}".encode() + signed(core, f"/_form/{bad_id}"), form_body,
                         **{"Content-Type": form_ctype})
    for bad_n in ("0", "-1", "01", "1.0", "+1", " 1", "1e3", "9" * 30, "１"):
        t = f"/_upload/{upload_id}/{urllib.parse.quote(bad_n)}"
        await expect_4xx("PUT", t.encode() + signed(core, f"/_upload/{upload_id}/{bad_n}"), b"x")
    assert seen > 1000

    # no part or form file was written by any of that; the canary is untouched
    assert not list((tmp_path / "objects" / "uploads" / upload_id).iterdir())
    assert not (tmp_path / "objects" / "uploads" / f"form-{form_id}").exists()
    assert canary.path.read_bytes() == canary.secret
    assert [p.name for p in tmp_path.parent.iterdir() if p.name.startswith("canary-")].count(canary.path.name) == 1
    await assert_store_clean(server, tmp_path)
    await round_trip(user, os.urandom(PART + 99), f"{USER}/after/raw.bin")
    await form_round_trip(user, os.urandom(77), f"{USER}/after/raw-form.bin")


# --------------------------------------------------------------------------- planted links and bad rows


async def test_symlinks_and_bad_rows_are_refused(server: ServerApp, admin: Api, user: Api, canary: Canary,
                                                 tmp_path: Path) -> None:
    """A symlink inside objects/ (pointing out) or a legacy row with a path as key is never followed."""
    assert server.core is not None
    objects = third.files_dir(server.core)  # created on first use
    assert objects == (tmp_path / "objects").resolve()
    # a blob that is a symlink to the canary, and rows aimed at it and at paths
    link_key = "ab" * 16
    (objects / "blobs" / link_key).symlink_to(canary.path)
    rows = [(f"{USER}/link", link_key), (f"{USER}/abs", str(canary.path)),
            (f"{USER}/rel", "../../../" + canary.path.name), (f"{USER}/db", "../../openim.sqlite3"),
            (f"{USER}/upper", link_key.upper())]
    await server.core.storage.run(lambda c: c.executemany(
        "INSERT INTO objects VALUES (?,?,?,?,?,?)", [(n, k, 10, "", "", 0) for n, k in rows]))
    async with httpx.AsyncClient(timeout=10) as http:
        for name, _ in rows:
            r = await http.get(f"{server.api_url}/object/{name}", follow_redirects=True)
            canary.check(name, r.content)
            assert r.status_code == 404, (name, r.status_code)
            path = "/_files/" + name
            r = await http.get(server.api_url + path + signed(server.core, path).decode())
            canary.check(name, r.content)
            assert r.status_code == 404, (name, r.status_code)
            env = await post(user, canary, "/object/access_url", {"name": name})
            expect_refused(env, f"access_url {name}", (1004,))

    # a "known" hash whose blob is a symlink does not count as stored: the upload has to happen
    env = await post(user, canary, "/object/initiate_multipart_upload", {
        "hash": link_key, "size": 10, "partSize": PART, "maxParts": -1, "name": f"{USER}/claim"})
    assert env["errCode"] == 0 and env["data"]["upload"] is not None

    # write side: an upload dir swapped for a symlink to an outside dir, a part file that is a symlink
    outside = tmp_path.parent / f"outside-{os.urandom(4).hex()}"
    outside.mkdir()
    victim = outside / "1"
    victim.write_bytes(b"victim")
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            up = env["data"]["upload"]
            part = up["sign"]["parts"][0]
            q = {kv["key"]: kv["values"][0] for kv in part["query"]}
            udir = objects / "uploads" / up["uploadID"]
            (udir / "1").symlink_to(victim)
            r = await http.put(part["url"], params=q, content=b"0123456789")
            assert r.status_code == 400 and victim.read_bytes() == b"victim"
            (udir / "1").unlink()
            udir.rmdir()
            udir.symlink_to(outside, target_is_directory=True)
            r = await http.put(part["url"], params=q, content=b"0123456789")
            assert r.status_code == 400
            assert sorted(p.name for p in outside.iterdir()) == ["1"] and victim.read_bytes() == b"victim"
            env = await post(user, canary, "/object/complete_multipart_upload", {
                "uploadID": up["uploadID"], "parts": [hashlib.md5(b"0123456789").hexdigest()],
                "name": f"{USER}/claim"})
            assert env["errCode"] != 0
            assert victim.read_bytes() == b"victim"
    finally:
        for p in outside.iterdir():
            p.unlink()
        outside.rmdir()


# --------------------------------------------------------------------------- file modes


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(os.lstat(p).st_mode) for p in [root, *root.rglob("*")]}


@pytest.fixture
def umask0() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
async def loose_server(tmp_path: Path, umask0: None) -> AsyncIterator[ServerApp]:
    """A server started and run under umask 000, over an objects dir an older version left 0755."""
    (tmp_path / "objects" / "blobs").mkdir(parents=True, mode=0o755)
    os.chmod(tmp_path / "objects", 0o755)
    async with ServerApp(server_config(tmp_path)) as srv:
        yield srv


async def test_object_file_modes_with_umask_000(loose_server: ServerApp, tmp_path: Path) -> None:
    assert os.umask(0) == 0  # still 000 while the server lives
    async with httpx.AsyncClient(base_url=loose_server.api_url, timeout=10) as http:
        admin = Api(http)
        admin.token = (await admin.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
        await admin.register(USER)
        api = Api(http, await admin.user_token(USER))
        await round_trip(api, os.urandom(PART + 10), f"{USER}/m/multi.bin")  # parts, temp file, blob
        await form_round_trip(api, os.urandom(50), f"{USER}/m/form.bin")    # form file, blob
        # an unfinished upload leaves its part dir and one part on disk
        data = os.urandom(PART + 5)
        init = await api.ok("/object/initiate_multipart_upload", {
            "hash": openim_hash(part_md5s(data, PART)), "size": len(data), "partSize": PART, "maxParts": -1,
            "name": f"{USER}/m/partial.bin"})
        part = init["upload"]["sign"]["parts"][0]
        r = await http.put(part["url"], params={kv["key"]: kv["values"][0] for kv in part["query"]},
                           content=data[:PART])
        assert r.status_code == 200
        # an unfinished form upload leaves its file
        form = await api.ok("/object/initiate_form_data", {"name": f"{USER}/m/f2.bin", "size": 3})
        assert (await http.post(form["url"], files={"file": ("f", b"abc")})).status_code in form["successCodes"]

    root = tmp_path / "objects"
    modes = _modes(root)
    dirs = {k: v for k, v in modes.items() if (root / k).is_dir()}
    files = {k: v for k, v in modes.items() if not (root / k).is_dir()}
    assert set(dirs) >= {".", "blobs", "uploads", f"uploads/{init['upload']['uploadID']}"}
    assert len([k for k in files if k.startswith("blobs/")]) == 2
    assert f"uploads/{init['upload']['uploadID']}/1" in files and f"uploads/form-{form['id']}" in files
    assert all(v == 0o700 for v in dirs.values()), dirs
    assert all(v == 0o600 for v in files.values()), files
    assert not any(".tmp" in k for k in files), files


async def test_uploads_stream_to_disk_in_any_field_order(server: ServerApp, user: Api, tmp_path: Path) -> None:
    """A form whose file field comes after other fields and spans many read chunks arrives intact; a
    multipart part larger than its slot is refused (413) and leaves no file behind."""
    data = os.urandom(3 * (1 << 20) + 17)
    name = f"{USER}/streamed.bin"
    init = await user.ok("/object/initiate_form_data", {"name": name, "size": len(data)})
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(init["url"], data={"note": "x" * 5000, "key": init["id"]},
                            files={"file": ("f", data, "application/octet-stream")})
        assert r.status_code in init["successCodes"], r.text
        done = await user.ok("/object/complete_form_data", {"id": init["id"]})
        got = (await http.get(done["url"], follow_redirects=True)).content
        assert hashlib.md5(got).hexdigest() == hashlib.md5(data).hexdigest()
        part = b"y" * 10
        whole = hashlib.md5(",".join([hashlib.md5(part).hexdigest()]).encode()).hexdigest()
        up = await user.ok("/object/initiate_multipart_upload", {
            "hash": whole, "size": 10, "partSize": PART, "maxParts": -1, "name": f"{USER}/p.bin"})
        sign = up["upload"]["sign"]["parts"][0]
        query = {q["key"]: q["values"][0] for q in sign["query"]}
        r = await http.put(sign["url"], params=query, content=part + b"extra")
        assert r.status_code == 413, r.text
    leftovers = [p for p in (tmp_path / "objects" / "uploads").rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
