"""Names of a package that import their module on first use (PEP 562), as the scientific
Python ``lazy_loader.attach`` does: the estimators import torch, and the command line's
``--help`` and the light submodules start without it."""

import importlib
import sys

__all__ = ["attach"]


def attach(package, table):
    """The ``__getattr__`` and ``__dir__`` of ``package`` for the names of ``table``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    table : dict of str to str
        Each lazily loaded name and the module (relative to ``package``) that defines it.

    Returns
    -------
    __getattr__, __dir__ : callable
        For the package's namespace; a name loads once, then lives in the package.
    """

    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(sys.modules[package].__all__)

    return __getattr__, __dir__
