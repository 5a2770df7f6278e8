"""Webhook settings, shaped as upstream's ``config/webhooks.yml`` (open-im-server v3.8).

TOML form (``--config PATH``)::

    [webhooks]
    url = "http://127.0.0.1:10006/callbackExample"

    [webhooks.beforeSendSingleMsg]
    enable = true
    timeout = 5            # seconds
    failedContinue = true  # before-callbacks only
    deniedTypes = [110]    # message callbacks only

    [webhooks.afterSendGroupMsg]
    enable = true
    attentionIds = ["group1"]

Keys are upstream's (camelCase); snake_case spellings are accepted too. Unknown callback names
are refused at start-up, so a typo never silently disables a hook. See docs/server-webhooks.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ``before…`` callbacks (upstream ``config.BeforeConfig``): synchronous, may refuse or modify.
BEFORE_CALLBACKS: tuple[str, ...] = (
    "beforeSendSingleMsg", "beforeUpdateUserInfoEx", "beforeSendGroupMsg", "beforeMsgModify",
    "beforeOfflinePush", "beforeOnlinePush", "beforeGroupOnlinePush", "beforeAddFriend",
    "beforeUpdateUserInfo", "beforeCreateGroup", "beforeMemberJoinGroup", "beforeSetGroupMemberInfo",
    "beforeApplyJoinGroup", "beforeUserRegister", "beforeSetFriendRemark", "beforeInviteUserToGroup",
    "beforeSetGroupInfo", "beforeSetGroupInfoEx", "beforeAddBlack", "beforeAddFriendAgree",
    "beforeImportFriends", "beforeCreateSingleChatConversations", "beforeCreateGroupChatConversations",
)

#: ``after…`` callbacks (upstream ``config.AfterConfig``): queued, fire-and-forget.
AFTER_CALLBACKS: tuple[str, ...] = (
    "afterUpdateUserInfoEx", "afterSendSingleMsg", "afterSendGroupMsg", "afterMsgSaveDB",
    "afterUserOnline", "afterUserOffline", "afterUserKickOff", "afterUpdateUserInfo", "afterCreateGroup",
    "afterSetGroupMemberInfo", "afterQuitGroup", "afterKickGroupMember", "afterDismissGroup",
    "afterGroupMsgRead", "afterSingleMsgRead", "afterUserRegister", "afterTransferGroupOwner",
    "afterSetFriendRemark", "afterGroupMsgRevoke", "afterJoinGroup", "afterSetGroupInfo",
    "afterSetGroupInfoEx", "afterRevokeMsg", "afterAddFriend", "afterAddFriendAgree", "afterDeleteFriend",
    "afterImportFriends", "afterRemoveBlack", "afterCreateSingleChatConversations",
    "afterCreateGroupChatConversations",
)

DEFAULT_TIMEOUT = 5


@dataclass(frozen=True)
class CallbackConfig:
    """One callback's settings. ``failed_continue`` only matters for before-callbacks,
    ``attention_ids`` only for afterSendSingleMsg/afterSendGroupMsg/afterMsgSaveDB."""

    enable: bool = False
    timeout: float = DEFAULT_TIMEOUT
    failed_continue: bool = True
    denied_types: tuple[int, ...] = ()
    attention_ids: tuple[str, ...] = ()


_OFF = CallbackConfig()


@dataclass(frozen=True)
class WebhooksConfig:
    url: str = ""
    callbacks: dict[str, CallbackConfig] = field(default_factory=dict)

    def get(self, name: str) -> CallbackConfig:
        """Settings of ``name``; a disabled default when not configured or when there is no URL."""
        if not self.url:
            return _OFF
        return self.callbacks.get(name, _OFF)

    def enabled(self, name: str) -> bool:
        return self.get(name).enable

    @property
    def any_enabled(self) -> bool:
        return bool(self.url) and any(c.enable for c in self.callbacks.values())


_KEYS = {"enable": "enable", "timeout": "timeout", "failedcontinue": "failed_continue",
         "failed_continue": "failed_continue", "deniedtypes": "denied_types", "denied_types": "denied_types",
         "attentionids": "attention_ids", "attention_ids": "attention_ids"}


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def parse_webhooks(raw: dict[str, Any] | None) -> WebhooksConfig:
    """Build the settings from a ``[webhooks]`` TOML table; SystemExit on unknown names/bad values."""
    if not raw:
        return WebhooksConfig()
    known = {n.lower(): n for n in BEFORE_CALLBACKS + AFTER_CALLBACKS}
    url = ""
    callbacks: dict[str, CallbackConfig] = {}
    for key, value in raw.items():
        if key == "url":
            url = str(value or "")
            continue
        name = known.get(_snake_to_camel(key).lower())
        if name is None or not isinstance(value, dict):
            raise SystemExit(f"webhooks: unknown callback or key {key!r} (names as in upstream webhooks.yml)")
        callbacks[name] = _one(name, value)
    return WebhooksConfig(url=url.rstrip("/"), callbacks=callbacks)


def _one(name: str, raw: dict[str, Any]) -> CallbackConfig:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        attr = _KEYS.get(key.lower())
        if attr is None:
            raise SystemExit(f"webhooks.{name}: unknown key {key!r}")
        try:
            if attr in ("enable", "failed_continue"):
                if value is not None and not isinstance(value, bool):
                    raise ValueError(value)
                out[attr] = bool(value)  # an empty yml value (``failedContinue:``) means false upstream
            elif attr == "timeout":
                out[attr] = float(value) if value else DEFAULT_TIMEOUT
            elif attr == "denied_types":
                out[attr] = tuple(int(v) for v in value or ())
            else:
                out[attr] = tuple(str(v) for v in value or ())
        except (TypeError, ValueError):
            raise SystemExit(f"webhooks.{name}.{key}: bad value {value!r}") from None
    return CallbackConfig(**out)
