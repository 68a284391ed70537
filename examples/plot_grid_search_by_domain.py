"""
Grid search over sparsity, by domain
====================================

Search the sparsity weights of both stages with ``GridSearchCV`` and leave-one-domain-out
splits; domain labels are routed as ``sample_domain`` metadata. Then score the best model on
every held-out domain.
"""

import sklearn
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.plotting import DomainScoresDisplay

data = make_multimodal_domains(n_samples=900, n_domains=3, random_state=1)
model = make_pipeline(
    StandardScaler(),
    SequentialModalityClassifier(
        [
            ("text", InvariantMaskSelector(max_epochs=30, random_state=0), data.modalities["text"]),
            (
                "video",
                InvariantMaskSelector(max_epochs=30, random_state=0),
                data.modalities["video"],
            ),
        ]
    ),
)
grid = {
    "sequentialmodalityclassifier__text__sparsity": [2.0, 4.0],
    "sequentialmodalityclassifier__video__sparsity": [4.0],
}
with sklearn.config_context(enable_metadata_routing=True):
    search = GridSearchCV(model, grid, cv=LeaveOneGroupOut())
    search.fit(data.X, data.y, groups=data.sample_domain, sample_domain=data.sample_domain)
    scores = cross_validate(
        search.best_estimator_,
        data.X,
        data.y,
        cv=LeaveOneGroupOut(),
        params={"groups": data.sample_domain, "sample_domain": data.sample_domain},
    )
print("best:", search.best_params_)

# %%
# Accuracy on each held-out domain.
per_domain = {f"domain {d}": s for d, s in enumerate(scores["test_score"])}
DomainScoresDisplay({"text first": per_domain}, "accuracy", title="held-out domains").plot()
