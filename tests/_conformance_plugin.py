"""pytest plugin for the Array API conformance slice that ``test_conformance.py`` runs.

It makes the run reproducible and independent of the machine's speed: Hypothesis' health checks
are off (a slow array library must fail no test for being slow), and the global ``random``
module, which the suite's special-case tests draw from with ``strategy.example()``, is seeded
per test from the test's id.
"""

import random
import zlib

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from hypothesis import HealthCheck, settings

    try:
        parent = settings.get_profile("array-api-tests")
    except Exception:
        parent = settings.default
    settings.register_profile(
        "ndgrad-slice", parent=parent, suppress_health_check=list(HealthCheck)
    )
    settings.load_profile("ndgrad-slice")


def pytest_runtest_setup(item):
    random.seed(zlib.crc32(item.nodeid.encode()))
