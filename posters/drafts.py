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
the text is cut (title first, with an ellipsis, never inside an emoji or a URL) until X's
weighted length fits 280; the meetup's link is never cut (X counts any URL as 23).
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from analytics.meetups import Meetup


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
_SHORTENABLE = ("title", "venue", "description", "reason")


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


def _x_clean(value: str) -> str:
    # Characters X refuses outright (U+FFFE, U+FEFF, U+FFFF) never make it into a draft.
    return "".join(c for c in value if c not in "\ufffe\ufeff\uffff")


def _cut_chars(text: str, keep: int) -> str:
    if keep >= len(text):
        return text
    # Never leave half an escape (`&am`) or half a surrogate-free grapheme's mark behind.
    return re.sub(r"&[a-z]*\Z", "", text[:keep]).rstrip() + "…"


def _fit(template, values, *, fits, clean, cut, size, channel) -> str:
    values = {name: clean(value) for name, value in values.items()}
    text = render(template, values)
    if fits(text):
        return text
    for name in _SHORTENABLE:
        original = values[name]
        if not original:
            continue
        # The longest prefix of this field that fits (binary search over whole units).
        low, high = 0, size(original)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(render(template, {**values, name: cut(original, middle)})):
                low = middle
            else:
                high = middle - 1
        values[name] = cut(original, low)
        text = render(template, values)
        if fits(text):
            return text
    raise DraftError(f"the template is too long for {channel} even with the title, venue and description cut; shorten it")
