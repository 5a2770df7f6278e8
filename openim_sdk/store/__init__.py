"""Local SQLite cache: messages (with full-text search), conversations, seqs, versions, relations."""

from .local import LocalStore, StoredMessage
from .schema import SCHEMA_VERSION
from .seqs import SyncVersion
from .text import preview_text, search_text

__all__ = [
    "SCHEMA_VERSION",
    "LocalStore",
    "StoredMessage",
    "SyncVersion",
    "preview_text",
    "search_text",
]
