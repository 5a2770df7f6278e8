"""Widgets of the chat app, one job each."""

from .chat_header import ChatTitle, ReplyBar, TypingLine
from .compose_box import ComposeBox
from .composer import Composer
from .conversation_list import ConversationList
from .members_panel import MembersPanel
from .message_log import MessageLog
from .message_view import MessageView
from .picture_preview import PicturePreview
from .status_bar import StatusBar

__all__ = ["ChatTitle", "ComposeBox", "Composer", "ConversationList", "MembersPanel", "MessageLog", "MessageView", "PicturePreview",
           "ReplyBar", "StatusBar", "TypingLine"]
