"""Widgets of the chat app."""

from .composer import Composer
from .conversation_list import ConversationList
from .message_log import MessageLog
from .status_bar import StatusBar

__all__ = ["Composer", "ConversationList", "MessageLog", "StatusBar"]
