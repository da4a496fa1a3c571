"""From meetups to drafts: what each configured channel should say, kept in step with the stream.

Run at the start of `pulse publish` (and by `pulse posts list`): it reads the meetups touched
since the last seen `seq` from the analytics models (`analytics.meetups`, the one derivation of
a meetup; built first when stale) and, per channel of their city:

* a new meetup gets an announcement draft: *scheduled* in auto mode, *pending_approval* in
  approval mode; never for a meetup already started or cancelled, nor one created before the
  channel was enabled (so a year of history posts nothing; the summary says how many upcoming
  meetups were left out that way);
* a change before publishing re-renders the draft (approved → pending_approval again in
  approval mode); a cancellation withdraws it;
* after publishing, a change of title, time or venue makes an *update* draft saying which
  changed, a cancellation a *cancel* draft; both always need approval;
* a meetup that moved to another city (its latest events name another city) is, for the old
  city's channels, as good as cancelled there: their waiting drafts are withdrawn, and a
  published announcement gets a cancellation follow-up when the meetup is cancelled.

How, so that one meetup never holds up the others: user text is bounded first
(`drafts.prepare`), then each meetup is *planned* from its posts as they are (a pure function,
`plan`), its drafts are rendered with no lock held, and only then is the plan applied in one
short `BEGIN IMMEDIATE` transaction, which plans again on the posts as they are now (another
sync may have run meanwhile) and starts over if that needs a draft not rendered yet. A meetup
that cannot be drafted (`DraftError`, or any failure while drafting) is an error of this sync
and is kept in `sync_retry`: every later sync reads it again and reports it until it drafts
(say, once its channel's template is fixed); the others go on, and `last_seq` advances.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable

from pulse.core.config import Config
from pulse.core.instants import parse_instant

from analytics.meetups import Meetup
from posters import drafts
from posters.channels import ChannelSettings
from posters.drafts import DraftError
from posters.store import SENT_OR_MAYBE, WAITING, Post, PostStore, iso, parse_iso

ACTOR = "pulse (drafting)"
_ATTEMPTS = 5
"""Times one meetup is planned again when another sync changed its posts meanwhile."""


@dataclass
class SyncSummary:
    drafted: int = 0
    rerendered: int = 0
    withdrawn: int = 0
    followups: int = 0
    errors: list[str] = field(default_factory=list)
    """Meetups that could not be drafted (each tried again by every sync until it drafts)."""
    notes: list[str] = field(default_factory=list)
    """What was left out of a draft and why (a link that may not be published)."""
    skipped: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Channel key → (upcoming meetups not posted because created before the channel was enabled, since when)."""

    def skipped_lines(self) -> list[str]:
        return [f"{key}: {count} upcoming meetup{'s' if count != 1 else ''} created before this channel was enabled "
                f"({since}) {'are' if count != 1 else 'is'} not posted; to post them, set enabled_since earlier "
                f"in [{key}]" for key, (count, since) in sorted(self.skipped.items())]


# -- the plan: what to do to one channel's posts of one meetup (pure) -------------------------

@dataclass(frozen=True)
class Insert:
    kind: str
    state: str
    mode: str
    due: dt.datetime
    parent: Post | None = None
    changes: str = ""


@dataclass(frozen=True)
class Rerender:
    post: Post
    kind: str
    due: dt.datetime
    always_approve: bool = False
    changes: str = ""


@dataclass(frozen=True)
class Withdraw:
    post: Post
    detail: str


@dataclass(frozen=True)
class Skip:
    """Not posted: the meetup was created before the channel was enabled."""


def plan(channel: ChannelSettings, meetup: Meetup, posts: list[Post], since: dt.datetime,
         now: dt.datetime) -> list:
    """The steps that bring this channel's posts of `meetup` (a `prepare`d one) in step with it."""
    announce = next((p for p in posts if p.kind == "announce"), None)
    snapshot = drafts.snapshot(meetup)
    if announce is None:
        if meetup.cancelled or meetup.created_at is None or meetup.starts_at <= now:
            return []
        if meetup.created_at < since:
            return [Skip()]
        return [Insert("announce", "scheduled" if channel.mode == "auto" else "pending_approval", channel.mode,
                       due_at(channel, meetup))]

    if announce.state in WAITING:
        if meetup.cancelled:
            return [Withdraw(announce, "the meetup was cancelled")]
        if announce.snapshot != snapshot:
            return [Rerender(announce, "announce", due_at(channel, meetup))]
        return []

    if announce.state not in SENT_OR_MAYBE:
        return []  # rejected or withdrawn: nothing more to say on this channel

    followups = [p for p in posts if p.kind in ("update", "cancel")]
    open_updates = [p for p in followups if p.kind == "update" and p.state in WAITING]
    if meetup.cancelled:
        steps: list = [Withdraw(update, "the meetup was cancelled") for update in open_updates]
        if not any(p.kind == "cancel" for p in followups):
            steps.append(Insert("cancel", "pending_approval", "approval", now, announce))
        return steps

    # What the channel's readers last saw: the announcement, or the latest update that went out.
    shown = [announce] + [p for p in followups if p.kind == "update" and p.state in SENT_OR_MAYBE]
    baseline = max(shown, key=lambda p: p.id).snapshot
    changes = drafts.changes_between(baseline, meetup)
    if not changes:
        return [Withdraw(update, "the meetup is back to what was published") for update in open_updates]
    words = drafts.changes_text(changes)
    if open_updates:
        return [Rerender(update, "update", now, always_approve=True, changes=words)
                for update in open_updates if update.snapshot != snapshot]
    return [Insert("update", "pending_approval", "approval", now, announce, changes=words)]


