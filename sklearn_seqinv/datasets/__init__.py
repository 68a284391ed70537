"""Data: a synthetic domain-shift generator."""

from ._generator import make_multimodal_domains

__all__ = ["make_multimodal_domains"]
