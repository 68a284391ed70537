"""
Loading MMSA, CMU-SDK and MELD files
====================================

The loaders read the layouts MSA features ship in and all return the same Bunch (``X``,
``y``, ``sample_domain``, ``sample_group``, ``modalities``). Nothing is downloaded: this
example writes three tiny files in those layouts to a temporary folder and reads them back.
Pickles are read by a restricted unpickler that admits only containers and numpy arrays.
"""

import csv
import pickle
import tempfile
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

from sklearn_seqinv.datasets import load_csd, load_meld, load_mmsa

rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp())

# %%
# MMSA: a pickled dict of splits, sequences of BERT / FACET / COVAREP frames per clip.
splits = {}
for split, n in (("train", 12), ("valid", 4), ("test", 4)):
    splits[split] = {
        "text": rng.standard_normal((n, 10, 8)),
        "vision": rng.standard_normal((n, 6, 5)),
        "audio": rng.standard_normal((n, 6, 3)),
        "id": [f"video{i % 4}$_${i}" for i in range(n)],
        "regression_labels": rng.uniform(-3, 3, n),
    }
(folder / "mosi.pkl").write_bytes(pickle.dumps(splits))
mmsa = load_mmsa(folder / "mosi.pkl", target="polarity")
print("MMSA:", mmsa.X.shape, {k: len(v) for k, v in mmsa.modalities.items()})
print("sub-groups (videos):", sorted(set(mmsa.sample_group)))

# %%
# CMU Multimodal SDK: HDF5 ``.csd`` files, frames with time intervals per video.
for name, width in (("facet", 5), ("labels", 1)):
    with h5py.File(folder / f"{name}.csd", "w") as handle:
        data = handle.create_group("root").create_group("data")
        handle["root"].create_group("metadata")
        for video in ("v1", "v2"):
            group = data.create_group(video)
            frames = 4 if name == "facet" else 2
            group["features"] = rng.standard_normal((frames, width))
            group["intervals"] = np.c_[np.arange(frames), np.arange(1, frames + 1)] * (4 / frames)
csd = load_csd({"video": folder / "facet.csd"}, folder / "labels.csd")
print("CSD:", csd.X.shape, csd.ids.tolist())

# %%
# MELD: transcript CSVs (train / dev / test), here embedded later by SentenceEncoder.
header = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
          "Utterance_ID", "Season", "Episode"]  # fmt: skip
with open(folder / "train_sent_emo.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(header)
    for i, sentiment in enumerate(["positive", "negative", "neutral", "positive"]):
        writer.writerow([i, f"utterance {i}", "Joey", "joy", sentiment, i // 2, i % 2, 1, 1 + i])
meld = load_meld(folder)
print("MELD:", meld.raw_text.tolist(), meld.y.tolist(), meld.sample_group.tolist())

# %%
# Labels per split of the MMSA file.
fig, ax = plt.subplots(figsize=(5, 3))
for split in ("train", "valid", "test"):
    ax.bar(split, mmsa.y[mmsa.split == split].mean())
ax.set_ylabel("share positive (Has0)")
ax.set_title("MMSA file, per split")
fig.tight_layout()
