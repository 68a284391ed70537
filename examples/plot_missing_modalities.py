"""
Missing video
=============

A clip with no face track has no video features. Rows whose video columns are all NaN are
predicted by the text stage; at fit time each stage learns from the rows it has.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import make_multimodal_domains

data = make_multimodal_domains(n_samples=1200, n_domains=4, random_state=0)
X = StandardScaler().fit_transform(data.X)
missing = np.random.default_rng(0).random(len(X)) < 0.3
X[np.ix_(missing, data.modalities["video"])] = np.nan
train, test = data.sample_domain != 3, data.sample_domain == 3

model = SequentialModalityClassifier(
    [
        (name, InvariantMaskSelector(max_epochs=50, random_state=0), data.modalities[name])
        for name in ("text", "video")
    ]
).fit(X[train], data.y[train], sample_domain=data.sample_domain[train])
print("rows per stage:", dict(model.n_rows_per_stage_))
correct = model.predict(X[test]) == data.y[test]

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(
    ["with video", "without video"], [correct[~missing[test]].mean(), correct[missing[test]].mean()]
)
ax.set_ylabel("held-out accuracy")
fig.tight_layout()
