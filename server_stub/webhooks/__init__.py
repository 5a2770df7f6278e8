"""OpenIM webhooks (upstream ``config/webhooks.yml``, ``pkg/callbackstruct``, ``pkg/common/webhook``)."""

from .client import WebhookClient, WebhookRefused
from .config import AFTER_CALLBACKS, BEFORE_CALLBACKS, CallbackConfig, WebhooksConfig, parse_webhooks
from .hooks import Webhooks

__all__ = ["AFTER_CALLBACKS", "BEFORE_CALLBACKS", "CallbackConfig", "WebhookClient", "WebhookRefused",
           "Webhooks", "WebhooksConfig", "parse_webhooks"]
