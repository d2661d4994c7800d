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


# The README's code blocks, the quick start included, run in tests/test_readme.py.
