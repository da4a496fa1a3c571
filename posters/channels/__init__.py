"""The channels posts go out on: one module each in this package (`slack`, `x`, `facebook`),
registered through the `pulse_channel_kinds` hook (see `base.py` for what a kind provides).

A new kind is one new module here with a `ChannelKind` and a `Channel` subclass and its hook;
nothing else in Pulse names the kinds.
"""

from __future__ import annotations

from pulse.core import registry

from posters.channels.base import Channel, ChannelKind, ChannelSettings, SendError, Sent

__all__ = ["Channel", "ChannelKind", "ChannelSettings", "SendError", "Sent", "kinds", "kind_of", "make_channel"]


def kinds() -> dict[str, ChannelKind]:
    return registry.collect("pulse_channel_kinds")


def kind_of(name: str) -> ChannelKind:
    found = kinds().get(name)
    if found is None:
        raise KeyError(f"no channel kind {name!r}; known: {', '.join(kinds())}")
    return found


def make_channel(settings: ChannelSettings, publisher) -> Channel:
    return kind_of(settings.kind).make(settings, publisher)
