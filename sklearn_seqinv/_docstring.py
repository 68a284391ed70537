"""Docstring sections that several objects share, filled in where each object is defined.

A line of a docstring that holds only ``%(name)s`` is replaced by the section ``name`` indented
as that line is (the convention of MNE's ``fill_doc`` and matplotlib's ``_docstring``), so each
shared description is written once and every object's help reads in full.
"""

import re
import textwrap

__all__ = ["fill_doc"]

SECTIONS = {
    "features_in": """\
n_features_in_ : int
    Number of columns seen in ``fit``.
feature_names_in_ : ndarray of str
    Column names, when ``X`` was a DataFrame with string column names.""",
    "sample_order": """\
sample_order : array-like of shape (n_samples,), default=None
    Position of each row in its group (the utterance number); ``None``: the rows' order in
    ``X``.""",
    "transformer_fit_rows": """\
X : array-like of shape (n_samples, n_features)
    Training rows.
y : None
    Ignored.""",
    "risk_args": """\
target : Tensor
    Targets accepted by ``loss_fn``: class indices or values of shape (n, n_outputs).
domain : LongTensor of shape (n,)
    Domain code of each row.
n_domains : int
    Number of domain codes.
loss_fn : callable
    ``loss_fn(outputs, target)`` returning per-sample losses.""",
}

_MARKER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(obj):
    """Replace each ``%(name)s`` line of ``obj.__doc__`` by the section ``name``.

    Parameters
    ----------
    obj : function or class
        Its docstring is filled in place.

    Returns
    -------
    obj : function or class
        ``obj`` itself, so that ``fill_doc`` serves as a decorator.

    Examples
    --------
    >>> @fill_doc
    ... def f():
    ...     '''Attributes
    ...     ----------
    ...     %(features_in)s
    ...     '''
    >>> print(f.__doc__.splitlines()[2].strip())
    n_features_in_ : int
    """

    def section(match):
        indent, name = match.groups()
        if name not in SECTIONS:
            raise KeyError(f"{obj.__qualname__}'s docstring asks for an unknown section {name!r}")
        return textwrap.indent(SECTIONS[name], indent)

    if obj.__doc__:
        obj.__doc__ = _MARKER.sub(section, obj.__doc__)
    return obj
