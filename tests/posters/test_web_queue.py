"""The organiser's desk inside the real web app (Flask test client): the queue's cards and
previews, its actions and their errors, the live counter's endpoint, the calendar, the top bar's
link, and the Slack endpoint."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from posters.approvals import text_hash
from posters.publisher import Publisher
from posters.store import PostStore
from tests.support.posters import PASSWORD, click_request

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFORMANCE = Path(__file__).parent / "conformance" / "x-weighted-length.json"


def signed_in(app, email):
    client = app.test_client()
    token = CSRF.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    response = client.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert response.status_code == 302
    return client


def token_of(page: str) -> str:
    return CSRF.search(page).group(1)


def posts_of(config) -> dict:
    with PostStore(config) as store:
        return {p.channel: p for p in store.find()}


def test_one_card_per_meetup_with_rendered_previews(site):
    config, app = site
    assert app.test_client().get("/posts").status_code in (302, 401)  # signed out: sent to sign in
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    assert page.count('class="meetup"') == 1 and page.count('class="post state-pending_approval"') == 3
    # The title is data: escaped, isolated from the page's direction, never markup.
    assert "<bdi>Web &lt;b&gt;queue&lt;/b&gt;</bdi>" in page and "<b>queue</b>" not in page
    # Slack's mrkdwn rendered: bold, the emoji itself, no entity shown twice, no JSON.
    assert "<strong>Web &lt;b&gt;queue&lt;/b&gt;</strong>" in page and "📆" in page and ":calendar:" not in page
    assert "&amp;lt;" not in page and "blocks" not in page and '"type": "section"' not in page
    # Times in the city's own time, no microseconds; no internal ids as headings.
    assert re.search(r"class=\"starts\">\w{3} \d{1,2} \w{3}, \d\d:\d\d AE[DS]T<", page)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page) and "Meetup m1" not in page and ">m1<" not in page
    assert not re.search(r"\bPost \d+\b|\bpost \d+ ", page)
    # X's weighted count once, Facebook's link card.
    assert len(re.findall(r"\d+/280 as X counts", page)) == 1
    assert 'class="link-card"' in page and "PLATFORM.EXAMPLE.COM" in page
    # Only the actions of a post awaiting approval.
    assert page.count('name="approve"') == 3 and page.count('name="retry"') == 0 and 'name="approve_all"' in page


def test_the_top_bar_links_to_the_queue_with_the_pending_count(site):
    config, app = site
    for path in ("/", "/account", "/posts", "/posts/calendar"):
        page = signed_in(app, "org@sydney.example").get(path).get_data(as_text=True)
        assert '<a href="/posts">Posts <span class="badge">3</span></a>' in page, path
    other = signed_in(app, "org@perth.example").get("/account").get_data(as_text=True)
    assert '<a href="/posts">Posts</a>' in other  # no count: nothing of Perth waits


def test_approve_all_of_a_meetup_at_once_with_csrf(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    posts = posts_of(config)
    values = [f"{p.id}:{text_hash(p)}" for p in posts.values()]
    forged = client.post("/posts/meetup/approve", data={"csrf_token": "forged", "post": values})
    assert forged.status_code == 403
    done = client.post("/posts/meetup/approve", data={"csrf_token": token_of(page), "post": values, "back": "/posts"})
    assert done.status_code == 303 and done.headers["Location"] == "/posts"
    assert {p.state for p in posts_of(config).values()} == {"approved"}
    after = client.get("/posts?view=scheduled").get_data(as_text=True)
    assert "Approved all 3 posts of “Web &lt;b&gt;queue&lt;/b&gt;”" in after and 'class="flash ok"' in after
    assert after.count("Approved by <bdi>org@sydney.example</bdi>") == 3
    assert 'name="approve"' not in after  # no Approve on what is approved already


def test_a_back_field_with_crlf_is_refused_before_anything_is_done(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    token = token_of(client.get("/posts").get_data(as_text=True))
    x = posts_of(config)["x"]
    for back in ("/posts\r\nSet-Cookie: a=b", "https://evil.example/", "//evil.example/posts", "/postsx"):
        response = client.post(f"/posts/{x.id}/approve", data={"csrf_token": token, "back": back})
        assert response.status_code == 400, back
    assert posts_of(config)["x"].state == "pending_approval"


def test_slack_text_is_edited_as_plain_text_and_sent_escaped(site, servers):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    slack = posts_of(config)["slack"]
    # The edit box holds the words as a person writes them, not Slack's escaped form.
    assert "Web &lt;b&gt;queue&lt;/b&gt;" in page.split(f'id="text-{slack.id}"')[1].split("</textarea>")[0]
    saved = client.post(f"/posts/{slack.id}/edit", data={
        "csrf_token": token_of(page), "hash": text_hash(slack), "back": "/posts",
        "text": "*Games <night> & Q&A*\r\nBring a friend"})
    assert saved.status_code == 303
    slack = posts_of(config)["slack"]
    assert slack.text == "*Games &lt;night&gt; &amp; Q&amp;A*\nBring a friend"
    again = client.get("/posts").get_data(as_text=True)
    assert "<strong>Games &lt;night&gt; &amp; Q&amp;A</strong>" in again
    client.post(f"/posts/{slack.id}/approve", data={"csrf_token": token_of(again), "hash": text_hash(slack)})
    Publisher(config).run()
    assert servers["slack"].posts[-1]["text"] == "*Games &lt;night&gt; &amp; Q&amp;A*\nBring a friend"


def test_an_x_error_is_shown_as_an_error_and_the_text_is_kept(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    x = posts_of(config)["x"]
    words = "Far too long for X " * 20
    refused = client.post(f"/posts/{x.id}/edit", data={"csrf_token": token_of(page), "hash": text_hash(x),
                                                       "back": "/posts", "text": words})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    (alert,) = re.findall(r'<p class="flash error" role="alert">([^<]*)</p>', html)
    assert alert == "too long for X: 380 of 280 as X counts (a URL counts 23, CJK and emoji 2)"
    assert '<details class="edit" open>' in html.split(f'id="post-{x.id}"')[1]
    assert words.strip() in html.split(f'id="text-{x.id}"')[1].split("</textarea>")[0]
    assert posts_of(config)["x"].text == x.text and posts_of(config)["x"].state == "pending_approval"
    huge = client.post(f"/posts/{x.id}/edit", data={"csrf_token": token_of(page), "back": "/posts", "text": "x" * 50_000})
    assert huge.status_code == 422 and "50,000 characters, it takes at most 10,000" in huge.get_data(as_text=True)


def test_a_rejection_shows_the_reason_who_and_when(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    fb = posts_of(config)["facebook"]
    empty = client.post(f"/posts/{fb.id}/reject", data={"csrf_token": token_of(page), "hash": text_hash(fb),
                                                         "back": "/posts", "reason": "  "})
    assert empty.status_code == 422 and "say why it is rejected" in empty.get_data(as_text=True)
    done = client.post(f"/posts/{fb.id}/reject", data={"csrf_token": token_of(page), "hash": text_hash(fb),
                                                        "back": "/posts", "reason": "Not <on> Facebook"})
    assert done.status_code == 303
    card = client.get("/posts?view=closed").get_data(as_text=True)
    assert re.search(r"Rejected by <bdi>org@sydney.example</bdi>, \w{3} \d{1,2} \w{3}, \d\d:\d\d AE[DS]T: "
                     r"<q><bdi>Not &lt;on&gt; Facebook</bdi></q>", card)
    assert "History (2)" in card and "org@sydney.example (web): reject" in card


def test_filters_by_state_city_and_channel(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    assert client.get("/posts?channel=x").get_data(as_text=True).count('class="post ') == 1
    assert client.get("/posts?city=perth").get_data(as_text=True).count('class="post ') == 0
    assert client.get("/posts?view=published").get_data(as_text=True).count('class="post ') == 0
    assert client.get("/posts?view=all&channel=slack").get_data(as_text=True).count('class="post ') == 1
    assert client.get("/posts?view=nope").status_code == 400
    assert client.get("/posts?channel=myspace").status_code == 400


def test_organiser_of_another_city_sees_and_does_nothing(site):
    config, app = site
    client = signed_in(app, "org@perth.example")
    page = client.get("/posts").get_data(as_text=True)
    assert page.count('class="post ') == 0
    post = posts_of(config)["x"]
    assert client.post(f"/posts/{post.id}/approve", data={"csrf_token": token_of(page)}).status_code == 404
    assert client.post(f"/posts/{post.id}/measure", data={"text": "hi"},
                       headers={"X-CSRF-Token": token_of(page)}).status_code == 404
    assert client.get(f"/posts/{post.id}").status_code == 404
    assert posts_of(config)["x"].state == "pending_approval"


def test_the_live_counter_counts_by_the_servers_rule(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    token = token_of(client.get("/posts").get_data(as_text=True))
    posts = posts_of(config)
    assert client.post(f"/posts/{posts['x'].id}/measure", data={"text": "hi"}).status_code == 403  # no CSRF token
    cases = json.loads(CONFORMANCE.read_text(encoding="utf-8"))
    measured = 0
    for case in cases:
        answer = client.post(f"/posts/{posts['x'].id}/measure", data={"text": case["text"]},
                             headers={"X-CSRF-Token": token}).get_json()
        if len(case["text"]) > 10_000:  # refused before it is measured, as a save would be
            assert not answer["ok"] and "it takes at most 10,000" in answer["text"], case["description"]
            continue
        assert (answer["count"], answer["ok"]) == (case["weighted_length"], case["valid"]), case["description"]
        measured += 1
    assert measured >= len(cases) - 3
    # Slack counts the text as it is sent, after its escaping.
    slack = client.post(f"/posts/{posts['slack'].id}/measure", data={"text": "<a> & b"},
                        headers={"X-CSRF-Token": token}).get_json()
    assert slack == {"ok": True, "count": len("&lt;a&gt; &amp; b"), "limit": 3000, "text": "17/3000"}


def test_the_calendar_shows_the_posts_and_opens_their_cards(site):
    config, app = site
    client = signed_in(app, "org@sydney.example")
    starts = dt.datetime.fromisoformat(posts_of(config)["x"].snapshot["starts_at"])
    due = dt.datetime.fromisoformat(posts_of(config)["x"].due_at.replace("Z", "+00:00"))
    week = client.get(f"/posts/calendar?span=week&date={due.date().isoformat()}").get_data(as_text=True)
    entries = re.findall(r'<a class="entry state-pending_approval" href="([^"]+)"', week)
    ids = sorted(p.id for p in posts_of(config).values())
    assert sorted(entries) == [f"/posts/{i}#post-{i}" for i in ids]
    assert "<bdi class=\"entry-title\">Web &lt;b&gt;queue&lt;/b&gt;</bdi>" in week
    card = client.get(entries[0].split("#")[0]).get_data(as_text=True)
    assert card.count('class="post ') == 3 and entries[0].split("#")[1] in card
    month = client.get(f"/posts/calendar?span=month&date={starts.date().isoformat()}").get_data(as_text=True)
    assert "(3 posts)" in month or due.month != starts.month
    assert client.get("/posts/calendar?span=year").status_code == 400
    assert client.get("/posts/calendar?date=yesterday").status_code == 400


def test_slack_endpoint_is_reachable_without_sign_in_but_checks_signatures(site):
    config, app = site
    with PostStore(config) as store:
        post = store.find(channel="slack")[0]
        value = f"{post.id}:{text_hash(post)}"
    client = app.test_client()
    headers, body = click_request(value, "pulse_approve", "U0SYD", secret="wrong")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/slack/interactions", data=body, headers={**headers, **form}).status_code == 401
    headers, body = click_request(value, "pulse_approve", "U0SYD")
    ok = client.post("/slack/interactions", data=body, headers={**headers, **form})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    with PostStore(config) as store:
        assert store.get(post.id).state == "approved"


@pytest.mark.parametrize("path", ["/posts/999", "/posts/0"])
def test_a_meetup_page_that_is_not_there_is_404(site, path):
    _, app = site
    assert signed_in(app, "org@sydney.example").get(path).status_code == 404
