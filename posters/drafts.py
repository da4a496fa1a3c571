"""Drafting: a meetup's state → the exact payload each channel gets. Pure functions, no I/O.

What differs per channel (its templates, limits, escaping, payload) is its kind's
(`posters/channels/`); what is the same for all is here: the template fields, `render`, and
`_fit`, which cuts user text until a channel's limit is met.

Templates are plain text with `{field}` placeholders (see `posters.channels.base.TEMPLATE_FIELDS`);
substitution is a lookup in a dict of strings, never `str.format` (whose `{title.__class__}`
reaches into objects) nor any template engine, so a template cannot run code. A template line
whose placeholders all came out empty (`📍 {venue}` for a meetup without a venue) is left out.

Titles, venues and descriptions are user-written: any Unicode, possibly markup. They are data:
on Slack `&`, `<` and `>` are escaped so a title cannot mention @channel or forge a link; on X
the characters X refuses are dropped. A draft too long for its channel is cut, with an ellipsis
and never inside an emoji or a URL: the description, the venue and the reason first (down to
their first 20 units: characters, emoji or URLs on X, characters elsewhere), then the title,
which keeps at least its first 20, and only then the others further; the meetup's link is never
cut (X counts any URL as 23).
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from analytics.meetups import Meetup


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
# What is cut, in order, and how far: first what a reader misses least, down to its first 20
# units; then the title, never below its first 20 units (or all of it, when shorter), so the post
# still says what it is about; only then the others further, down to nothing.
_MIN_UNITS = 20
_CUTS = (("description", _MIN_UNITS), ("venue", _MIN_UNITS), ("reason", _MIN_UNITS), ("title", _MIN_UNITS),
         ("description", 0), ("venue", 0), ("reason", 0))


class DraftError(Exception):
    """A draft that cannot be made (a template too long for the channel even with the text cut)."""


def snapshot(meetup: Meetup) -> dict:
    """The fields a draft is rendered from, as JSON values (stored with the draft)."""
    return {"title": meetup.title, "starts_at": meetup.starts_at.isoformat(), "venue": meetup.venue, "url": meetup.url,
            "description": meetup.description, "timezone": meetup.timezone, "city_name": meetup.city_name,
            "reason": meetup.reason}


def fields(meetup: Meetup) -> dict[str, str]:
    """The template fields, with the date and time in the city's timezone."""
    local = meetup.starts_at.astimezone(ZoneInfo(meetup.timezone))
    return {
        "title": meetup.title,
        "date": f"{local.day} {_MONTHS[local.month - 1]} {local.year}",
        "time": f"{local:%H:%M} {local.tzname()}",
        "weekday": _WEEKDAYS[local.weekday()],
        "venue": meetup.venue,
        "url": meetup.url,
        "city": meetup.city,
        "city_name": meetup.city_name or meetup.city,
        "reason": meetup.reason,
        "description": meetup.description,
        "starts_at": local.isoformat(),
    }


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders; drop a line whose placeholders were all empty."""
    lines = []
    for line in template.split("\n"):
        names = [m.group(1) for m in _PLACEHOLDER.finditer(line) if m.group(1)]
        filled = _PLACEHOLDER.sub(lambda m: {"{{": "{", "}}": "}"}.get(m.group(0)) or values.get(m.group(1), ""), line)
        if names and not any(values.get(name, "") for name in names):
            continue
        lines.append(filled.rstrip())
    return "\n".join(lines).strip("\n")


def draft(channel_config, kind: str, meetup: Meetup) -> tuple[str, dict]:
    """(text, content) of the `kind` post (announce, update, cancel) for this channel."""
    return channel_config.channel_kind.draft(channel_config, kind, meetup)


def edited(channel: str, content: dict, text: str) -> dict:
    """The payload after a person rewrote the words (an organiser's own markup is kept as written)."""
    from posters.channels import kind_of

    if not text.strip():
        raise DraftError("the text is empty")
    return kind_of(channel).edited(content, text)


def cut_chars(text: str, keep: int) -> str:
    if keep >= len(text):
        return text
    # Never leave half an escape (`&am`) or half a surrogate-free grapheme's mark behind.
    return re.sub(r"&[a-z]*\Z", "", text[:keep]).rstrip() + "…"


def fit(template, values, *, fits, clean, cut, channel) -> str:
    """The template filled with the cleaned values, cut (see _CUTS) until `fits` says the text fits.

    `cut(value, n)` keeps the first n units of a value. The longest prefix that fits is searched for
    by doubling n from the floor, not by halving the value's whole length, so a value of 100,000
    characters costs what its first few hundred units do.
    """
    values = {name: clean(value) for name, value in values.items()}
    whole = dict(values)
    text = render(template, values)
    if fits(text):
        return text
    for name, floor in _CUTS:
        if not whole[name]:
            continue

        def fits_with(keep: int, name=name) -> bool:
            return fits(render(template, {**values, name: cut(whole[name], keep)}))

        if not fits_with(floor):
            values[name] = cut(whole[name], floor)
            continue
        # The text as it is does not fit, nor then the value at any longer prefix: the doubling ends.
        low, high = floor, max(2 * floor, 1)
        while fits_with(high):
            low, high = high, 2 * high
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits_with(middle) else (low, middle)
        values[name] = cut(whole[name], low)
        return render(template, values)
    raise DraftError(f"the template is too long for {channel} even with the description, venue and reason cut "
                     f"and the title cut to its first {_MIN_UNITS}; shorten it")
