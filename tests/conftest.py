"""Fixtures every test can use: a config over a temp warehouse."""

from __future__ import annotations

import pytest

from pulse.core import config as config_module


@pytest.fixture
def make_config(tmp_path):
    """`make_config(**sections)` → a Config whose warehouse lives in this test's temp folder."""
    def make(**sections):
        raw = {"warehouse": {"data_dir": str(tmp_path / "warehouse"), "lock_timeout_seconds": 30}}
        for key, value in sections.items():
            raw.setdefault(key, {}).update(value)
        return config_module.from_dict(raw, base_dir=tmp_path)
    return make


@pytest.fixture
def config(make_config):
    return make_config()
