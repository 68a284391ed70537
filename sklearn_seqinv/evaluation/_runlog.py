"""Bookkeeping of a long evaluation: the checkpoint file of finished fits, and progress."""

import json
import sys
import time
from pathlib import Path

import joblib
import numpy as np

__all__ = ["Checkpoint", "Progress", "fingerprint", "json_ready"]


def json_ready(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(*arrays):
    """A digest of the data, so a checkpoint is never resumed on other data."""
    return joblib.hash([None if a is None else np.ascontiguousarray(a) for a in arrays])


class Checkpoint:
    """The JSON-lines file of finished fits: a header line, then one line per fit.

    Lines are appended (and the file closed) as each fit finishes, so a kill loses at
    most the fit in progress; a last line cut short by the kill is ignored on resume.
    """

    def __init__(self, path, run):
        self.path, self.done = (None if path is None else Path(path)), {}
        if self.path is None:
            return
        header = {"checkpoint_of": run}
        if self.path.is_file() and self.path.stat().st_size:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            try:
                first = json.loads(lines[0])
            except json.JSONDecodeError:
                first = None
            if first != json.loads(json.dumps(header)):
                raise ValueError(
                    f"{self.path} is the checkpoint of another run (other data, methods, "
                    "protocols, epochs or seed); remove it or choose another file."
                )
            for line in lines[1:]:
                try:
                    unit = json.loads(line)
                except json.JSONDecodeError:
                    break  # the line being written when the run was stopped
                self.done[json.dumps(unit["key"])] = unit
            # Rewrite without a cut-short line, so new lines start on a fresh one.
            self.path.write_text(
                "".join(json.dumps(u) + "\n" for u in [header, *self.done.values()]),
                encoding="utf-8",
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")

    def add(self, unit):
        """Record a finished fit (and append it to the file, when there is one)."""
        self.done[json.dumps(unit["key"])] = unit
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(unit) + "\n")


class Progress:
    """Progress over every fit: a tqdm bar on a terminal, else one plain line per fit.

    Both count fits (not splits) out of the total and estimate the time left from the fits
    done, weighted by each fit's expected cost (``costs``, in the order the fits finish:
    the protocol runs the long ones first, so a plain average of the first fits would
    overstate the rest); until a few fits are done they say "estimating". Neither writes
    colour codes, and a piped log gets whole lines instead of carriage returns.
    """

    #: Fits done before the time left is estimated (also at least a tenth of them).
    MIN_FITS = 3

    def __init__(self, total, verbose, done=0, costs=None):
        self.total, self.verbose, self.count, self.resumed = total, verbose, done, done
        pending = total - done
        self.costs = np.ones(pending) if costs is None else np.asarray(costs, dtype=float)
        self.begin = time.perf_counter()
        self.bar = None
        if not verbose:
            return
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=done,
                unit="fit",
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
            )
        else:
            resumed = f" ({done} already done, resuming)" if done else ""
            print(f"Fitting {total} models (every split and method){resumed}...", flush=True)

    def start(self, label):
        self.label, self.tick = label, time.perf_counter()
        if self.bar is not None:
            self.bar.set_description(label)

    def time_left(self):
        """Seconds left as a phrase, from the cost of the fits done and of those to come."""
        fitted = self.count - self.resumed
        if fitted < max(self.MIN_FITS, len(self.costs) // 10) or fitted >= len(self.costs):
            return "estimating time left" if fitted < len(self.costs) else "0s left"
        done = self.costs[:fitted].sum()
        left = (time.perf_counter() - self.begin) / done * self.costs[fitted:].sum()
        return f"about {left:.0f}s left"

    def done(self):
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix_str(self.time_left(), refresh=False)
            self.bar.update(1)
        elif self.verbose:
            now = time.perf_counter()
            print(
                f"[{self.count}/{self.total}] {self.label}: {now - self.tick:.1f}s "
                f"({self.time_left()})",
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()
