"""`pulse status` counts posts by what they wait for, against a hand count of the posts store."""

from __future__ import annotations

import datetime as dt
import itertools

from jobs.status import check
from posters.store import PostStore, iso


_ids = itertools.count(1)


def _post(store, con, first: str, **fields) -> int:
    now = dt.datetime.now(dt.UTC)
    post_id = store.insert(con, actor="test", city="sydney", event_id=f"m{next(_ids)}", channel="slack",
                           kind="announce", mode="approval", state=first, text="hi", content={}, snapshot={},
                           starts_at=iso(now + dt.timedelta(days=3)), due_at=iso(now))
    if fields:
        store.change(con, post_id, actor="test", action="set", **fields)
    return post_id


def test_posts_by_what_they_wait_for_and_which_need_a_person(config):
    later = iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    earlier = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with PostStore(config) as store, store.transaction() as con:
        for _ in range(3):
            _post(store, con, "pending_approval")
        _post(store, con, "failed")
        _post(store, con, "approved", not_before=later)   # throttled: waits for the channel's reset
        _post(store, con, "scheduled", not_before=later)
        _post(store, con, "scheduled", not_before=earlier)  # its wait is over: simply due
        _post(store, con, "published")
    health = check(config)
    assert health.posts == {"pending_approval": 3, "failed": 1, "needs_attention": 0, "waiting_retry": 2}
    assert "posts: 1 failed; fix the cause, then `pulse posts retry ID`" in health.problems
    assert not any(problem.startswith("posts:") and "attention" in problem for problem in health.problems)

    with PostStore(config) as store, store.transaction() as con:
        _post(store, con, "publishing", state="needs_attention")
    health = check(config)
    assert health.posts["needs_attention"] == 1 and not health.healthy
    assert any(problem.startswith("posts: 1 need attention") for problem in health.problems)


def test_no_posts_file_means_no_posts_line_and_is_not_created(config):
    health = check(config)
    assert health.posts == {} and not (config.data_dir / "posts.sqlite").exists()
