"""The README's Python examples run as written (slow: they fit real models)."""

import re
from pathlib import Path

import pytest
import sklearn

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples save a model file
    # Blocks fenced as "python no-run" need machines we do not have (a Dask scheduler).
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert not sklearn.get_config()["enable_metadata_routing"]
    assert namespace["reg"].predict(namespace["scores"].X).shape == (1200,)
    assert (tmp_path / "model.pt").is_file()
