"""From meetups to drafts: what each configured channel should say, kept in step with the stream.

Run at the start of `pulse publish` (and by `pulse posts list`): it reads the meetups touched
since the last seen `seq` from the analytics models (`analytics.meetups`, the one derivation of
a meetup; built first when stale) and, per channel of their city:

* a new meetup gets an announcement draft: *scheduled* in auto mode, *pending_approval* in
  approval mode; never for a meetup created before the channel was enabled, already started,
  or already cancelled (so a year of history posts nothing);
* a change before publishing re-renders the draft (approved → pending_approval again in
  approval mode); a cancellation withdraws it;
* after publishing, a change of time or venue makes an *update* draft, a cancellation a
  *cancel* draft; both always need approval;
* a meetup that moved to another city (its latest events name another city) is, for the old
  city's channels, as good as cancelled there: their waiting drafts are withdrawn, and a
  published announcement gets a cancellation follow-up when the meetup is cancelled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from typing import Callable

from pulse.core.config import Config
from pulse.core.instants import parse_instant

from analytics.meetups import Meetup
from posters import drafts
from posters.channels import ChannelSettings
from posters.drafts import DraftError
from posters.store import SENT_OR_MAYBE, WAITING, PostStore, iso, parse_iso

ACTOR = "pulse (drafting)"


@dataclass
class SyncSummary:
    drafted: int = 0
    rerendered: int = 0
    withdrawn: int = 0
    followups: int = 0
    errors: list[str] = field(default_factory=list)


def read_changes(config: Config, after_seq: int, *, builder: Callable[[Config], object] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> tuple[list[Meetup], int]:
    """(meetups changed by events after `after_seq`, the seq the models are built up to), from
    up-to-date models (built first when stale, by `builder`)."""
    from analytics import metrics
    from analytics.meetups import changed_since

    with metrics.connect(config, build_if_stale=True, builder=builder, on_notice=on_notice or (lambda m: None)) as con:
        return changed_since(con, after_seq)


def sync(config: Config, store: PostStore, now: dt.datetime, *, read=read_changes,
         builder: Callable[[Config], object] | None = None) -> SyncSummary:
    summary = SyncSummary()
    channels = {city.slug: city.channels for city in config.cities if city.channels}
    after = int(store.meta("last_seq", "0"))
    meetups, upto = read(config, after, builder=builder)
    with store.transaction() as con:
        # Record each channel's enable time on first sight, even before it has any meetup.
        for city_channels in channels.values():
            for channel in city_channels:
                store.enabled_since(con, channel.city, channel.kind, channel.enabled_since, now)
        configured = {(c.city, c.kind): c for city_channels in channels.values() for c in city_channels}
        for meetup in meetups:
            for channel in channels.get(meetup.city, ()):
                try:
                    _apply(store, con, channel, meetup, now, summary)
                except DraftError as error:
                    summary.errors.append(f"{channel.key}: meetup {meetup.event_id}: {error}")
            moved_from = {(p.city, p.channel) for p in store.find(event_id=meetup.event_id) if p.city != meetup.city}
            for key in sorted(moved_from):
                if key in configured:
                    _apply_moved(store, con, configured[key], meetup, now, summary)
        # Two syncs may overlap (`pulse posts list` beside `pulse publish`): each re-reads the posts
        # inside its transaction, and the position only moves forward.
        if upto > int(store.meta("last_seq", "0")):
            store.set_meta(con, "last_seq", str(upto))
    return summary


def due_at(channel: ChannelSettings, meetup: Meetup) -> dt.datetime:
    days = channel.days_before
    if days is None:
        return meetup.created_at
    return max(meetup.created_at, meetup.starts_at - dt.timedelta(days=days))


def _apply(store: PostStore, con, channel: ChannelSettings, meetup: Meetup, now: dt.datetime, summary: SyncSummary) -> None:
    recorded = store.enabled_since(con, channel.city, channel.kind, channel.enabled_since, now)
    since = parse_instant(recorded) or parse_iso(recorded)
    posts = [p for p in store.find(city=meetup.city, event_id=meetup.event_id, channel=channel.kind)]
    announce = next((p for p in posts if p.kind == "announce"), None)
    snapshot = drafts.snapshot(meetup)

    if announce is None:
        if meetup.cancelled or meetup.created_at is None or meetup.created_at < since or meetup.starts_at <= now:
            return
        text, content = drafts.draft(channel, "announce", meetup)
        store.insert(con, actor=ACTOR, city=meetup.city, event_id=meetup.event_id, channel=channel.kind,
                     kind="announce", mode=channel.mode,
                     state="scheduled" if channel.mode == "auto" else "pending_approval",
                     text=text, content=content, snapshot=snapshot, starts_at=iso(meetup.starts_at),
                     due_at=iso(due_at(channel, meetup)))
        summary.drafted += 1
        return

    if announce.state in WAITING:
        if meetup.cancelled:
            store.change(con, announce.id, actor=ACTOR, action="withdraw", detail="the meetup was cancelled",
                         state="withdrawn")
            summary.withdrawn += 1
        elif announce.snapshot != snapshot:
            _rerender(store, con, channel, announce, meetup, "announce", due_at(channel, meetup))
            summary.rerendered += 1
        return

    if announce.state not in SENT_OR_MAYBE:
        return  # rejected or withdrawn: nothing more to say on this channel

    followups = [p for p in posts if p.kind in ("update", "cancel")]
    open_updates = [p for p in followups if p.kind == "update" and p.state in WAITING]
    if meetup.cancelled:
        for update in open_updates:
            store.change(con, update.id, actor=ACTOR, action="withdraw", detail="the meetup was cancelled",
                         state="withdrawn")
            summary.withdrawn += 1
        if not any(p.kind == "cancel" for p in followups):
            _followup(store, con, channel, announce, meetup, "cancel", now)
            summary.followups += 1
        return

    # What the channel's readers last saw: the announcement, or the latest update that went out.
    shown = [announce] + [p for p in followups if p.kind == "update" and p.state in SENT_OR_MAYBE]
    baseline = max(shown, key=lambda p: p.id).snapshot
    changed = (parse_iso(baseline["starts_at"]) != meetup.starts_at) or (baseline["venue"] != meetup.venue)
    if changed:
        if open_updates:
            for update in open_updates:
                if update.snapshot != snapshot:
                    _rerender(store, con, channel, update, meetup, "update", now, always_approve=True)
                    summary.rerendered += 1
        else:
            _followup(store, con, channel, announce, meetup, "update", now)
            summary.followups += 1
    else:
        for update in open_updates:
            store.change(con, update.id, actor=ACTOR, action="withdraw",
                         detail="the meetup is back to what was published", state="withdrawn")
            summary.withdrawn += 1


def _apply_moved(store: PostStore, con, channel: ChannelSettings, meetup: Meetup, now: dt.datetime,
                 summary: SyncSummary) -> None:
    """A channel of a city the meetup has left: nothing more is said there, but a cancellation."""
    posts = store.find(city=channel.city, event_id=meetup.event_id, channel=channel.kind)
    announce = next((p for p in posts if p.kind == "announce"), None)
    if announce is None:
        return
    for post in posts:
        if post.state in WAITING and (post.kind != "cancel" or not meetup.cancelled):
            store.change(con, post.id, actor=ACTOR, action="withdraw", state="withdrawn",
                         detail=f"the meetup moved to {meetup.city}")
            summary.withdrawn += 1
    if meetup.cancelled and announce.state in SENT_OR_MAYBE and not any(p.kind == "cancel" for p in posts):
        _followup(store, con, channel, announce, meetup, "cancel", now)
        summary.followups += 1


def _rerender(store, con, channel, post, meetup, kind, due, always_approve: bool = False) -> None:
    text, content = drafts.draft(channel, kind, meetup)
    state = post.state
    if always_approve or post.mode == "approval":
        state = "pending_approval"  # new wording (or a new time): a person approves again
    elif state == "failed":
        state = "scheduled"
    detail = "the meetup changed" + (f"; the wording edited by {post.edited_by} was replaced" if post.edited_by else "")
    store.change(con, post.id, actor=ACTOR, action="re-render", detail=detail, state=state, text=text,
                 content=content, snapshot=drafts.snapshot(meetup), starts_at=iso(meetup.starts_at), due_at=iso(due),
                 edited_by=None, approval_request=None,
                 approved_by=None if state == "pending_approval" else post.approved_by,
                 approved_at=None if state == "pending_approval" else post.approved_at)


def _followup(store, con, channel, announce, meetup, kind, now) -> None:
    text, content = drafts.draft(channel, kind, meetup)
    store.insert(con, actor=ACTOR, city=channel.city, event_id=meetup.event_id, channel=channel.kind, kind=kind,
                 mode="approval", state="pending_approval", text=text, content=content,
                 snapshot=drafts.snapshot(meetup), starts_at=iso(meetup.starts_at), due_at=iso(now),
                 parent_id=announce.id,
                 detail=f"follows up post {announce.id}, which is {announce.state}")
