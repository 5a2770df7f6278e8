"""Async REST client for every OpenIM route."""

from ._transport import new_operation_id
from .client import RestClient, TokenClaims, parse_token_claims
from .files import UploadState, download, openim_hash, upload_file

__all__ = [
    "RestClient",
    "TokenClaims",
    "UploadState",
    "download",
    "new_operation_id",
    "openim_hash",
    "parse_token_claims",
    "upload_file",
]
