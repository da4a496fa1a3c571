"""The approval queue and the Slack endpoint inside the real dashboards app (Flask test client)."""

from __future__ import annotations

import datetime as dt
import re

from posters.store import PostStore
from tests.support.posters import PASSWORD, click_request

NOW = dt.datetime.now(dt.timezone.utc)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')



def signed_in(app, email):
    client = app.test_client()
    token = CSRF.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    response = client.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert response.status_code == 302
    return client


def test_queue_shows_previews_and_approves_with_csrf(site, servers):
    config, app = site
    assert app.test_client().get("/posts").status_code in (302, 401)  # signed out: sent to sign in
    client = signed_in(app, "org@sydney.example")
    page = client.get("/posts").get_data(as_text=True)
    assert page.count('class="post"') == 3
    assert "Web &lt;b&gt;queue&lt;/b&gt;" in page and "<b>queue</b>" not in page  # escaped, never markup
    assert "/280 as X counts" in page
    with PostStore(config) as store:
        x_post = store.find(channel="x")[0]
    token = CSRF.search(page).group(1)
    forged = client.post(f"/posts/{x_post.id}/approve", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    done = client.post(f"/posts/{x_post.id}/approve", data={"csrf_token": token})
    assert done.status_code == 303
    with PostStore(config) as store:
        assert store.get(x_post.id).state == "approved"
        assert store.audit(x_post.id)[-1].actor == "org@sydney.example (web)"
    edited = client.post(f"/posts/{x_post.id}/edit", data={"csrf_token": token, "text": "Short and new"})
    assert edited.status_code == 303
    with PostStore(config) as store:
        assert store.get(x_post.id).state == "pending_approval" and store.get(x_post.id).text == "Short and new"
    client.post(f"/posts/{x_post.id}/reject", data={"csrf_token": token, "reason": "no"})
    with PostStore(config) as store:
        assert store.get(x_post.id).state == "rejected"


def test_organiser_of_another_city_sees_and_does_nothing(site):
    config, app = site
    client = signed_in(app, "org@perth.example")
    assert client.get("/posts").get_data(as_text=True).count('class="post"') == 0
    token = CSRF.search(client.get("/posts").get_data(as_text=True)).group(1)
    with PostStore(config) as store:
        post = store.find()[0]
    assert client.post(f"/posts/{post.id}/approve", data={"csrf_token": token}).status_code == 404
    with PostStore(config) as store:
        assert store.get(post.id).state == "pending_approval"


def test_slack_endpoint_is_reachable_without_sign_in_but_checks_signatures(site):
    config, app = site
    with PostStore(config) as store:
        from posters.approvals import text_hash
        post = store.find(channel="slack")[0]
        value = f"{post.id}:{text_hash(post)}"
    client = app.test_client()
    headers, body = click_request(value, "pulse_approve", "U0SYD", secret="wrong")
    bad = client.post("/slack/interactions", data=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 401
    headers, body = click_request(value, "pulse_approve", "U0SYD")
    ok = client.post("/slack/interactions", data=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    with PostStore(config) as store:
        assert store.get(post.id).state == "approved"
