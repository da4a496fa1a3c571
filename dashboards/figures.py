"""Plotly figures from the metrics API's DataFrames. Pure functions, no I/O.

Each function returns a plotly figure as a plain dict (`{"data": [...], "layout": {...}}`),
which plotly.js draws in the page, or None when there is nothing to draw: the page then shows
its one empty state instead of a chart with made-up axes. Plain dicts rather than `plotly.graph_objects`: building
and validating graph objects costs milliseconds per trace on every page view, and the figures
are the same JSON either way; the tests check every figure against plotly's schema.

Plotly.js reads a few HTML tags in text (`<b>`, `<br>`, `<a href>`) and decodes entities, so
every piece of user-written text in a figure (post titles) is HTML-escaped first: it then
shows literally, as text, never as markup.
"""

from __future__ import annotations

import html
import json
import math
from datetime import date, datetime, time, timedelta

import pandas as pd

COLOURS = {
    "members": "#1f3b73",
    "joins": "#2a9d8f",
    "leaves": "#e76f51",
    "going": "#8fb8de",
    "checked_in": "#1f3b73",
    "rate": "#e9a23b",
    "views": "#5e60ce",
}
_BASE_LAYOUT = {
    "margin": {"l": 48, "r": 48, "t": 28, "b": 40},
    "height": 320,
    "hovermode": "x unified",
    # namelength -1: a trace's name is never cut short in a tooltip.
    "hoverlabel": {"namelength": -1},
    "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}
_TARGET_TICKS = 8
DAY_MS = 86_400_000


def plain_text(text) -> str:
    """User-written text made safe for plotly's text rendering: shown literally."""
    return html.escape("" if text is None else str(text), quote=True)


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _number(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _layout(**extra) -> dict:
    """The shared layout; the page's card heading names the chart, so the figure has no title."""
    layout = json.loads(json.dumps(_BASE_LAYOUT))
    layout.update(extra)
    return layout


def period_axis(starts: list[date], period: str) -> dict:
    """A date axis for bars at period starts (ISO weeks named by their Monday, months by their
    first day): ticks on period starts only, labelled as the period is named ("31 Aug" for the
    week of 31 Aug, "Dec 2026"), hover "week of 31 Aug 2026", and the range exactly the periods
    shown (half a period either side of the first and last bar: nothing outside is drawn).

    Plotly's automatic date ticks put weekly ticks on Sundays, so the ticks are linear from
    the first period start, every `step` periods for about eight ticks."""
    step = max(1, math.ceil(len(starts) / _TARGET_TICKS))
    if period == "week":
        half = timedelta(days=3.5)
        dtick: object = step * 7 * DAY_MS
        tick_format, hover_format, title = "%-d %b", "week of %-d %b %Y", "week (named by its Monday)"
    else:
        half = timedelta(days=15.5)
        dtick = f"M{step}"
        tick_format, hover_format, title = "%b %Y", "%b %Y", "month"
    first = datetime.combine(starts[0], time()) - half
    last = datetime.combine(starts[-1], time()) + half
    return {"type": "date", "range": [first.isoformat(sep=" "), last.isoformat(sep=" ")], "tickmode": "linear",
            "tick0": starts[0].isoformat(), "dtick": dtick, "tickformat": tick_format, "hoverformat": hover_format,
            "title": {"text": title}, "fixedrange": True, "ticks": "outside"}


def _nice_step(top: float, count: int = 4) -> float:
    raw = max(top, 1) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def aligned_ranges(low: float, high: float, top2: float) -> tuple[list[float], list[float]]:
    """Ranges for a left axis holding values low..high (low <= 0 <= high) and a right axis
    holding 0..top2, with both zeros at the same height (so a line on the right axis starts
    where the bars do)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low == 0:
        high = 1.0
    pad = (high - low) * 0.08
    low, high = (low - pad if low < 0 else 0.0), high + pad
    zero_at = -low / (high - low)  # the zero's height, as a fraction of the plot
    top2 = max(top2, 1.0) * 1.08
    if zero_at >= 1.0:
        return [low, high], [-top2, top2]
    return [low, high], [-top2 * zero_at / (1 - zero_at), top2]


def member_growth(frame: pd.DataFrame, period: str) -> dict | None:
    """Members at each period's last day as a line; joins up and leaves down as bars. None
    when there is nothing to draw (no period, or nobody ever joined)."""
    if not len(frame) or not (frame["joins"].any() or frame["leaves"].any() or frame["members_end"].any()):
        return None
    starts = list(frame["period_start"])
    joins = [_number(v) for v in frame["joins"]]
    leaves = [_number(v) for v in frame["leaves"]]
    members = [_number(v) for v in frame["members_end"]]
    left, right = aligned_ranges(-max(leaves), max(joins), max(members))
    step = _nice_step(right[1])
    layout = _layout(barmode="relative", xaxis=period_axis(starts, period),
                     yaxis={"title": {"text": "joins / leaves"}, "range": left, "zeroline": True, "fixedrange": True},
                     yaxis2={"title": {"text": "members"}, "overlaying": "y", "side": "right", "range": right,
                             "showgrid": False, "zeroline": False, "fixedrange": True, "tickmode": "array",
                             "tickvals": [step * i for i in range(int(right[1] // step) + 1)]})
    x = [_day(v) for v in starts]
    return {"data": [
        {"type": "bar", "name": "joins", "x": x, "y": joins, "marker": {"color": COLOURS["joins"]},
         "hovertemplate": "%{y:,}"},
        {"type": "bar", "name": "leaves", "x": x, "y": [-v for v in leaves], "marker": {"color": COLOURS["leaves"]},
         "customdata": leaves, "hovertemplate": "%{customdata:,}"},
        {"type": "scatter", "mode": "lines+markers", "name": "members at period end", "x": x, "y": members,
         "yaxis": "y2", "line": {"color": COLOURS["members"], "width": 3}, "hovertemplate": "%{y:,}"},
    ], "layout": layout}


def attendance_trend(frame: pd.DataFrame, period: str) -> dict | None:
    """Going and checked-in per period as bars (meetups held only), the attendance rate as a
    line (percent, on a right axis from the same zero). None when no meetup was held."""
    if not len(frame) or not frame["events"].any():
        return None
    starts = list(frame["period_start"])
    going = [_number(v) for v in frame["going"]]
    checked = [_number(v) for v in frame["checked_in"]]
    rates = [None if _number(v) is None else round(float(v) * 100, 2) for v in frame["attendance_rate"]]
    layout = _layout(barmode="group", xaxis=period_axis(starts, period),
                     yaxis={"title": {"text": "people"}, "range": [0, max(max(going + checked), 1) * 1.08],
                            "fixedrange": True},
                     yaxis2={"title": {"text": "attendance rate"}, "overlaying": "y", "side": "right",
                             "range": [0, 108], "showgrid": False, "zeroline": False, "tickmode": "array",
                             "tickvals": [0, 25, 50, 75, 100], "ticksuffix": "%", "fixedrange": True})
    x = [_day(v) for v in starts]
    return {"data": [
        {"type": "bar", "name": "going", "x": x, "y": going, "marker": {"color": COLOURS["going"]},
         "customdata": [_number(v) for v in frame["events"]], "hovertemplate": "%{y:,} (%{customdata} meetups)"},
        {"type": "bar", "name": "checked in", "x": x, "y": checked, "marker": {"color": COLOURS["checked_in"]},
         "hovertemplate": "%{y:,}"},
        {"type": "scatter", "mode": "lines+markers", "name": "attendance rate", "x": x, "y": rates,
         "yaxis": "y2", "line": {"color": COLOURS["rate"], "width": 3}, "connectgaps": False,
         "hovertemplate": "%{y:.1f}%"},
    ], "layout": layout}


def blog_views(frame: pd.DataFrame, period: str, starts: list[date]) -> dict | None:
    """Views of all the city's posts together, per period (`starts`: every period shown, those
    without views drawn as zero). None when nothing was viewed."""
    if not len(frame) or not frame["views"].any() or not starts:
        return None
    per_period = frame.groupby("period_start", sort=True)["views"].sum()
    layout = _layout(xaxis=period_axis(starts, period),
                     yaxis={"title": {"text": "views"}, "rangemode": "tozero", "fixedrange": True})
    return {"data": [
        {"type": "bar", "name": "views", "x": [_day(v) for v in starts],
         "y": [_number(per_period.get(v, 0)) for v in starts], "marker": {"color": COLOURS["views"]},
         "hovertemplate": "%{y:,}"},
    ], "layout": layout}


NARROW_LABEL_LENGTH = 22


def _label(rank: int, name: str, length: int) -> str:
    short = name if len(name) <= length else name[: length - 1] + "\u2026"
    # The rank keeps two posts of the same title apart on the category axis.
    return f"{rank}. {plain_text(short)}"


def top_posts(frame: pd.DataFrame, shown: int = 10, label_length: int = 48) -> dict | None:
    """The most viewed posts as horizontal bars, the most viewed on top; None when none was viewed.
    `layout.meta.narrow_labels` are shorter labels the page uses on a narrow screen."""
    top = frame.head(shown)
    if not len(top):
        return None
    layout = _layout(hovermode="closest", showlegend=False,
                     height=max(200, 60 + 28 * len(top)),
                     margin={"l": 16, "r": 24, "t": 8, "b": 40},
                     xaxis={"title": {"text": "views"}, "rangemode": "tozero", "fixedrange": True},
                     yaxis={"autorange": "reversed", "automargin": True, "type": "category", "fixedrange": True})
    labels, narrow, hovers = [], [], []
    for rank, (title, post_id) in enumerate(zip(top["title"], top["post_id"], strict=True), start=1):
        name = title if title else f"(untitled {post_id})"
        labels.append(_label(rank, name, label_length))
        narrow.append(_label(rank, name, min(label_length, NARROW_LABEL_LENGTH)))
        hovers.append(plain_text(name))
    layout["meta"] = {"narrow_labels": narrow}
    return {"data": [
        {"type": "bar", "orientation": "h", "name": "views", "x": [_number(v) for v in top["views"]],
         "y": labels, "hovertext": hovers, "hovertemplate": "%{hovertext}<br>%{x} views<extra></extra>",
         "marker": {"color": COLOURS["views"]}},
    ], "layout": layout}


def to_json(figure: dict) -> str:
    """The figure as JSON that is safe inside a `<script type="application/json">` element:
    `<`, `>` and `&` written as escapes so no text can close the element."""
    text = json.dumps(figure, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
