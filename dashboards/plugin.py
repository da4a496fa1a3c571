"""What `dashboards` registers: its pages in `pulse serve` (imported only when the app is built:
they need Flask, pandas and plotly), and the `[digests]` and `[alerts]` sections."""

from __future__ import annotations

from pulse.core import registry
from pulse.core.config import model_section


@registry.hookimpl
def pulse_config_sections():
    from dashboards.settings import AlertSettings, DigestSettings

    return [model_section("digests", DigestSettings), model_section("alerts", AlertSettings)]


@registry.hookimpl
def pulse_web_extensions():
    from dashboards.web.app import extension

    return [extension()]
