"""Data: a synthetic domain-shift generator and loaders for real feature formats.

Pickle-based formats (MMSA, MELD features) are read with a restricted unpickler that admits
only containers and numpy arrays: a crafted file raises ``UnsafePickleError`` instead of
running code. Nothing here downloads anything.
"""

from ._bclstm import BCLSTM_MODALITIES, load_bclstm
from ._catalog import DEFAULT_DATA, load_dataset
from ._combine import combine_domains
from ._csd import load_csd
from ._generator import make_multimodal_domains, simulate_video
from ._meld import load_meld
from ._mmsa import load_mmsa, pool_sequences
from ._reviews import load_reviews
from ._safe_pickle import UnsafePickleError, safe_load_pickle

__all__ = [
    "BCLSTM_MODALITIES",
    "DEFAULT_DATA",
    "UnsafePickleError",
    "combine_domains",
    "load_bclstm",
    "load_csd",
    "load_dataset",
    "load_meld",
    "load_mmsa",
    "load_reviews",
    "make_multimodal_domains",
    "pool_sequences",
    "safe_load_pickle",
    "simulate_video",
]
