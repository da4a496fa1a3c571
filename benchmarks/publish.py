"""Benchmark: 1,000 approved posts over Slack, X and Facebook against the local fake APIs.

Each channel's account has a rate limit (`--rate` posts a minute); the fake servers also answer
a few 429s and 500s on the way. Prints posts/s per channel against its limit, and the two
numbers that must be 0: duplicates (a post the API received twice) and lost posts (approved but
neither published nor on the server).

First, drafting one meetup whose title is `--title-chars` long on all three channels: as the
stream gives it (unbounded, what drafting used to measure while it held the posts file's write
lock) against the bounded text drafting now uses, and their ratio, measured in the same run.

    .venv/bin/python benchmarks/publish.py [--posts 1000] [--rate 600] [--faults 3] [--title-chars 20000]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posters import drafts  # noqa: E402
from posters.publisher import Publisher  # noqa: E402
from posters.store import PostStore, iso  # noqa: E402
from pulse.core import config as config_module  # noqa: E402
from tests.fakes.social_servers import FacebookServer, SlackServer, XServer  # noqa: E402
from tests.support.posters import SECRETS, channels  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=600.0, help="posts a minute per account")
    parser.add_argument("--faults", type=int, default=3, help="429s and 500s each server answers")
    parser.add_argument("--title-chars", type=int, default=20_000, help="title length for the drafting figures")
    args = parser.parse_args()
    os.environ.update(SECRETS)
    drafting_figures(args.title_chars)
    folder = Path(tempfile.mkdtemp(prefix="pulse-bench-publish-"))
    with SlackServer() as slack, XServer() as x, FacebookServer() as fb:
        servers = {"slack": slack, "x": x, "facebook": fb}
        raw = {"warehouse": {"data_dir": str(folder)}, **channels(servers, city="bench", rate=args.rate)}
        raw["publisher"].update(backoff_base_seconds=0.05, backoff_max_seconds=0.5, max_attempts=6)
        config = config_module.from_dict(raw, base_dir=folder)
        for server in servers.values():
            for _ in range(args.faults):
                server.serve(37)
                server.rate_limit(1) if server is not x else server.rate_limit(1)
                server.serve(41)
                server.fail(500, {"ok": False, "error": "internal_error"} if server is slack else
                            {"error": {"message": "An unknown error has occurred.", "code": 1}} if server is fb else
                            {"title": "Internal Server Error", "status": 500})
        starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
        kinds = ("slack", "x", "facebook")
        with PostStore(config) as store, store.transaction() as con:
            for i in range(args.posts):
                kind = kinds[i % 3]
                text = f"Benchmark meetup {i} https://platform.example.com/e/{i}"
                content = {"slack": {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]},
                           "x": {"text": text}, "facebook": {"message": text, "link": f"https://platform.example.com/e/{i}"}}[kind]
                store.insert(con, actor="benchmark", city="bench", event_id=f"b{i}", channel=kind, kind="announce",
                             mode="approval", state="approved", text=text, content=content, snapshot={},
                             starts_at=iso(starts), due_at=iso(dt.datetime.now(dt.UTC)))
        started = time.monotonic()
        Publisher(config).run(send_approval_requests=False)
        elapsed = time.monotonic() - started
        with PostStore(config) as store:
            posts = store.find(city="bench")
        print(f"{args.posts} approved posts, {args.rate:g} posts/min per account "
              f"({args.rate / 60:.1f}/s), {args.faults} x 429 and {args.faults} x 500 per server")
        for kind in kinds:
            mine = [p for p in posts if p.channel == kind]
            published = [p for p in mine if p.state == "published"]
            rate = len(published) / elapsed if elapsed else 0
            print(f"  {kind:<9} {len(published):>4}/{len(mine)} published, {rate:6.1f} posts/s "
                  f"(limit {args.rate / 60:.1f}/s), retries {sum(p.attempts - 1 for p in mine)}")
        received = collections.Counter()
        for kind, server in servers.items():
            for post in server.posts:
                received[(kind, post.get("text") or post.get("message"))] += 1
        duplicates = sum(n - 1 for n in received.values() if n > 1)
        on_server = {key for key in received}
        lost = sum(1 for p in posts if p.state != "published" and (p.channel, p.text) not in on_server)
        not_published = sum(1 for p in posts if p.state != "published")
        print(f"total {sum(1 for p in posts if p.state == 'published')} published in {elapsed:.2f} s "
              f"({args.posts / elapsed:.1f} posts/s over all three; limit {3 * args.rate / 60:.1f}/s)")
        print(f"duplicates: {duplicates} (must be 0)")
        print(f"lost posts: {lost} (must be 0); not published: {not_published}")
        sys.exit(0 if duplicates == 0 and lost == 0 and not_published == 0 else 1)


def drafting_figures(chars: int) -> None:
    title = ("Night of the very long title " * (chars // 29 + 1))[:chars]
    meetup = drafts.Meetup(city="bench", event_id="b", title=title, venue="Hall " * (chars // 10),
                           starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3), created_at=None,
                           timezone="Australia/Sydney", url="https://platform.example.com/e/b")
    config = config_module.from_dict({"cities": {"bench": {"channels": {
        "slack": {"channel": "#m", "token_env": "T"}, "facebook": {"page_id": "1", "page_token_env": "P"},
        "x": {"api_key_env": "A", "api_secret_env": "B", "access_token_env": "C", "access_secret_env": "D"}}}}})
    channel_list = config.cities[0].channels

    def timed(value) -> float:
        started = time.perf_counter()
        for channel in channel_list:
            with contextlib.suppress(drafts.DraftError):  # the unbounded text may not fit at all: timed anyway
                drafts.draft(channel, "announce", value)
        return time.perf_counter() - started

    timed(drafts.prepare(meetup)[0])  # warm up (regexes, imports)
    bounded = min(timed(drafts.prepare(meetup)[0]) for _ in range(5))
    unbounded = timed(meetup)
    print(f"drafting a meetup with a {chars:,}-character title and venue on Slack, X and Facebook: "
          f"unbounded {unbounded * 1000:,.0f} ms, bounded {bounded * 1000:,.1f} ms "
          f"({unbounded / bounded:,.0f} x faster)")


if __name__ == "__main__":
    main()
