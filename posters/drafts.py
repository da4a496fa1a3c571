"""Drafting: a meetup's state → the exact payload each channel gets. Pure functions, no I/O.

What differs per channel (its templates, limits, escaping, payload) is its kind's
(`posters/channels/`); what is the same for all is here: the template fields, `render`, and
`fit`, which cuts user text until a channel's limit is met.

Templates are plain text with `{field}` placeholders (see `posters.channels.base.TEMPLATE_FIELDS`);
substitution is a lookup in a dict of strings, never `str.format` (whose `{title.__class__}`
reaches into objects) nor any template engine, so a template cannot run code. A template line
whose placeholders all came out empty (`📍 {venue}` for a meetup without a venue) is left out.

Titles, venues and descriptions are user-written: any Unicode, possibly markup, any length.
They are data. Before any template sees them, `prepare` bounds each to a sane length (cut with
`…`, never inside a character's marks or an emoji sequence), drops the characters X refuses
(U+FFFE, U+FEFF, U+FFFF) on every channel, and keeps the meetup's link only when it is an
`http(s)://` address without user info (`javascript:`, `http://slack.com@evil.example/` are left
out, and the sync says why). On Slack `&`, `<` and `>` are escaped so a title cannot mention
@channel or forge a link. A draft too long for its channel is cut, with an ellipsis and never
inside an emoji or a URL: the description, the venue and the reason first (down to their first
20 units: characters, emoji or URLs on X, characters elsewhere), then the title, which keeps at
least its first 20, and only then the others further; the meetup's link is never cut (X counts
any URL as 23).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from analytics.meetups import Meetup
from posters import x_length


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
# What is cut, in order, and how far: first what a reader misses least, down to its first 20
# units; then the title, never below its first 20 units (or all of it, when shorter), so the post
# still says what it is about; only then the others further, down to nothing.
_MIN_UNITS = 20
_CUTS = (("description", _MIN_UNITS), ("venue", _MIN_UNITS), ("reason", _MIN_UNITS), ("title", _MIN_UNITS),
         ("description", 0), ("venue", 0), ("reason", 0))


TEXT_LIMITS = {"title": 200, "venue": 200, "description": 1000, "reason": 500}
"""Characters each user-written field keeps (more is cut with `…` before drafting): far more than
any channel shows, and small enough that measuring a draft takes no time whatever arrives."""
URL_LIMIT = 2000
"""A longer link is left out (it would not fit a Slack section, and no meetup page needs it)."""


class DraftError(Exception):
    """A draft that cannot be made (a template too long for the channel even with the text cut)."""


def bound_text(text: str, limit: int) -> str:
    """`text` without the characters X refuses, cut to at most `limit` characters with `…`:
    never between a character and its marks, inside an emoji sequence or a flag's pair."""
    text = x_length.without_invalid(text or "")
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and (unicodedata.category(text[cut]) in ("Mn", "Me", "Cf", "Sk")
                       or text[cut - 1] == "\u200d" or 0xDC00 <= ord(text[cut]) <= 0xDFFF):
        cut -= 1
    regional = 0
    while cut - regional - 1 >= 0 and 0x1F1E6 <= ord(text[cut - regional - 1]) <= 0x1F1FF:
        regional += 1
    if regional % 2 and 0x1F1E6 <= ord(text[cut]) <= 0x1F1FF:
        cut -= 1  # do not split a flag (two regional indicators)
    return text[:cut].rstrip() + "…"


def link_problem(url: str) -> str | None:
    """Why `url` may not go into a post (None: it may): only `http(s)://host/...` without user
    info, whitespace or control characters, at most URL_LIMIT characters."""
    if not url:
        return None
    if len(url) > URL_LIMIT:
        return f"longer than {URL_LIMIT:,} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid address"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "not an http(s):// address"
    if "@" in parts.netloc:
        return "it has user info before the host (user@host)"
    return None


def prepare(meetup: Meetup) -> tuple[Meetup, list[str]]:
    """(the meetup as drafts may use it, notes on what was left out): every user-written field
    bounded (TEXT_LIMITS), the link kept only when safe to publish."""
    changes = {name: bound_text(getattr(meetup, name), limit) for name, limit in TEXT_LIMITS.items()}
    notes = []
    problem = link_problem(meetup.url)
    if problem:
        changes["url"] = ""
        shown = meetup.url if len(meetup.url) <= 80 else meetup.url[:79] + "…"
        notes.append(f"meetup {meetup.event_id}: its link {shown!r} is left out of its posts ({problem})")
    return dataclasses.replace(meetup, **changes), notes


_CHANGE_WORDS = {("title",): "New title", ("time",): "New time", ("venue",): "New venue"}


def changes_between(before: dict, meetup: Meetup) -> tuple[str, ...]:
    """Which of the title, the time and the venue differ between a snapshot and the meetup."""
    from pulse.core.instants import parse_iso

    found = []
    if before.get("title", meetup.title) != meetup.title:
        found.append("title")
    if parse_iso(before["starts_at"]) != meetup.starts_at:
        found.append("time")
    if before.get("venue", "") != meetup.venue:
        found.append("venue")
    return tuple(found)


def changes_text(changes: tuple[str, ...]) -> str:
    """"New time", "New title and venue", "New title, time and venue": the `{changes}` field."""
    if not changes:
        return ""
    if len(changes) == 1:
        return _CHANGE_WORDS[changes]
    return "New " + ", ".join(changes[:-1]) + " and " + changes[-1]


def snapshot(meetup: Meetup) -> dict:
    """The fields a draft is rendered from, as JSON values (stored with the draft)."""
    return {"title": meetup.title, "starts_at": meetup.starts_at.isoformat(), "venue": meetup.venue, "url": meetup.url,
            "description": meetup.description, "timezone": meetup.timezone, "city_name": meetup.city_name,
            "reason": meetup.reason}


def fields(meetup: Meetup, changes: str = "") -> dict[str, str]:
    """The template fields, with the date and time in the city's timezone; `changes` says what
    an update is about ("New time and venue"), empty for other posts."""
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
        "changes": changes,
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


def draft(channel_config, kind: str, meetup: Meetup, changes: str = "") -> tuple[str, dict]:
    """(text, content) of the `kind` post (announce, update, cancel) for this channel, from a
    `prepare`d meetup."""
    return channel_config.channel_kind.draft(channel_config, kind, meetup, changes)


def edited(channel: str, content: dict, plain: str) -> tuple[str, dict]:
    """(text as the channel gets it, payload) after a person rewrote the words in plain text
    (`ChannelKind.plain_text`); the channel's escaping is done here, never by the person.
    Text longer than the channel could ever take is refused before it is measured."""
    from posters.channels import kind_of

    kind = kind_of(channel)
    if not plain.strip():
        raise DraftError("the text is empty")
    if len(plain) > kind.max_edit_chars:
        raise DraftError(f"too long for {kind.label}: {len(plain):,} characters, it takes at most "
                         f"{kind.max_edit_chars:,}")
    return kind.edited(content, plain)


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
