"""The suite itself: a hanging test fails instead of stalling CI."""

from __future__ import annotations

import pytest


def test_every_test_runs_under_a_timeout(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("timeout")
    assert 0 < float(request.config.getini("timeout")) <= 600
    # "signal" raises inside the test, and Hypothesis replays a looping example after it (a hang).
    assert request.config.getini("timeout_method") == "thread"
