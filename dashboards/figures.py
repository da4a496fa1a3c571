"""Plotly figures from the metrics API's DataFrames. Pure functions, no I/O.

Each function returns a plotly figure as a plain dict (`{"data": [...], "layout": {...}}`),
which plotly.js draws in the page. Plain dicts rather than `plotly.graph_objects`: building
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
from datetime import date

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
    "margin": {"l": 56, "r": 56, "t": 28, "b": 48},
    "height": 320,
    "hovermode": "x unified",
    "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


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


def _empty(layout: dict) -> dict:
    layout["annotations"] = [{"text": "No data in this range", "showarrow": False, "xref": "paper",
                              "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#777"}}]
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    return layout


def member_growth(frame: pd.DataFrame, period: str) -> dict:
    """Members at each period's end as a line; joins up and leaves down as bars."""
    layout = _layout(barmode="relative",
                     xaxis={"type": "date", "title": {"text": f"{period} starting"}},
                     yaxis={"title": {"text": "joins / leaves"}, "zeroline": True},
                     yaxis2={"title": {"text": "members"}, "overlaying": "y", "side": "right",
                             "rangemode": "tozero", "showgrid": False, "tickmode": "auto"})
    if not len(frame):
        return {"data": [], "layout": _empty(layout)}
    x = [_day(v) for v in frame["period_start"]]
    return {"data": [
        {"type": "bar", "name": "joins", "x": x, "y": [_number(v) for v in frame["joins"]],
         "marker": {"color": COLOURS["joins"]}},
        {"type": "bar", "name": "leaves", "x": x, "y": [-_number(v) for v in frame["leaves"]],
         "marker": {"color": COLOURS["leaves"]}, "customdata": [_number(v) for v in frame["leaves"]],
         "hovertemplate": "%{customdata}"},
        {"type": "scatter", "mode": "lines+markers", "name": "members at period end", "x": x,
         "y": [_number(v) for v in frame["members_end"]], "yaxis": "y2",
         "line": {"color": COLOURS["members"], "width": 3}},
    ], "layout": layout}


def attendance_trend(frame: pd.DataFrame) -> dict:
    """Going and checked-in per month as bars, the attendance rate as a line (percent)."""
    layout = _layout(barmode="group",
                     xaxis={"type": "date", "title": {"text": "month"}, "dtick": "M1"},
                     yaxis={"title": {"text": "people"}, "rangemode": "tozero"},
                     yaxis2={"title": {"text": "attendance rate"}, "overlaying": "y", "side": "right",
                             "range": [0, 105], "showgrid": False, "tickmode": "linear", "tick0": 0,
                             "dtick": 25, "ticksuffix": "%"})
    if not len(frame):
        return {"data": [], "layout": _empty(layout)}
    x = [_day(v) for v in frame["month"]]
    rates = [None if _number(v) is None else round(float(v) * 100, 2) for v in frame["attendance_rate"]]
    return {"data": [
        {"type": "bar", "name": "going", "x": x, "y": [_number(v) for v in frame["going"]],
         "marker": {"color": COLOURS["going"]}},
        {"type": "bar", "name": "checked in", "x": x, "y": [_number(v) for v in frame["checked_in"]],
         "marker": {"color": COLOURS["checked_in"]}},
        {"type": "scatter", "mode": "lines+markers", "name": "attendance rate", "x": x, "y": rates,
         "yaxis": "y2", "line": {"color": COLOURS["rate"], "width": 3}, "connectgaps": False,
         "hovertemplate": "%{y:.2f}%"},
    ], "layout": layout}


def blog_views(frame: pd.DataFrame, period: str) -> dict:
    """Views of all the city's posts together, per period."""
    layout = _layout(xaxis={"type": "date", "title": {"text": f"{period} starting"}},
                     yaxis={"title": {"text": "views"}, "rangemode": "tozero"})
    if not len(frame):
        return {"data": [], "layout": _empty(layout)}
    per_period = frame.groupby("period_start", sort=True)["views"].sum()
    return {"data": [
        {"type": "bar", "name": "views", "x": [_day(v) for v in per_period.index],
         "y": [_number(v) for v in per_period.values], "marker": {"color": COLOURS["views"]}},
    ], "layout": layout}


def top_posts(frame: pd.DataFrame, shown: int = 10, label_length: int = 48) -> dict:
    """The most viewed posts as horizontal bars, the most viewed on top."""
    top = frame.head(shown)
    layout = _layout(hovermode="closest", showlegend=False,
                     height=max(240, 60 + 28 * len(top)),
                     margin={"l": 16, "r": 24, "t": 8, "b": 40},
                     xaxis={"title": {"text": "views"}, "rangemode": "tozero"},
                     yaxis={"autorange": "reversed", "automargin": True, "type": "category"})
    if not len(top):
        return {"data": [], "layout": _empty(layout)}
    labels, hovers = [], []
    for rank, (title, post_id) in enumerate(zip(top["title"], top["post_id"]), start=1):
        name = title if title else f"(untitled {post_id})"
        short = name if len(name) <= label_length else name[: label_length - 1] + "\u2026"
        # The rank keeps two posts of the same title apart on the category axis.
        labels.append(f"{rank}. {plain_text(short)}")
        hovers.append(plain_text(name))
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
