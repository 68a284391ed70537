"""Feature selection by domain: the gated selector and the tie test it runs as a step."""

from ._selector import InvariantMaskSelector
from ._tie_filter import TieInvarianceFilter

__all__ = ["InvariantMaskSelector", "TieInvarianceFilter"]
