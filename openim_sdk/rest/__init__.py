"""Async REST client for every OpenIM route."""

from ._transport import new_operation_id
from .client import RestClient, TokenClaims, parse_token_claims

__all__ = ["RestClient", "TokenClaims", "new_operation_id", "parse_token_claims"]
