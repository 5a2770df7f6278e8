"""Bundled OpenIM v3.8 reference server (REST :10002 + WebSocket gateway :10001).

In-process use: ``async with ServerApp(ServerConfig(api_port=0, ws_port=0, data_path=...)) as srv``.
"""

from .app import ServerApp, ServerCore
from .config import ServerConfig, load_config

__all__ = ["ServerApp", "ServerConfig", "ServerCore", "load_config"]
