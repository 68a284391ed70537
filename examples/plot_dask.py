"""
Searches on a Dask cluster
==========================

``GridSearchCV`` parallelizes through joblib, so a ``dask.distributed`` cluster runs a search
with no code of ours. Here an in-process cluster stands in for a real one
(``Client("tcp://scheduler:8786")``); each worker fit uses one torch thread.
"""

import joblib
import matplotlib.pyplot as plt
from dask.distributed import Client
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import make_multimodal_domains

data = make_multimodal_domains(n_samples=600, modalities={"text": 20}, random_state=0)
# The scaler is a step of the searched pipeline: each split fits it on its training domains.
search = GridSearchCV(
    make_pipeline(StandardScaler(), InvariantMaskSelector(max_epochs=20, random_state=0)),
    {"invariantmaskselector__sparsity": [1.0, 4.0, 16.0]},
    cv=LeaveOneGroupOut(),
)
with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
    with joblib.parallel_backend("dask"):
        search.fit(
            data.X,
            data.y,
            groups=data.sample_domain,
            invariantmaskselector__sample_domain=data.sample_domain,
        )
print("best sparsity:", search.best_params_["invariantmaskselector__sparsity"])

# %%
fig, ax = plt.subplots(figsize=(5, 3))
sparsity = search.cv_results_["param_invariantmaskselector__sparsity"]
ax.plot(sparsity, search.cv_results_["mean_test_score"], "o-")
ax.set_xscale("log")
ax.set_xlabel("sparsity")
ax.set_ylabel("mean held-out-domain accuracy")
fig.tight_layout()
plt.show()
