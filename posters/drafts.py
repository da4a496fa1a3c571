"""Drafting: a meetup's state → the exact payload each channel gets. Pure functions, no I/O.

Templates are plain text with `{field}` placeholders (see `pulse.config.TEMPLATE_FIELDS`);
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

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from posters import x_length

DEFAULT_TEMPLATES = {
    ("x", "announce"): "{title}\n🗓 {weekday} {date}, {time}\n📍 {venue}\n{url}",
    ("x", "update"): "Update: {title}\n🗓 now {weekday} {date}, {time}\n📍 {venue}\n{url}",
    ("x", "cancel"): "Cancelled: {title} ({weekday} {date})\n{reason}\n{url}",
    ("slack", "announce"): "*{title}*\n:calendar: {weekday} {date}, {time}\n:round_pushpin: {venue}\n{url}",
    ("slack", "update"): "*Update: {title}*\n:calendar: now {weekday} {date}, {time}\n:round_pushpin: {venue}\n{url}",
    ("slack", "cancel"): "*Cancelled: {title}* ({weekday} {date})\n{reason}\n{url}",
    ("facebook", "announce"): "{title}\n🗓 {weekday} {date}, {time}\n📍 {venue}",
    ("facebook", "update"): "Update: {title}\n🗓 now {weekday} {date}, {time}\n📍 {venue}",
    ("facebook", "cancel"): "Cancelled: {title} ({weekday} {date})\n{reason}",
}
TEMPLATE_KEYS = {"announce": "template", "update": "update_template", "cancel": "cancel_template"}
SLACK_SECTION_LIMIT = 3000
FACEBOOK_LIMIT = 63_206
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
# What is cut, in order, and how far: first what a reader misses least, down to its first 20
# units; then the title, never below its first 20 units (or all of it, when shorter), so the post
# still says what it is about; only then the others further, down to nothing.
_MIN_UNITS = 20
_CUTS = (("description", _MIN_UNITS), ("venue", _MIN_UNITS), ("reason", _MIN_UNITS), ("title", _MIN_UNITS),
         ("description", 0), ("venue", 0), ("reason", 0))
X_EDIT_MAX_CHARS = 10_000
"""An edit for X longer than this is refused before it is measured (X takes at most 280 as it counts)."""


class DraftError(Exception):
    """A draft that cannot be made (a template too long for the channel even with the text cut)."""


@dataclass(frozen=True)
class Meetup:
    city: str
    event_id: str
    title: str
    starts_at: dt.datetime
    created_at: dt.datetime
    """When the meetup was created on the platform (its `event:created` time)."""
    timezone: str
    city_name: str = ""
    venue: str = ""
    url: str = ""
    description: str = ""
    cancelled: bool = False
    reason: str = ""

    def snapshot(self) -> dict:
        """The fields a draft is rendered from, as JSON values (stored with the draft)."""
        return {"title": self.title, "starts_at": self.starts_at.isoformat(), "venue": self.venue, "url": self.url,
                "description": self.description, "timezone": self.timezone, "city_name": self.city_name,
                "reason": self.reason}


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


def escape_slack(text: str) -> str:
    """Slack's mrkdwn escaping: the three characters that start mentions, links and entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def template_for(channel_config, kind: str) -> str:
    return getattr(channel_config, TEMPLATE_KEYS[kind]) or DEFAULT_TEMPLATES[(channel_config.kind, kind)]


def draft(channel_config, kind: str, meetup: Meetup) -> tuple[str, dict]:
    """(text, content) of the `kind` post (announce, update, cancel) for this channel."""
    channel = channel_config.kind
    template = template_for(channel_config, kind)
    values = fields(meetup)
    if channel == "x":
        text = _fit(template, values, fits=lambda t: x_length.weighted_length(t) <= x_length.MAX_WEIGHTED_LENGTH,
                    clean=_x_clean, cut=x_length.shorten, size=x_length.unit_count, channel="X (280, as X counts)")
        return text, {"text": text}
    if channel == "slack":
        text = _fit(template, values, fits=lambda t: len(t) <= SLACK_SECTION_LIMIT, clean=escape_slack,
                    cut=_cut_chars, size=len, channel=f"a Slack section ({SLACK_SECTION_LIMIT} characters)")
        return text, slack_content(text)
    text = _fit(template, values, fits=lambda t: len(t) <= FACEBOOK_LIMIT, clean=lambda v: v,
                cut=_cut_chars, size=len, channel="Facebook")
    return text, {"message": text, "link": meetup.url}


def slack_content(text: str) -> dict:
    """The Block Kit message: one mrkdwn section, and the same text as the notification fallback."""
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def edited(channel: str, content: dict, text: str) -> dict:
    """The payload after a person rewrote the words (an organiser's own Slack markup is kept as written)."""
    if not text.strip():
        raise DraftError("the text is empty")
    if channel == "x":
        if len(text) > X_EDIT_MAX_CHARS:
            raise DraftError(f"too long for X: {len(text):,} characters; Pulse takes at most {X_EDIT_MAX_CHARS:,} "
                             f"for X, which allows 280 as it counts (a URL counts 23, CJK and emoji 2)")
        measured = x_length.measure(text)
        if measured.unsearched:
            run = measured.unsearched.strip()
            shown = run if len(run) <= 40 else run[:40] + "…"
            raise DraftError(f"Pulse cannot tell how long X counts {shown!r} ({len(run):,} characters without a space "
                             f"that X may take for a link): shorten it or add spaces")
        if measured.length > x_length.MAX_WEIGHTED_LENGTH:
            raise DraftError(f"too long for X: {'at least ' if measured.at_least else ''}{measured.length} of 280 "
                             f"as X counts (a URL counts 23, CJK and emoji 2)")
        if not x_length.is_valid(text):
            raise DraftError("X would refuse this text (invalid characters: U+FFFE, U+FEFF or U+FFFF)")
        return {"text": text}
    if channel == "slack":
        if len(text) > SLACK_SECTION_LIMIT:
            raise DraftError(f"too long for a Slack section: {len(text)} of {SLACK_SECTION_LIMIT} characters")
        return slack_content(text)
    return {**content, "message": text}


def _x_clean(value: str) -> str:
    # Characters X refuses outright never make it into a draft (which ones: x_length, as
    # twitter-text says; Slack and Facebook get them as they are).
    return x_length.without_invalid(value)


def _cut_chars(text: str, keep: int) -> str:
    if keep >= len(text):
        return text
    # Never leave half an escape (`&am`) or half a surrogate-free grapheme's mark behind.
    return re.sub(r"&[a-z]*\Z", "", text[:keep]).rstrip() + "…"


def _fit(template, values, *, fits, clean, cut, size=None, channel) -> str:
    """The template filled with the cleaned values, cut (see _CUTS) until `fits` says the text fits.

    `cut(value, n)` keeps the first n units of a value. The longest prefix that fits is searched for
    by doubling n from the floor, not by halving the value's whole length, so a value of 100,000
    characters costs what its first few hundred units do (`size` is no longer used).
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
