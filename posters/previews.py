"""What each channel will show, as HTML for the queue: Slack's mrkdwn rendered, X's text with
its links, Facebook's message and link card. Every piece of text is HTML-escaped here (markupsafe)
before any tag is added, so a title can only ever be text.

Slack's text is its escaped form (`&amp;`, `&lt;`): a `<...>` in it is Slack's own markup (a
link, a mention), never the organiser's, which is why it is read before the entities are undone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

_SLACK_MARKUP = re.compile(r"<([^<>\n]+)>")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_FORMATS = (
    (re.compile(r"```(.+?)```", re.S), "pre"),
    (re.compile(r"`([^`\n]+)`"), "code"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), "del"),
)


def safe_href(url: str) -> str | None:
    """`url` when a link to it may be shown (http(s), a host, no user info), else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return url


def link(url: str, label: str | None = None) -> Markup:
    href = safe_href(url)
    shown = escape(label if label is not None else url)
    if href is None:
        return Markup(shown)
    return Markup('<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>').format(href, shown)


def _autolink(text: str) -> Markup:
    """`text` escaped, with links for its http(s) URLs."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        out.append(str(link(match.group(0))))
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _lines(html: Markup) -> Markup:
    return Markup(str(html).replace("\n", "<br>\n"))


def plain_html(text: str) -> Markup:
    """Plain text (X, Facebook): escaped, its links clickable, its line breaks kept."""
    return _lines(_autolink(text))


def slack_html(text: str) -> Markup:
    """Slack's mrkdwn (as sent) as Slack shows it: *bold*, _italic_, ~strike~, `code`, links,
    mentions, :emoji:, entities undone."""
    from posters.channels.slack import emojize, unescape

    pieces = []
    last = 0
    for match in _SLACK_MARKUP.finditer(text):
        pieces.append(_slack_plain(text[last:match.start()], emojize, unescape))
        pieces.append(_slack_markup(match.group(1), unescape))
        last = match.end()
    pieces.append(_slack_plain(text[last:], emojize, unescape))
    return _lines(Markup("").join(pieces))


def _slack_plain(text: str, emojize, unescape) -> Markup:
    raw = emojize(unescape(text))
    out, last = [], 0
    for match in _URL.finditer(raw):  # links first: an `_` in a URL is no italic
        out.append(_formatted(raw[last:match.start()]))
        out.append(str(link(match.group(0))))
        last = match.end()
    out.append(_formatted(raw[last:]))
    return Markup("".join(out))


def _formatted(text: str) -> str:
    html = str(escape(text))
    for pattern, tag in _FORMATS:
        html = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", html)
    return html


def _slack_markup(inner: str, unescape) -> Markup:
    target, _, label = inner.partition("|")
    label = unescape(label) if label else ""
    if target.startswith("@"):
        return Markup('<span class="mention">@{}</span>').format(label or target[1:])
    if target.startswith("#"):
        return Markup('<span class="mention">#{}</span>').format(label or target[1:])
    if target.startswith("!"):
        return Markup('<span class="mention">@{}</span>').format(label or target[1:].split("^")[0])
    return link(unescape(target), label or unescape(target))


def link_card(url: str) -> Markup:
    """Facebook's preview of a post's link: its site and address (Facebook fetches the rest)."""
    href = safe_href(url)
    if href is None:
        return Markup("")
    host = urlsplit(href).hostname or ""
    return Markup('<a class="link-card" href="{}" rel="noopener noreferrer nofollow" target="_blank">'
                  '<span class="link-host">{}</span><span class="link-url">{}</span></a>').format(href, host.upper(), href)
