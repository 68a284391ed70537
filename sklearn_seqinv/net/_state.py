"""The fitted skorch net of an estimator, declared as plain data in the estimator's state."""

import warnings

import torch

from ..exceptions import DeviceFallbackWarning

__all__ = ["NetStateMixin"]


class NetStateMixin:
    """State of an estimator that holds a fitted skorch net in ``net_`` (its history in
    ``history_``): the net as plain data (weights on the CPU, history, device).

    This is the one declaration of the fitted state: pickle, ``copy`` and
    :mod:`sklearn_seqinv.persistence` all go through it, so a model trained on a GPU loads on
    a CPU-only machine (with a :class:`~sklearn_seqinv.exceptions.DeviceFallbackWarning`) and
    a safe save needs no knowledge of the net. An estimator gives the sizes its net is rebuilt
    from (``_net_sizes``) and rebuilds it (``_net_from_state``).
    """

    def _net_sizes(self, net):
        """What rebuilding the net needs beyond the estimator's parameters and state."""
        return {}

    def __getstate__(self):
        state = dict(super().__getstate__())
        net = state.pop("net_", None)
        state.pop("history_", None)  # the net's history, restored with it
        if net is not None:
            module = net.module_
            state["net_"] = {
                "module_state": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                **self._net_sizes(net),
                "history": net.history.to_list(),
                "device": str(net.device),
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("net_", None)
        super().__setstate__(state)
        if saved is None:
            return
        device = torch.device(saved["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                "The net was trained on CUDA, which is not available here: it is loaded on the "
                "CPU.",
                DeviceFallbackWarning,
                stacklevel=2,
            )
            device = torch.device("cpu")
        weights = saved["module_state"]
        net = self._net_from_state(saved, device).initialize()
        net.module_.to(next(iter(weights.values())).dtype)
        net.module_.load_state_dict(weights)
        net.module_.to(device)
        for row in saved["history"]:
            net.history.append(row)
        self.net_, self.history_ = net, net.history
