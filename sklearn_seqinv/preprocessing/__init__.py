"""Transformers that read the rows' domains or groups: per-domain centring and the context of
a row's group."""

from ._centering import DomainCenterer
from ._context import GroupContext

__all__ = ["DomainCenterer", "GroupContext"]