def plan_moved(channel: ChannelSettings, meetup: Meetup, posts: list[Post], now: dt.datetime) -> list:
    """A channel of a city the meetup has left: nothing more is said there, but a cancellation."""
    announce = next((p for p in posts if p.kind == "announce"), None)
    if announce is None:
        return []
    steps: list = [Withdraw(p, f"the meetup moved to {meetup.city}") for p in posts
                   if p.state in WAITING and (p.kind != "cancel" or not meetup.cancelled)]
    if meetup.cancelled and announce.state in SENT_OR_MAYBE and not any(p.kind == "cancel" for p in posts):
        steps.append(Insert("cancel", "pending_approval", "approval", now, announce))
    return steps


def _draft_keys(steps) -> set[tuple[str, str]]:
    return {(s.kind, s.changes) for s in steps if isinstance(s, (Insert, Rerender))}


def due_at(channel: ChannelSettings, meetup: Meetup) -> dt.datetime:
    days = channel.days_before
    if days is None:
        return meetup.created_at
    return max(meetup.created_at, meetup.starts_at - dt.timedelta(days=days))


# -- reading and syncing -------------------------------------------------------------------

def read_changes(config: Config, after_seq: int, *, also: tuple[str, ...] = (),
                 builder: Callable[[Config], object] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> tuple[list[Meetup], int]:
    """(meetups changed by events after `after_seq`, and those of `also` (event ids), the seq the
    models are built up to), from up-to-date models (built first when stale, by `builder`)."""
    from analytics import metrics
    from analytics.meetups import changed_since, meetup

    with metrics.connect(config, build_if_stale=True, builder=builder, on_notice=on_notice or (lambda m: None)) as con:
        changed, upto = changed_since(con, after_seq)
        have = {(m.city, m.event_id) for m in changed}
        for event_id in also:
            again = meetup(con, event_id)
            if again is not None and (again.city, again.event_id) not in have:
                changed.append(again)
                have.add((again.city, again.event_id))
        return changed, upto


class _Replan(Exception):
    """Another sync changed this meetup's posts between planning and applying: plan again."""


def sync(config: Config, store: PostStore, now: dt.datetime, *, read=read_changes,
         builder: Callable[[Config], object] | None = None) -> SyncSummary:
    summary = SyncSummary()
    channels = {city.slug: city.channels for city in config.cities if city.channels}
    configured = {(c.city, c.kind): c for city_channels in channels.values() for c in city_channels}
    with store.transaction() as con:
        # Record each channel's enable time on first sight, even before it has any meetup.
        recorded = {key: store.enabled_since(con, c.city, c.kind, c.enabled_since, now) for key, c in configured.items()}
    since = {key: parse_instant(value) or parse_iso(value) for key, value in recorded.items()}
    seen = json.dumps({f"{city}/{kind}": value for (city, kind), value in sorted(recorded.items())})
    last = int(store.meta("last_seq", "0"))
    # A channel added or enabled earlier than before: meetups read already may now be due on it.
    after = last if store.meta("channels_since", seen) == seen else 0
    retry = store.sync_retries()
    meetups, upto = read(config, after, also=tuple(sorted({event_id for _, event_id in retry})), builder=builder)
    for meetup in meetups:
        _sync_meetup(store, configured, channels, meetup, since, now, summary)
    with store.transaction() as con:
        # Two syncs may overlap (`pulse posts list` beside `pulse publish`): each re-plans every
        # meetup inside its transaction, and the position only moves forward.
        if upto > int(store.meta("last_seq", "0")):
            store.set_meta(con, "last_seq", str(upto))
        store.set_meta(con, "channels_since", seen)
    return summary


def _sync_meetup(store: PostStore, configured, channels, meetup: Meetup, since, now, summary: SyncSummary) -> None:
    prepared, notes = drafts.prepare(meetup)
    moved_from = {(p.city, p.channel) for p in store.find(event_id=meetup.event_id) if p.city != meetup.city}
    targets = [(c, False) for c in channels.get(meetup.city, ())]
    targets += [(configured[key], True) for key in sorted(moved_from) if key in configured]
    if not targets:
        return
    rendered: dict[tuple[str, str, str], tuple[str, dict]] = {}
    failed: dict[str, str] = {}

    def steps_for(channel, moved):
        posts = store.find(city=channel.city, event_id=meetup.event_id, channel=channel.kind)
        if moved:
            return plan_moved(channel, prepared, posts, now)
        return plan(channel, prepared, posts, since[(channel.city, channel.kind)], now)

    for _ in range(_ATTEMPTS):
        # Drafting, outside any transaction: the posts file stays free for everyone else.
        for channel, moved in targets:
            if channel.key in failed:
                continue
            for kind, changes in _draft_keys(steps_for(channel, moved)):
                if (channel.key, kind, changes) in rendered:
                    continue
                try:
                    rendered[(channel.key, kind, changes)] = drafts.draft(channel, kind, prepared, changes)
                except Exception as error:  # noqa: BLE001 - one meetup that cannot be drafted holds up no other
                    failed[channel.key] = str(error) if isinstance(error, DraftError) else f"{type(error).__name__}: {error}"
                    break
        counts: Counter = Counter()
        skipped: list[ChannelSettings] = []
        try:
            with store.transaction() as con:
                for channel, moved in targets:
                    if channel.key in failed:
                        continue
                    steps = steps_for(channel, moved)  # again, now that no one else can write
                    if any((channel.key, kind, changes) not in rendered for kind, changes in _draft_keys(steps)):
                        raise _Replan
                    for step in steps:
                        if isinstance(step, Skip):
                            skipped.append(channel)
                        else:
                            counts[_apply(store, con, channel, prepared, step, rendered)] += 1
                store.set_sync_retry(con, meetup.city, meetup.event_id, failed, now)
        except _Replan:
            continue
        break
    else:
        failed.setdefault("(every channel)", "its posts kept changing while it was drafted")
        with store.transaction() as con:
            store.set_sync_retry(con, meetup.city, meetup.event_id, failed, now)
        counts, skipped = Counter(), []
    summary.drafted += counts["drafted"]
    summary.rerendered += counts["rerendered"]
    summary.withdrawn += counts["withdrawn"]
    summary.followups += counts["followups"]
    for channel in skipped:
        count, _ = summary.skipped.get(channel.key, (0, ""))
        enabled = since[(channel.city, channel.kind)].astimezone(dt.UTC)
        summary.skipped[channel.key] = (count + 1, enabled.strftime("%Y-%m-%d %H:%M UTC"))
    if counts["drafted"] or counts["rerendered"] or counts["followups"]:
        summary.notes.extend(notes)
    for key, error in sorted(failed.items()):
        summary.errors.append(f"{key}: meetup {meetup.event_id} could not be drafted: {error} "
                              "(tried again by every run until it drafts)")


def _apply(store: PostStore, con, channel: ChannelSettings, meetup: Meetup, step, rendered) -> str:
    if isinstance(step, Withdraw):
        store.change(con, step.post.id, actor=ACTOR, action="withdraw", detail=step.detail, state="withdrawn")
        return "withdrawn"
    text, content = rendered[(channel.key, step.kind, step.changes)]
    snapshot = drafts.snapshot(meetup)
    if isinstance(step, Insert):
        detail = f"follows up post {step.parent.id}, which is {step.parent.state}" if step.parent else None
        if step.changes:
            detail = f"{step.changes}; {detail}"
        store.insert(con, actor=ACTOR, city=channel.city, event_id=meetup.event_id, channel=channel.kind,
                     kind=step.kind, mode=step.mode, state=step.state, text=text, content=content, snapshot=snapshot,
                     starts_at=iso(meetup.starts_at), due_at=iso(step.due),
                     parent_id=step.parent.id if step.parent else None, detail=detail)
        return "drafted" if step.kind == "announce" else "followups"
    post = step.post
    state = post.state
    if step.always_approve or post.mode == "approval":
        state = "pending_approval"  # new wording (or a new time): a person approves again
    elif state == "failed":
        state = "scheduled"
    what = drafts.changes_text(drafts.changes_between(post.snapshot, meetup)) or "the meetup changed"
    detail = what + (f"; the wording edited by {post.edited_by} was replaced" if post.edited_by else "")
    store.change(con, post.id, actor=ACTOR, action="re-render", detail=detail, state=state, text=text,
                 content=content, snapshot=snapshot, starts_at=iso(meetup.starts_at), due_at=iso(step.due),
                 edited_by=None, approval_request=None, attempts=0 if post.state == "failed" else post.attempts,
                 approved_by=None if state == "pending_approval" else post.approved_by,
                 approved_at=None if state == "pending_approval" else post.approved_at)
    return "rerendered"
