"""``RestClient``: every OpenIM REST route as a typed async method, grouped by module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..protocol import routes as _routes
from ..protocol.constants import Platform
from ..protocol.errors import TokenMalformedError
from . import _generated as g
from ._transport import Transport

if TYPE_CHECKING:  # httpx and jwt load on first use (a CLI send needs neither)
    import httpx

    from ..protocol.routes import Route


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of an OpenIM token (``UserID``, ``PlatformID``, ``exp``, ``iat``)."""

    user_id: str
    platform_id: int
    expires_at: int
    issued_at: int


def parse_token_claims(token: str) -> TokenClaims:
    """Read a token's claims locally, without a call and without checking the signature."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
        return TokenClaims(
            user_id=str(claims["UserID"]),
            platform_id=int(claims["PlatformID"]),
            expires_at=int(claims.get("exp", 0)),
            issued_at=int(claims.get("iat", 0)),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise TokenMalformedError(message="TokenMalformedError", detail=str(exc)) from exc


class RestClient:
    """An async client for OpenIM's REST API over one pooled ``httpx.AsyncClient``.

    ::

        async with RestClient("http://127.0.0.1:10002", token) as api:
            users = await api.user.get_users_info(user_ids=["u1"])

    Each route is a method of its module group (``api.user``, ``api.friend``, ``api.group``,
    ``api.auth``, ``api.msg``, ``api.conversation``, ``api.third``, ``api.object``,
    ``api.statistics``, ``api.jssdk``, ``api.discovery``, ``api.config``); ``call`` reaches any
    route by path.
    """

    user: g.UserAPI
    friend: g.FriendAPI
    group: g.GroupAPI
    auth: g.AuthAPI
    third: g.ThirdAPI
    object: g.ObjectAPI
    msg: g.MsgAPI
    conversation: g.ConversationAPI
    statistics: g.StatisticsAPI
    jssdk: g.JssdkAPI
    discovery: g.DiscoveryAPI
    config: g.ConfigAPI

    def __init__(
        self,
        api_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._transport = Transport(api_url, token, timeout=timeout, retries=retries, http=http)
        for name, cls in g.GROUPS.items():
            setattr(self, name, cls(self._transport))

    @property
    def api_url(self) -> str:
        return self._transport.api_url

    @property
    def token(self) -> str | None:
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.token = value

    async def call(
        self, path: str, body: Mapping[str, Any] | None = None, *, operation_id: str | None = None
    ) -> Any:
        """Call any route by path with a Go-style JSON body (``"/user/get_users_info"``)."""
        route: Route | None = _routes.ROUTES_BY_PATH.get(path)
        if route is None:
            raise KeyError(f"unknown OpenIM route {path!r}")
        return await self._transport.call(route, body, operation_id=operation_id)

    # -- tokens -------------------------------------------------------------------------

    @classmethod
    async def admin(
        cls, api_url: str, secret: str = "openIM123", admin_user_id: str = "imAdmin", **kwargs: Any
    ) -> RestClient:
        """A client holding a fresh admin token (``/auth/get_admin_token``)."""
        client = cls(api_url, **kwargs)
        try:
            resp = await client.auth.get_admin_token(secret=secret, user_id=admin_user_id)
        except BaseException:
            await client.aclose()
            raise
        client.token = resp.token
        return client

    async def mint_user_token(self, user_id: str, platform_id: int = Platform.LINUX) -> str:
        """Mint a user token with this (admin) client (``/auth/get_user_token``)."""
        resp = await self.auth.get_user_token(user_id=user_id, platform_id=int(platform_id))
        return str(resp.token)

    def claims(self) -> TokenClaims:
        """The claims of this client's token, read locally."""
        if not self.token:
            raise TokenMalformedError(message="TokenMalformedError", detail="no token set")
        return parse_token_claims(self.token)

    # -- lifecycle ----------------------------------------------------------------------

    @staticmethod
    def load() -> None:
        """Import what the calls need (httpx, the route table), which is otherwise done at the first
        call: a session that calls REST at once loads it when it is made, not while it connects.
        Blocking (~20-40 ms the first time), then free."""
        import httpx  # noqa: F401

        _routes.route("/user/get_users_info")

    def prepare(self) -> None:
        """Make the pooled HTTP client now (it is otherwise made at the first call). Blocking --
        loading the CA bundle takes ~30 ms --, so call it in a thread (``asyncio.to_thread``) to
        keep that off the event loop; :class:`~openim_sdk.client.OpenIMClient` does at start."""
        self._transport.http  # noqa: B018 (the property makes it)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
