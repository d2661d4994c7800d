import importlib
import os

import pytest
from hypothesis import HealthCheck, settings

from ndgrad._registry import NO_GRADIENT, TRACED_THROUGH, UNSUPPORTED, VJP_RULES
from ndgrad._rules._lazy import pending_modules

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
# The long fuzzing run that precedes a release: tens of thousands of random programs.
settings.register_profile(
    "fuzz", max_examples=12000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def restore_tables():
    """Undo registrations made by a test: the rule tables are global.

    A registration that waits for a module's import (``ndgrad._rules._lazy``) runs once, when
    the module is first imported: if that happened during the test, undoing it would leave the
    module without its rules for the rest of the session. So the pending modules are imported
    before the tables are saved.
    """
    for name in pending_modules():
        importlib.import_module(name)
    tables = (VJP_RULES, UNSUPPORTED, TRACED_THROUGH, NO_GRADIENT)
    saved = [table.copy() for table in tables]
    yield
    for table, old in zip(tables, saved, strict=True):
        table.clear()
        table.update(old)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh directory with a non-interactive matplotlib: documentation blocks write
    files and plots."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path
