"""
Saving and loading without pickle
=================================

:func:`sklearn_seqinv.persistence.save` writes parameters, fitted arrays and torch weights
only; :func:`~sklearn_seqinv.persistence.load` reads them back with
``torch.load(weights_only=True)``, which refuses anything but data. The loaded model predicts
exactly as the saved one.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityRegressor
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.persistence import load, save
from sklearn_seqinv.plotting import GateDisplay

data = make_multimodal_domains(n_samples=600, task="regression", random_state=0)
X = StandardScaler().fit_transform(data.X)
model = SequentialModalityRegressor(
    [
        (name, InvariantMaskSelector(max_epochs=30, random_state=0), data.modalities[name])
        for name in ("text", "video")
    ]
).fit(X, data.y, sample_domain=data.sample_domain)

path = Path(tempfile.mkdtemp()) / "model.pt"
save(model, path)
restored = load(path)
print("identical predictions:", np.array_equal(model.predict(X), restored.predict(X)))

# %%
# The restored model carries its fitted selection.
GateDisplay.from_estimator(restored).plot()
plt.show()
