"""What `posters` registers: the `[publisher]` and `[cities.SLUG]` sections, and the approval
queue and Slack endpoint `pulse serve` mounts."""

from __future__ import annotations

from pulse.core import registry

from posters.settings import cities_section, publisher_section


@registry.hookimpl
def pulse_config_sections():
    return [publisher_section(), cities_section()]


@registry.hookimpl
def pulse_web_extensions():
    from posters.web import extension

    return [extension()]
