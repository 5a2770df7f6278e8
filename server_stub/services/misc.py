"""/config/* and /restart for a deployment without etcd (spec rest-api §13); Prometheus discovery."""

from __future__ import annotations

import json
from typing import Any

from openim_sdk.protocol.errors import ArgsError, ServerInternalError

from ..context import RawData, RequestContext, raw_route, service

CONFIG_NAMES = ("share.yml", "openim-api.yml", "openim-msggateway.yml", "openim-rpc-third.yml", "notification.yml")
VERSION = "v3.8.3"
#: ``GET /prometheus_discovery/<name>``: the targets of each component; none without Prometheus.
DISCOVERY_NAMES = ("api", "user", "group", "msg", "friend", "conversation", "third", "auth", "push", "msg_gateway",
                   "msg_transfer")


def _configs(ctx: RequestContext) -> dict[str, dict[str, Any]]:
    c = ctx.core.config
    extra = c.extra
    return {
        "share.yml": {"imAdminUserID": list(c.admin_user_ids), "multiLogin": {"policy": c.multi_login_policy,
                                                                             "maxNumOneEnd": c.max_num_one_end},
                      "secret": "******"},
        "openim-api.yml": {"api": {"listenIP": c.host, "ports": [c.api_port]},
                           "prometheus": {"enable": False, "grafanaURL": extra.get("grafana_url", "")}},
        "openim-msggateway.yml": {"longConnSvr": {"ports": [c.ws_port], "websocketMaxConnNum": c.ws_max_conn,
                                                  "websocketMaxMsgLen": c.ws_max_frame,
                                                  "websocketTimeout": int(c.ws_read_timeout)}},
        "openim-rpc-third.yml": {"object": {"enable": "local", "minPartSize": extra.get("min_part_size", 5 << 20)}},
        "notification.yml": {"friendVerify": bool(extra.get("friend_verify", False)),
                             "reliabilityLevel": 2 if extra.get("notifications_stored") else 1},
    }


def _bind_admin(ctx: RequestContext) -> None:
    ctx.require_admin()  # gin_bindjson routes: the dispatcher leaves the admin check to the handler


@service("/config/get_config_list")
async def get_config_list(ctx: RequestContext, req: Any) -> Any:
    return RawData({"environment": "standalone", "version": VERSION, "configNames": list(CONFIG_NAMES)})


@service("/config/get_config")
async def get_config(ctx: RequestContext, body: dict[str, Any]) -> Any:
    _bind_admin(ctx)
    name = body.get("configName")
    if not isinstance(name, str) or not name:
        from ..rest import bind_error

        raise bind_error("Key: 'GetConfigReq.ConfigName' Error:Field validation for 'ConfigName' failed on the "
                         "'required' tag")
    cfg = _configs(ctx).get(name)
    if cfg is None:
        raise ArgsError(detail=f"config name {name} not found")
    return RawData(json.dumps(cfg, separators=(",", ":")))


@service("/config/set_config")
async def set_config(ctx: RequestContext, body: dict[str, Any]) -> Any:
    _bind_admin(ctx)
    raise ServerInternalError(detail="only etcd support set config")


@service("/config/set_enable_config_manager")
async def set_enable(ctx: RequestContext, body: dict[str, Any]) -> Any:
    _bind_admin(ctx)
    raise ServerInternalError(detail="only etcd support config manager")


@service("/config/get_enable_config_manager")
async def get_enable(ctx: RequestContext, req: Any) -> Any:
    return RawData({"enable": False})


@service("/config/reset_config")
async def reset_config(ctx: RequestContext, req: Any) -> Any:
    return None  # accepted; nothing to reload without etcd


@service("/restart")
async def restart(ctx: RequestContext, req: Any) -> Any:
    return None  # accepted at once like the real server; a standalone process is restarted by its supervisor


@raw_route(*(("GET", f"/prometheus_discovery/{n}") for n in DISCOVERY_NAMES))
async def prometheus_discovery(core: Any, request: Any) -> Any:
    if request.method != "GET" or not request.url.path.startswith("/prometheus_discovery/"):
        return None
    from starlette.responses import Response

    from ..rest import CORS_HEADERS

    return Response(b"[]", headers=CORS_HEADERS, media_type="application/json")
