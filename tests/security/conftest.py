"""Security tests run against the real bundled server: the integration fixtures, shared."""

from tests.integration.conftest import (  # noqa: F401  (pytest fixtures)
    Api,
    WsClient,
    admin,
    http,
    op_id,
    server,
    server_config,
    ws_url,
)
