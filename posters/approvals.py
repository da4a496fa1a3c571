"""What a person does to a post: approve, reject, edit, retry, resolve. The CLI, the web queue
and the Slack buttons all come here, so the rules (who may, from which state) are the same
everywhere.

Who may: an organiser or lead of the post's city, or an admin (`pulse.people`); every action is
recorded in the audit log with that person (and how: CLI, web, Slack).
"""

from __future__ import annotations

import hashlib
import re

from pulse.people import People, User

from posters import drafts
from posters.channels import kind_of
from posters.drafts import DraftError
from posters.store import Post, PostError, PostStore, iso, now_utc


def text_hash(post: Post) -> str:
    """A short fingerprint of the wording, so an approval given on a preview is for that wording."""
    return hashlib.sha256(post.text.encode("utf-8")).hexdigest()[:12]


def approver(people: People, email: str, city: str) -> User:
    user = people.get(email) if email else None
    if user is None:
        raise PostError(f"{email or '(nobody)'} is not a Pulse user; add them with `pulse users add`")
    if not user.can_see(city):
        raise PostError(f"{user.email} is not an organiser of {city}; only its organisers, leads or an admin may act on its posts")
    return user


def approve(store: PostStore, people: People, post_id: int, email: str, *, via: str = "cli",
            expected_hash: str | None = None) -> Post:
    post = store.get(post_id)
    user = approver(people, email, post.city)
    with store.transaction() as con:
        current = store.get(post_id)
        if expected_hash is not None and text_hash(current) != expected_hash:
            raise PostError(f"post {post_id} was changed since this preview; look at the new wording first")
        if current.state in ("approved", "scheduled"):
            return current
        if current.state not in ("pending_approval", "failed"):
            raise PostError(f"post {post_id} is {current.state}; only a post pending approval (or failed) can be approved")
        state = "scheduled" if current.state == "failed" and current.mode == "auto" else "approved"
        return store.change(con, post_id, actor=_actor(user, via), action="approve", state=state,
                            approved_by=user.email, approved_at=iso(now_utc()), not_before=None, last_error=None,
                            attempts=0 if current.state == "failed" else current.attempts)


def reject(store: PostStore, people: People, post_id: int, email: str, reason: str, *, via: str = "cli",
           expected_hash: str | None = None) -> Post:
    if not reason or not reason.strip():
        raise PostError("a rejection needs a reason (--reason TEXT)")
    post = store.get(post_id)
    user = approver(people, email, post.city)
    with store.transaction() as con:
        current = store.get(post_id)
        if expected_hash is not None and text_hash(current) != expected_hash:
            raise PostError(f"post {post_id} was changed since this preview; look at the new wording first")
        if current.state == "rejected":
            return current
        return store.change(con, post_id, actor=_actor(user, via), action="reject", detail=reason,
                            expect=("pending_approval", "approved", "scheduled", "failed"), state="rejected",
                            rejected_by=user.email, reject_reason=reason)


def edit(store: PostStore, people: People | None, post_id: int, plain: str, email: str | None, *,
         via: str = "cli") -> Post:
    """New words for a post not yet sent, written as plain text (`edit_text` gives the current
    ones so); the channel's escaping is Pulse's. Too long or refused: PostError, nothing changed."""
    post = store.get(post_id)
    actor = _actor(approver(people, email, post.city), via) if people is not None and email else f"{via} (operator)"
    plain = plain.replace("\r\n", "\n")
    try:
        # Measured before the lock is taken: a long text holds up nobody.
        text, content = drafts.edited(post.channel, post.content, plain)
    except DraftError as error:
        raise PostError(f"post {post_id}: {error}") from None
    with store.transaction() as con:
        current = store.get(post_id)
        if current.state not in ("pending_approval", "approved", "scheduled", "failed"):
            raise PostError(f"post {post_id} is {current.state}; only a post not yet sent can be edited")
        if current.content != post.content:
            raise PostError(f"post {post_id} was changed meanwhile; look at the new wording first")
        if plain == edit_text(current) or content == current.content:
            return current
        # New words need a new approval: an approved post goes back to the queue.
        state = "pending_approval" if current.mode == "approval" or current.kind != "announce" else current.state
        return store.change(con, post_id, actor=actor, action="edit", text=text, content=content,
                            edited_by=actor, state=state, approval_request=None,
                            approved_by=None if state == "pending_approval" else current.approved_by)


def edit_text(post: Post) -> str:
    """A post's words as a person edits them (no channel escaping: `&` rather than `&amp;`)."""
    return kind_of(post.channel).plain_text(post.text)


def retry(store: PostStore, people: People | None, post_id: int, email: str | None, *, via: str = "cli") -> Post:
    """Send a failed post again with the next publish run (its attempts start over)."""
    post = store.get(post_id)
    actor = _actor(approver(people, email, post.city), via) if people is not None and email else f"{via} (operator)"
    with store.transaction() as con:
        current = store.get(post_id)
        if current.state != "failed":
            raise PostError(f"post {post_id} is {current.state}; only a failed post can be retried")
        return store.change(con, post_id, actor=actor, action="retry", state=_queued_state(current),
                            attempts=0, not_before=None, last_error=None,
                            detail=f"sent again after: {current.last_error}" if current.last_error else None)


def resolve(store: PostStore, post_id: int, *, published_url: str | None, actor: str,
            people: People | None = None, email: str | None = None, via: str = "cli") -> Post:
    """Settle a post whose outcome was unknown: it is out (at `published_url`), or it is not (send
    it again). With `email`, that person must be a Pulse user who may act on the post's city."""
    if email:
        if people is None:
            raise PostError("who resolves cannot be checked here (no people store)")
        actor = _actor(approver(people, email, store.get(post_id).city), via)
    if published_url and not re.match(r"https?://[^\s@/]+(/\S*)?\Z", published_url):
        raise PostError(f"--published expects the post's URL (https://...), got {published_url!r}")
    with store.transaction() as con:
        current = store.get(post_id)
        if current.state != "needs_attention":
            raise PostError(f"post {post_id} is {current.state}; only a post that needs attention can be resolved")
        if published_url:
            return store.change(con, post_id, actor=actor, action="resolve", detail="published (confirmed by a person)",
                                state="published", external_url=published_url, last_error=None,
                                external_id=external_id_from_url(current.channel, published_url))
        return store.change(con, post_id, actor=actor, action="resolve", state=_queued_state(current), not_before=None,
                            last_error=None, attempts=0,
                            detail="not published (confirmed by a person): it will be sent by the next publish run")


def _queued_state(post: Post) -> str:
    """Where a post goes to be sent again: approved (it was, or follow-ups always are) or scheduled (auto)."""
    return "approved" if post.mode == "approval" or post.kind != "announce" or post.approved_by else "scheduled"


def external_id_from_url(channel: str, url: str) -> str:
    """The id follow-ups need (a Slack thread, an X reply) from the post's link, when it says."""
    return kind_of(channel).external_id_from_url(url)


def _actor(user: User, via: str) -> str:
    return f"{user.email} ({via})"
