"""Where the benchmarks write their results and read the real data: ``$SEQINV_SHARED_DATA``
when set, else ``../shared/data`` beside the checkout (never copied into the repository)."""

import os
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
SHARED = Path(
    os.environ.get("SEQINV_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
