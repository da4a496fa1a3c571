"""The blog: when each chapter publishes a post, and each post's life: ``blog:post_published``
(sometimes again, with an edited title) and its views, by anonymous visitors, returning
readers and members. Views are the bulk of the stream.

A post is planned as ``(published, city index, title)``; ``title`` is ``None`` for a post
titled from the chapter's recent meetups, else one of the non-ASCII titles below.
"""

from __future__ import annotations

from pulse.demo import words
from pulse.demo.clock import DAY_MS, HOUR_MS
from pulse.demo.world import World, sround

Post = tuple[int, int, str | None]

# titles that are not plain ASCII text (markup, emoji, CJK, quotes), each with the city it is
# about and the index of the city it goes to when that one is not in the region
_SPECIAL_TITLES = [
    (None, 0, "Security night recap: <script>alert(1)</script> is not a title"),
    ("auckland", 3, "Tāmaki Makaurau meetup recap: kia ora 👋🎉"),
    ("singapore", 4, "新加坡 Python 聚会回顾 🚀 — async & \"quotes\""),
    ("melbourne", 1, "Café ☕ & Kaffeeklatsch: Zürich-style code review"),
]


def month_plan(w: World, ci: int, y: int, mo: int, ndays: int) -> list[Post]:
    """City ``ci``'s posts in local month ``y-mo``, in the morning."""
    rng, randint = w.rng, w.randint
    clock = w.clocks[ci]
    planned = []
    for _ in range(sround(rng, rng.choice((1, 2, 2, 3)) * w.scale)):
        day = randint(1, ndays)
        tp = clock.local(y, mo, day, randint(8, 11), randint(0, 59)) + w.randrange(60_000)
        if w.start_ms + 3 * DAY_MS <= tp <= w.now_ms:
            planned.append((tp, ci, None))
    return planned


def special_posts(w: World) -> list[Post]:
    """The posts with the titles that are not plain ASCII, spread over the window."""
    planned = []
    for k, (slug, fallback, title) in enumerate(_SPECIAL_TITLES):
        ci = w.slugs.index(slug) if slug in w.slugs else fallback % w.ncity
        tp = w.start_ms + int(w.days * (0.2 + 0.15 * k) * DAY_MS) + w.randrange(DAY_MS)
        planned.append((tp, ci, title))
    return planned


def plan_post(w: World, tp: int, ci: int, special: str | None) -> None:
    """Schedule one post's events, from its publication at ``tp`` (planned on that day)."""
    rng, rnd, randint, put, expo = w.rng, w.rnd, w.randint, w.put, w.expo
    w.last_post += 1
    pid = f"p_{w.last_post}"
    if special:
        title = special
    else:
        ld = w.clocks[ci].local_date(tp)
        recent = w.recent_titles[ci]
        meetup = rng.choice(recent) if recent else w.names[ci]
        title = rng.choice(words.BLOG).format(
            m=meetup, c=w.names[ci], mon=words.MONTHS[ld.month % 12], n=randint(3, 12),
            t=rng.choice(words.TOPICS), v=rng.choice(w.venues[ci]), s=rng.choice(w.series[ci]))
    data = {"post_id": pid, "title": title,
            "url": f"https://community.example.org/{w.slugs[ci]}/blog/{pid}"}
    regs = w.regulars[ci]
    if regs and rnd() < 0.8:
        data["author_id"] = regs[w.randrange(min(len(regs), 5))]
    put(tp, "blog:post_published", ci, data)
    if rnd() < 0.05:  # republished with an edited title
        d2 = dict(data)
        d2["title"] = title + " (updated)"
        put(tp + randint(1, 72) * HOUR_MS, "blog:post_published", ci, d2)
    nviews = int(rng.lognormvariate(3.8, 0.7))
    vis = w.visitors[ci]
    pool = w.pools[ci].items
    now_ms, buckets, next_seq, new_visitor = w.now_ms, w.buckets, w.next_seq, w.new_visitor
    referrers = words.REFERRERS
    for _ in range(nviews):
        # (the condition draws first, as it always has: the same seed gives the same stream)
        t = tp + int(expo(1.0) * 2 * DAY_MS) if rnd() < 0.85 else tp + int(expo(1.0) * 20 * DAY_MS)
        r = rnd()
        data = {"post_id": pid}
        if r < 0.35 and vis:
            data["visitor_id"] = vis[int(rnd() * len(vis))]
        elif r < 0.55 and pool:
            u = pool[int(rnd() * len(pool))]
            data["visitor_id"] = "v-" + u
            data["user_id"] = u
        else:
            v = new_visitor()
            data["visitor_id"] = v
            if rnd() < 0.3:
                vis.append(v)
        r = rnd()
        if r < 0.5:
            data["referrer"] = referrers[int(r * 14)]
        # put(), inlined: views are the bulk of the stream, and never land before the day
        # being planned (they follow the post)
        if t <= now_ms:
            buckets[t // DAY_MS].append((t, next_seq(), "blog:post_viewed", ci, data))
            if rnd() < 0.05:  # reloads the page a bit later
                put(t + randint(5, 600) * 1000, "blog:post_viewed", ci, dict(data))
