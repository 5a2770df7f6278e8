"""JWT tokens (HS256, Go claim names) and the per-(user, platform) token state table.

Each token carries a random ``jti`` (a registered JWT claim; clients treat the token as opaque and
the Go verifier's claims embed ``RegisteredClaims``), so two tokens minted for the same user and
platform within one second differ, and re-minting can never bring a kicked token's row back.
The state table holds only each token's SHA-256 (repos/tokens.py).
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from openim_sdk.protocol.constants import MultiLoginPolicy, PlatformClass, platform_class
from openim_sdk.protocol.errors import (
    ArgsError,
    TokenExpiredError,
    TokenKickedError,
    TokenMalformedError,
    TokenNotExistError,
    TokenNotValidYetError,
    TokenUnknownError,
)

from .config import ServerConfig
from .repos.tokens import TokenRow, TokenStore, hash_token

ADMIN_PLATFORM = 10
warnings.filterwarnings("ignore", message="The HMAC key is ")
STATE_NORMAL, STATE_KICKED, STATE_TEMP = 0, 2, 4
ADMIN_TOKEN_GRACE = 300  # seconds an older admin token keeps working (spec rest-api §6.3)


@dataclass(frozen=True)
class Claims:
    user_id: str
    platform_id: int
    exp: int
    token: str


def _int_claim(claims: dict[str, Any], name: str) -> int:
    try:
        return int(claims[name])
    except (TypeError, ValueError):
        raise jwt.DecodeError(f"The {name} claim must be an integer.") from None


def _class(pid: int) -> PlatformClass | None:
    try:
        return platform_class(pid)
    except KeyError:
        return None


class TokenManager:
    def __init__(self, config: ServerConfig, storage: TokenStore, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock  # seconds: minting, expiry (exp/nbf), admin grace; tests pass one they move

    @property
    def expire_seconds(self) -> int:
        if self.config.test_token_expire_seconds > 0:  # test-only override (config.py)
            return self.config.test_token_expire_seconds
        return self.config.token_expire_days * 86400

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.config.admin_user_ids

    def sign(self, user_id: str, platform_id: int, now: float | None = None) -> tuple[str, int]:
        now = self.clock() if now is None else now
        exp = int(now) + self.expire_seconds
        claims = {"UserID": user_id, "PlatformID": platform_id, "exp": exp, "iat": int(now) - 5,
                  "jti": secrets.token_hex(16)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jwt.encode(claims, self.config.secret, algorithm="HS256"), exp

    def decode_jwt(self, token: str) -> Claims:
        """Signature and time checks only (1501/1503/1504/1505)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                claims = self._decode(token)
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError(detail="token is expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenNotValidYetError(detail="token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise TokenUnknownError(message="signature is invalid") from None
        except jwt.DecodeError as exc:
            raise TokenMalformedError(detail=str(exc)) from None
        except jwt.InvalidTokenError as exc:
            raise TokenUnknownError(message=str(exc) or "TokenUnknownError") from None
        return self._claims(claims, token)

    def _decode(self, token: str) -> dict[str, Any]:
        """Signature by PyJWT; ``exp``/``nbf`` against :attr:`clock` (PyJWT's rules: expired when
        ``exp <= now``, not yet valid when ``nbf > now``), so tests move time instead of sleeping."""
        claims: dict[str, Any] = jwt.decode(
            token, self.config.secret, algorithms=["HS256"],
            options={"require": ["exp"], "verify_iat": False, "verify_exp": False, "verify_nbf": False})
        now = self.clock()
        if _int_claim(claims, "exp") <= now:
            raise jwt.ExpiredSignatureError("Signature has expired")
        if "nbf" in claims and _int_claim(claims, "nbf") > now:
            raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        return claims

    @staticmethod
    def _claims(claims: dict[str, Any], token: str) -> Claims:
        user_id, pid = claims.get("UserID"), claims.get("PlatformID")
        if not isinstance(user_id, str) or not isinstance(pid, int) or isinstance(pid, bool):
            raise TokenUnknownError(message="token claims are invalid")
        return Claims(user_id, pid, int(claims["exp"]), token)

    async def parse(self, token: str) -> Claims:
        """Full validation as the auth RPC ``parseToken`` (spec rest-api §6.4)."""
        claims = self.decode_jwt(token)
        row = await self.storage.get_token(claims.user_id, claims.platform_id, hash_token(token))
        if row is None:
            raise TokenNotExistError(detail="token not exist")
        if row.state == STATE_NORMAL:
            return claims
        if row.state == STATE_KICKED:
            raise TokenKickedError(detail="token kicked")
        if row.state == STATE_TEMP:
            if row.temp_until >= self.clock():
                return claims
            raise TokenNotExistError(detail="token not exist")
        raise TokenUnknownError(detail=f"token state {row.state}")

    async def issue(self, user_id: str, platform_id: int) -> tuple[str, int]:
        """Mint a token, applying the multi-login policy to the older ones (controller/auth.go)."""
        now = self.clock()
        token, exp = self.sign(user_id, platform_id, now)
        rows = await self.storage.token_rows(user_id)
        delete: list[str] = []
        live: list[TokenRow] = []
        temp: dict[str, int] = {}
        for r in rows:
            if r.state == STATE_TEMP and r.temp_until >= now:
                continue
            if r.state != STATE_NORMAL or r.exp < now:
                delete.append(r.token_hash)
            else:
                live.append(r)
        kick: list[str] = []
        if self.is_admin(user_id):
            for r in live:
                if r.platform_id == platform_id:
                    temp[r.token_hash] = int(now) + ADMIN_TOKEN_GRACE
        else:
            kick = self._kicked_by_policy(live, platform_id)
        row = TokenRow(user_id, platform_id, hash_token(token), STATE_NORMAL, exp, int(now * 1000), 0)
        await self.storage.apply_token_changes(user_id, row, kick=kick, delete=delete, temp=temp)
        return token, exp

    def _kicked_by_policy(self, live: list[TokenRow], platform_id: int) -> list[str]:
        policy = self.config.multi_login_policy
        by_platform: dict[int, list[TokenRow]] = {}
        for r in live:
            by_platform.setdefault(r.platform_id, []).append(r)  # rows are oldest first
        kick: list[str] = []
        if policy == MultiLoginPolicy.DEFAULT_NOT_KICK:
            same = by_platform.get(platform_id, [])
            excess = len(same) + 1 - self.config.max_num_one_end
            kick = [r.token_hash for r in same[:max(excess, 0)]]
        elif policy == MultiLoginPolicy.ALL_LOGIN_BUT_SAME_TERM_KICK:
            for pid, toks in by_platform.items():
                keep = 0 if pid == platform_id else 1
                kick.extend(r.token_hash for r in toks[:len(toks) - keep])
        elif policy == MultiLoginPolicy.ALL_LOGIN_BUT_SAME_CLASS_KICK:
            # controller/auth.go checkToken: the new token's class loses every token; every other
            # class keeps one token, the newest of one platform (Go picks by map order; we keep
            # the platform used last), and loses the rest
            cls = _class(platform_id)
            reserved: set[PlatformClass | None] = set()
            for pid, toks in sorted(by_platform.items(), key=lambda kv: -kv[1][-1].created):
                keep = 0 if _class(pid) == cls or _class(pid) in reserved else 1
                reserved.add(_class(pid))
                kick.extend(r.token_hash for r in toks[:len(toks) - keep])
        elif policy == MultiLoginPolicy.PC_AND_OTHER:
            # a non-PC login kicks every non-PC token; a PC login keeps every PC token and one
            # non-PC token: Android's newest if there is one, else the newest of the platform used last
            others = {pid: toks for pid, toks in by_platform.items() if _class(pid) != PlatformClass.PC}
            keep_pid = None
            if _class(platform_id) == PlatformClass.PC and others:
                keep_pid = 2 if 2 in others else max(others, key=lambda p: others[p][-1].created)
            for pid, toks in others.items():
                keep = 1 if pid == keep_pid else 0
                kick.extend(r.token_hash for r in toks[:len(toks) - keep])
        return kick

    async def force_logout(self, user_id: str, platform_id: int) -> None:
        await self.storage.kick_platform_tokens(user_id, platform_id)

    async def kick_tokens(self, user_id: str, tokens: list[str]) -> None:
        """``KickTokens``: mark exactly these tokens kicked (multi-login policy 4 at connect)."""
        await self.storage.apply_token_changes(user_id, None, kick=[hash_token(t) for t in tokens])

    async def invalidate_others(self, user_id: str, platform_id: int, preserve: str) -> None:
        await self.storage.kick_platform_tokens(user_id, platform_id, hash_token(preserve))


def require_token_header(token: str | None) -> str:
    if not token:
        raise ArgsError(detail="header must have token")
    return token
