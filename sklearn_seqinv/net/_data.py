"""The data side of the skorch layer: the tensors of a call and the batches drawn from them."""

import math
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "BatchIterator", "BatchTarget"]


class ArrayDataset(Dataset):
    """Tensors of one fit or predict call: ``X`` (guidance then gated columns), ``y``, domains."""

    def __init__(self, X, y=None, domain=None):
        self.X = X
        self.y = y
        self.domain = domain

    def __len__(self):
        return self.X.shape[0]


class BatchTarget(NamedTuple):
    """The target of a training batch: labels, domain codes, and ``rows_per_domain`` when
    the batch is balanced (that many rows of every domain code, domain after domain), else
    ``None``."""

    y: torch.Tensor
    domain: torch.Tensor
    rows_per_domain: int | None = None


class BatchIterator:
    """Yield ``(X, BatchTarget)`` batches by slicing tensors (skorch's ``iterator_train``).

    In training, rows are shuffled with the torch global generator (the estimator seeds it
    inside ``torch.random.fork_rng``, so the caller's state is untouched). With ``balance``,
    each batch draws the same number of rows from every domain, cycling through reshuffled
    copies of the smaller domains, as DomainBed does. Every domain then gives a batch at least
    ``MIN_DOMAIN_ROWS`` rows (batches grow with the number of domains, and an epoch has fewer
    of them), so each per-domain risk of the invariance penalty is estimated from enough rows
    to carry more signal than sampling noise.
    """

    MIN_DOMAIN_ROWS = 32

    def __init__(self, dataset, batch_size, training=False, balance=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.training = training
        self.balance = balance
        self._members_cache = None
        self._codes = None

    def __len__(self):
        if self.training and self.balance:
            n_domains, quota = self._quota()
            return max(1, math.ceil(len(self.dataset) / (n_domains * quota)))
        return math.ceil(len(self.dataset) / self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.training:
            return None
        if not self.balance:
            return torch.randperm(n)
        return self._balanced_order()

    def _members(self):
        """Row indices of every domain, computed once per iterator."""
        if self._members_cache is None:
            domain = self.dataset.domain.cpu()
            self._codes = torch.unique(domain)
            self._members_cache = [torch.nonzero(domain == code).flatten() for code in self._codes]
        return self._members_cache

    def _quota(self):
        n_domains = len(self._members())
        return n_domains, max(self.MIN_DOMAIN_ROWS, self.batch_size // n_domains)

    def _balanced_order(self):
        n_batches = len(self)
        _, quota = self._quota()
        per_domain = []
        for members in self._members():
            repeats = math.ceil(n_batches * quota / len(members))
            drawn = torch.cat([members[torch.randperm(len(members))] for _ in range(repeats)])
            per_domain.append(drawn[: n_batches * quota].view(n_batches, quota))
        return torch.cat(per_domain, dim=1).flatten()

    def __iter__(self):
        data = self.dataset
        order = self._order()
        n = len(data) if order is None else len(order)
        step = self.batch_size
        if order is not None and self.balance:
            step = len(order) // len(self)
        if order is not None:
            order = order.to(data.X.device)
        # A balanced batch's domains are the same every time: each code, quota rows in turn.
        # Its per-sample losses viewed as an (n_domains, quota) matrix have a domain per row.
        domains = quota = None
        if order is not None and self.balance:
            quota = step // len(self._codes)
            domains = self._codes.to(data.domain.device).repeat_interleave(quota)
        for start in range(0, n, step):
            if order is None:
                index = slice(start, start + step)
                target = None
                if data.y is not None:
                    target = BatchTarget(data.y[index], data.domain[index])
                yield data.X[index], target
                continue
            # index_select copies the rows several times faster than X[index].
            index = order[start : start + step]
            target = None
            if data.y is not None:
                domain = domains if domains is not None else data.domain.index_select(0, index)
                target = BatchTarget(data.y.index_select(0, index), domain, quota)
            yield data.X.index_select(0, index), target
