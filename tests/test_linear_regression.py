"""The main demonstration runs and does what the README says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "linear_regression.py"


def test_linear_regression_loss_falls_by_more_than_95_percent(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the plot, if any, lands here
    spec = importlib.util.spec_from_file_location("linear_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses = module.main()
    assert len(losses) == 101
    assert losses[-1] < 0.05 * losses[0]
    out = capsys.readouterr().out
    assert out.count("epoch") == 11  # every 10 epochs, 0 to 100


def test_readme_quickstart_snippet_runs():
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["h"] == 12.0
    assert namespace["w"].grad.shape == (3, 3) and namespace["b"].grad.shape == (3,)
