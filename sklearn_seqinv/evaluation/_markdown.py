"""The one Markdown table writer of the reports and the benchmarks."""

import numbers
import re

_NUMERIC = re.compile(r"^-?[\d.,]+(e[-+]?\d+)?( / -?[\d.,]+(e[-+]?\d+)?)?$")


def _cell(value, digits):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{value:.{digits}f}"


def markdown_table(header, rows, *, digits=3):
    """A Markdown table: floats with ``digits`` decimals, numeric columns right-aligned.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list
        Cells: numbers (formatted here) or strings (kept as they are).
    digits : int, default=3
        Decimals of float cells.

    Returns
    -------
    table : str
        The table, ending with a newline.

    Examples
    --------
    >>> print(markdown_table(["method", "accuracy"], [["erm", 0.81234]]), end="")
    | method | accuracy |
    |---|---:|
    | erm | 0.812 |
    """
    cells = [[_cell(v, digits) for v in row] for row in rows]
    numeric = [
        bool(cells) and all(_NUMERIC.match(row[j]) for row in cells) for j in range(len(header))
    ]
    lines = [
        "| " + " | ".join(map(str, header)) + " |",
        "|" + "".join("---:|" if n else "---|" for n in numeric),
        *("| " + " | ".join(row) + " |" for row in cells),
    ]
    return "\n".join(lines) + "\n"
