"""For `pulse demo`: draft the demo region's upcoming meetups on all three channels and dry-run them.

The demo has no real accounts, so its channels are made up here (enabled since long ago so the
generated meetups qualify; secrets are not needed for a dry run). Slack posts automatically; X
and Facebook wait for approval, so the organiser's desk (`pulse serve`, then /posts) has
something to approve, edit and reject. Nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import io

from pulse.core.config import Config
from pulse.core.warehouse import open_warehouse

from posters.publisher import Publisher
from posters.settings import cities_section

DEMO_ENABLED_SINCE = "2000-01-01T00:00:00Z"
DEMO_MODES = {"slack": "auto", "x": "approval", "facebook": "approval"}
"""Some channels in approval mode, so that the queue can be tried."""


def demo_channels(cities: list[str]) -> tuple:
    """Each city's three channels, as `[cities.SLUG.channels.*]` tables would give them."""
    raw = {}
    for slug in cities:
        common = {"post": "on_create", "enabled_since": DEMO_ENABLED_SINCE}
        env = slug.upper().replace("-", "_")
        raw[slug] = {"channels": {
            "slack": {"channel": f"#{slug}-meetups", "token_env": f"DEMO_{env}_SLACK_TOKEN",
                      "mode": DEMO_MODES["slack"], **common},
            "x": {"api_key_env": "DEMO_X_API_KEY", "api_secret_env": "DEMO_X_API_SECRET",
                  "access_token_env": f"DEMO_{env}_X_TOKEN", "access_secret_env": f"DEMO_{env}_X_SECRET",
                  "mode": DEMO_MODES["x"], **common},
            "facebook": {"page_id": f"demo-{slug}-page", "page_token_env": f"DEMO_{env}_FB_TOKEN",
                         "mode": DEMO_MODES["facebook"], **common},
        }}
    return cities_section().parse(raw, "cities")


def demo_posts(demo_config: Config, *, now: dt.datetime | None = None, show: int = 6) -> str:
    """Draft and dry-run the upcoming meetups in `demo_config`'s (already ingested) warehouse; the printout."""
    with open_warehouse(demo_config, write=False, purpose="demo posts") as con:
        cities = [row[0] for row in con.execute("SELECT DISTINCT city FROM events ORDER BY city").fetchall()]
    config = demo_config.replace(cities=demo_channels(cities))
    clock = (lambda: now) if now is not None else None
    publisher = Publisher(config, now=clock) if clock else Publisher(config)
    report = publisher.run(dry_run=True)
    out = io.StringIO()
    s = report.sync
    out.write(f"posts: {s.drafted} drafts for the upcoming meetups of {len(cities)} cities "
              f"(Slack, X and Facebook each); dry run, nothing sent\n")
    waiting = sum(report.pending_approval.values())
    for outcome in report.outcomes[:show]:
        out.write(f"--- post {outcome.post_id} would go to {outcome.where} ---\n{outcome.detail}\n")
    if len(report.outcomes) > show:
        out.write(f"... and {len(report.outcomes) - show} more: see them with "
                  f"`pulse --data-dir {demo_config.data_dir} posts list`\n")
    out.write(queue_line(demo_config, waiting) + "\n")
    return out.getvalue()


def queue_line(demo_config: Config, waiting: int) -> str:
    """Where the organiser's desk is: the line `pulse demo` shows about the posts queue."""
    return (f"posts queue: {waiting} X and Facebook drafts await approval at http://127.0.0.1:8080/posts "
            f"(run `pulse --data-dir {demo_config.data_dir} serve` and sign in; the top bar's Posts link)")
