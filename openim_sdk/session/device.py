"""The session's device-level operations (the official core's ``Logout``, ``SetAppBackgroundStatus``,
``UpdateFcmToken``, ``SetAppBadge``, ``UploadLogs``, ``GetLoginStatus``, ``GetSdkVersion``,
``NetworkStatusChanged``), over one :class:`SessionContext` and the long connection.

- ``logout`` sends WS 2003 (``push.DelUserPushTokenReq``: the server deletes this platform's
  offline-push token, answers and closes the socket), then ends the session. As upstream, the
  token itself stays valid: OpenIM has no "logout self" REST route, only the admin
  ``/auth/force_logout`` kicks a token.
- ``set_app_background_status`` sends WS 2004 when connected (the server then stops pushing to an
  iOS connection) and remembers the flag for the next handshake. Upstream also wakes its sync on
  return to the foreground; we need not: the server keeps pushing to every platform but iOS, which
  this client refuses.
- ``upload_logs`` follows upstream's flow: zip the log files (or the last ``line`` lines of the
  newest), upload the zip through the object routes (cause ``sdklog``), then register its URL
  with ``/third/logs/upload``.
"""

from __future__ import annotations

import io
import logging
import os
import platform
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Protocol

from ..events import ConnectionState
from ..protocol.constants import ReqIdentifier
from ..protocol.errors import LocalError
from ..protocol.pb.sdkws import sdkws_pb2
from ..rest.files import Progress, upload_file
from .connection_state import SessionState
from .context import SessionContext

__all__ = ["SDK_VERSION", "Device", "LoginStatus", "login_status_of"]

log = logging.getLogger(__name__)

SDK_VERSION = "0.1.0"  # kept equal to openim_sdk.__version__ (a test checks)

_PLATFORM_NAMES = {1: "IOS", 2: "Android", 3: "Windows", 4: "OSX", 5: "Web", 6: "MiniWebApp", 7: "Linux",
                   8: "AndroidPad", 9: "IPad", 10: "Admin", 11: "HarmonyOS"}


class LoginStatus(IntEnum):
    """The official core's login states (open_im_sdk/userRelated.go: ``LogoutStatus = iota + 1``)."""

    LOGGED_OUT = 1
    LOGGING = 2
    LOGGED = 3


def login_status_of(started: bool, session: SessionState) -> LoginStatus:
    """Not started or ended: logged out; started and not yet past the first connect: logging in."""
    if not started or session.ended:
        return LoginStatus.LOGGED_OUT
    if session.state == ConnectionState.CONNECTING:
        return LoginStatus.LOGGING
    return LoginStatus.LOGGED


class _Connection(Protocol):
    """What the device part needs of the long connection."""

    platform_id: int
    is_background: bool

    @property
    def connected(self) -> bool: ...

    async def logout(self, timeout: float | None = None) -> None: ...

    async def request(self, req_identifier: int, data: bytes = b"", timeout: float | None = None, *,
                      operation_id: str | None = None) -> object: ...

    def reconnect_now(self) -> None: ...


class Device:
    """Logout, background status, push token, badge, log upload, login status, network change."""

    def __init__(
        self,
        ctx: SessionContext,
        ws: _Connection,
        *,
        end_session: Callable[[], Awaitable[None]],
        login_status: Callable[[], LoginStatus],
        log_dir: Path | None = None,
    ) -> None:
        self._ctx = ctx
        self._ws = ws
        self._end_session = end_session
        self._login_status = login_status
        self.log_dir = log_dir

    # -- session ---------------------------------------------------------------------------

    async def logout(self, timeout: float | None = 20.0) -> None:
        """Send the logout request (2003; the server drops this platform's push token and closes),
        then end the session (:class:`SessionEnded`, state ``stopped``). The token stays valid."""
        await self._ws.logout(timeout)
        await self._end_session()

    def login_status(self) -> LoginStatus:
        return self._login_status()

    @staticmethod
    def sdk_version() -> str:
        return SDK_VERSION

    def network_status_changed(self) -> None:
        """The network changed: drop the current socket (if any) and reconnect at once, skipping
        the backoff wait (upstream closes the connection so that its loop dials again)."""
        self._ws.reconnect_now()

    async def set_app_background_status(self, is_background: bool) -> None:
        """Tell the server the app went to the background (or came back). Offline, the flag is
        only remembered for the next handshake, as upstream."""
        if self._ws.connected:
            body = sdkws_pb2.SetAppBackgroundStatusReq(userID=self._ctx.user_id, isBackground=is_background)
            await self._ws.request(ReqIdentifier.SET_BACKGROUND_STATUS, body.SerializeToString())
        self._ws.is_background = is_background

    # -- third-party values ----------------------------------------------------------------

    async def update_fcm_token(self, token: str, expire_time: int = 0) -> None:
        """Store this platform's offline-push (FCM) token on the server (``/third/fcm_update_token``)."""
        await self._ctx.rest.third.fcm_update_token(platform_id=self._ws.platform_id, fcm_token=token,
                                                     account=self._ctx.user_id, expire_time=expire_time)

    async def set_app_badge(self, unread_count: int) -> None:
        """The app icon's unread badge, for the server's offline pushes (``/third/set_app_badge``)."""
        await self._ctx.rest.third.set_app_badge(user_id=self._ctx.user_id, app_unread_count=unread_count)

    # -- logs ------------------------------------------------------------------------------

    async def upload_logs(
        self,
        paths: Sequence[str | os.PathLike[str]] | None = None,
        *,
        line: int = 0,
        ex: str = "",
        progress: Progress | None = None,
    ) -> str:
        """Zip log files, upload the zip and register it (``/third/logs/upload``); returns its URL.

        ``paths`` defaults to the files in ``log_dir``. ``line=0`` sends them all; ``line=n`` only
        the last ``n`` lines of the newest one, as the official ``UploadLogs``."""
        if line < 0:
            raise LocalError(message="line is illegal", detail=str(line))
        files = [Path(p) for p in paths] if paths is not None else self._default_logs()
        files = [f for f in files if f.is_file()]
        if not files:
            raise LocalError(message="not found log file", detail=str(self.log_dir or ""))
        data = await self._ctx.run(_zip_logs, files, line)
        ms = self._ctx.now_ms()
        zip_name = f"{ms}.zip"
        platform_name = _PLATFORM_NAMES.get(self._ws.platform_id, str(self._ws.platform_id))
        name = f"{self._ctx.user_id}/sdk_log_{self._ctx.user_id}_python_{platform_name}_{SDK_VERSION}_{zip_name}"
        state = await upload_file(self._ctx.rest, data, name, content_type="application/zip", cause="sdklog",
                                  progress=progress)
        await self._ctx.rest.third.logs_upload(
            platform=self._ws.platform_id, file_urls=[{"filename": zip_name, "URL": state.url}],
            app_framework=f"python-{platform.python_version()}", version=SDK_VERSION, ex=ex)
        return state.url

    def _default_logs(self) -> list[Path]:
        if self.log_dir is None or not self.log_dir.is_dir():
            return []
        return sorted(p for p in self.log_dir.iterdir() if p.is_file() and p.suffix != ".zip")


def _zip_logs(files: list[Path], line: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if line == 0:
            for f in files:
                z.write(f, f.name)
        else:
            newest = max(files, key=lambda f: f.stat().st_mtime)
            tail = newest.read_text(errors="replace").splitlines()[-line:]
            z.writestr(f"{newest.stem}_temp{newest.suffix}", "\n".join(tail))
    return buf.getvalue()
