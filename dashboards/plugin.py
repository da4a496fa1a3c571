"""What `dashboards` registers: its pages in `pulse serve` (imported only when the app is built:
they need Flask, pandas and plotly)."""

from __future__ import annotations

from pulse.core import registry


@registry.hookimpl
def pulse_web_extensions():
    from dashboards.web.app import extension

    return [extension()]
