"""
Missing video
=============

A clip with no face track has no video features. Rows whose video columns are all NaN are
predicted by the text stage; at fit time each stage learns from the rows it has.

To see what the video adds, compare on the *same* rows: the held-out rows that have their
video, predicted with it and with it removed. (Comparing rows that have video against rows
that do not would mix the effect of the video with the difference between the rows.)
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import make_multimodal_domains

data = make_multimodal_domains(n_samples=1200, n_domains=4, random_state=0)
train, test = data.sample_domain != 3, data.sample_domain == 3
video = data.modalities["video"]
missing = np.random.default_rng(0).random(len(data.X)) < 0.3
# The scaler learns from the training domains only (NaN cells are ignored by it).
X = data.X.copy()
X[np.ix_(missing, video)] = np.nan
X = StandardScaler().fit(X[train]).transform(X)

model = SequentialModalityClassifier(
    [
        (name, InvariantMaskSelector(max_epochs=50, random_state=0), data.modalities[name])
        for name in ("text", "video")
    ]
).fit(X[train], data.y[train], sample_domain=data.sample_domain[train])
print("rows per stage:", dict(model.n_rows_per_stage_))

# %%
# The held-out rows that have their video, with it and with it removed.
rows = test & ~missing
X_without = X[rows].copy()
X_without[:, video] = np.nan
with_video = (model.predict(X[rows]) == data.y[rows]).mean()
without_video = (model.predict(X_without) == data.y[rows]).mean()
print(f"same {rows.sum()} rows: {with_video:.3f} with video, {without_video:.3f} without")

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["with video", "video removed"], [with_video, without_video])
ax.set_ylim(min(with_video, without_video) - 0.1, 1.0)
ax.set_ylabel("held-out accuracy (same rows)")
ax.set_title(f"{rows.sum()} held-out rows that have video (axis from {ax.get_ylim()[0]:.2f})")
fig.tight_layout()
plt.show()
