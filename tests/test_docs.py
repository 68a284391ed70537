"""The documentation covers every public name (the build itself runs in CI with -W)."""

import importlib
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODULES = [
    "sklearn_seqinv",
    "sklearn_seqinv.datasets",
    "sklearn_seqinv.evaluation",
    "sklearn_seqinv.exceptions",
    "sklearn_seqinv.inspection",
    "sklearn_seqinv.metrics",
    "sklearn_seqinv.model_selection",
    "sklearn_seqinv.net",
    "sklearn_seqinv.nn",
    "sklearn_seqinv.persistence",
    "sklearn_seqinv.plotting",
    "sklearn_seqinv.text",
]


def _documented():
    """(module, name) pairs listed under each ``currentmodule`` of api.rst."""
    documented, module = set(), None
    for line in (DOCS / "api.rst").read_text().splitlines():
        found = re.match(r"\.\. currentmodule:: (\S+)", line)
        if found:
            module = found.group(1)
        elif re.match(r"   [A-Za-z_]\w*$", line):
            documented.add((module, line.strip()))
    return documented


def test_every_public_name_has_an_api_page():
    public = {
        (name, item)
        for name in MODULES
        for item in importlib.import_module(name).__all__
        if not item.startswith("__")
    }
    assert public - _documented() == set()
    assert _documented() - public == set()


def test_the_package_exports_every_estimator_of_its_role_subpackages():
    package = importlib.import_module("sklearn_seqinv")
    for role in ("selection", "meta", "preprocessing", "contextual"):
        subpackage = importlib.import_module(f"sklearn_seqinv.{role}")
        assert subpackage.__all__
        for name in subpackage.__all__:
            assert getattr(package, name) is getattr(subpackage, name)
            assert name in package.__all__


def test_the_method_page_is_in_the_repository_and_linked_from_the_readme():
    readme = (DOCS.parent / "README.md").read_text()
    assert "docs/method.rst" in readme
    assert "METHOD.md" not in readme
    assert "Learning in Order" in (DOCS / "method.rst").read_text()


def test_the_readme_and_the_docs_state_the_same_times():
    readme = (DOCS.parent / "README.md").read_text()
    start = readme.index("| what | time | measured with |")
    rows = []
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("| "):
            break
        rows.append(line)
    times = [line.split(" | ")[1] for line in rows if line.split(" | ")[1].strip()]
    assert len(times) >= 3
    index = " ".join((DOCS / "index.rst").read_text().split())
    for time in times:
        assert " ".join(time.split()) in index, time
