"""OpenIM v3.8 client SDK for Python."""

__version__ = "0.1.0"
