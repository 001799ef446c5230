"""Every dues test runs on the day the suite was written against (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _on_the_dues_day(dues_clock):
    return dues_clock
