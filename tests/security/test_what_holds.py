"""What the review found holding, kept from regressing: cross-city 404s with identical bodies,
IDOR on post ids, CSRF on every form, one-time links, and inert titles in HTML, JSON and plotly
(in Chromium, with screenshots at 1280 and 390 px in tests/artifacts)."""

from __future__ import annotations

import re

import pytest

from posters.store import PostStore
from pulse.web.app import create_app
from tests.support.security import PASSWORD, Visitor
from tests.support.web import ARTIFACTS, IMG_TITLE, SCRIPT_TITLE, SECRET

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def test_another_city_and_no_city_look_the_same(server):
    lead = Visitor(server.url, "192.0.2.90")
    lead.sign_in("lead@sydney.example")
    for path in ("/city/{}", "/city/{}/meetups.csv", "/city/{}/kpis.json"):
        theirs, nobodys = lead.get(path.format("perth")), lead.get(path.format("atlantis"))
        assert theirs.status_code == nobodys.status_code == 404, path
        assert theirs.content.replace(b"perth", b"X") == nobodys.content.replace(b"atlantis", b"X"), path
    assert "perth" not in lead.get("/overview.json").text


def test_post_ids_of_another_city_are_404_and_nothing_changes(server, target):
    perth_post = target.posts["perth"][0]
    lead = Visitor(server.url, "192.0.2.91")
    lead.sign_in("org@sydney.example")
    lead.get("/posts")
    for action, data in (("approve", {}), ("reject", {"reason": "mine now"}), ("edit", {"text": "pwned"})):
        assert lead.post(f"/posts/{perth_post.id}/{action}", data).status_code == 404, action
    assert "Perth draft" not in lead.get("/posts?status=all").text
    with PostStore(target.config) as store:
        now = store.get(perth_post.id)
    assert (now.state, now.text) == (perth_post.state, perth_post.text)


def _unsafe_routes(target) -> list[str]:
    app = create_app(target.config, secret_key=SECRET)
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint != "posts.slack_interactions":
            urls.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"post_id": str(target.posts["sydney"][0].id),
                                                               "token": "not-a-token"}[m.group(1)], rule.rule))
    return urls


def test_every_form_needs_its_csrf_token(server, target):
    with PostStore(target.config) as store:
        before = store.get(target.posts["sydney"][0].id)
    urls = _unsafe_routes(target)
    assert {"/sign-in", "/sign-out", "/account/password", "/account/sign-out-everywhere",
            "/posts/1/approve".replace("1", str(target.posts["sydney"][0].id))} <= set(urls)
    signed_in = Visitor(server.url, "192.0.2.92")
    signed_in.sign_in("org@sydney.example")
    signed_in.get("/account")
    other = Visitor(server.url, "192.0.2.93")
    other.get("/sign-in")
    for url in urls:
        for visitor in (signed_in, other):
            assert visitor.post(url, {"email": "org@sydney.example", "password": PASSWORD}, token=False).status_code == 403, url
            assert visitor.post(url, {"csrf_token": "forged"}).status_code == 403, url
        # Another visitor's token is no good either, nor a form sent from another site.
        assert signed_in.post(url, {"csrf_token": other.token}).status_code == 403, url
        assert signed_in.post(url, headers={"Origin": "http://evil.example"}).status_code == 403, url
    assert signed_in.signed_in()  # the refused sign-outs did nothing
    with PostStore(target.config) as store:
        after = store.get(target.posts["sydney"][0].id)
    assert (after.state, after.text) == (before.state, before.text)


def test_a_sign_in_link_works_once(server, target):
    link = target.people.issue_sign_in_link("lead@sydney.example", server.url).removeprefix(server.url)
    first = Visitor(server.url, "192.0.2.94")
    assert first.get(link).status_code == 200 and not first.signed_in()  # showing it does not use it
    first.get(link)
    assert first.post(link).status_code == 302 and first.signed_in()
    second = Visitor(server.url, "192.0.2.95")
    assert second.get(link).status_code == 410
    assert second.post(link).status_code == 410 and not second.signed_in()


def test_titles_are_inert_in_html_and_json(server):
    lead = Visitor(server.url, "192.0.2.96")
    lead.sign_in("lead@sydney.example")
    page = lead.get("/city/sydney?range=30d").text
    assert SCRIPT_TITLE not in page and IMG_TITLE not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    figures = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert figures and not any("</script" in f.lower() or "<img" in f for f in figures)
    data = lead.get("/city/sydney/meetups.json?range=30d")
    assert data.headers["Content-Type"].startswith("application/json") and data.headers["X-Content-Type-Options"] == "nosniff"
    assert SCRIPT_TITLE in {row["title"] for row in data.json()}  # data, exactly as sent


@pytest.mark.parametrize("width", [1280, 390])
def test_in_chromium_no_title_runs_and_the_account_page_works(server, target, browser, width):
    target.people.add(f"browser{width}@sydney.example", "lead", ["sydney"], password=PASSWORD)
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"X-Forwarded-For": f"192.0.2.{100 + width % 97}"})
    page = context.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/sign-in")
    page.fill("input[name=email]", f"browser{width}@sydney.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(server.url + "/city/sydney?range=30d")
    page.wait_for_selector(".js-plotly-plot", timeout=20_000)
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"security-city-{width}.png"), full_page=False)
    assert dialogs == [] and not page.evaluate("() => window.__pwned === true")
    assert page.locator("text=<script>alert(1)</script>").count() >= 1  # shown as text
    page.goto(server.url + "/account")
    page.screenshot(path=str(ARTIFACTS / f"security-account-{width}.png"), full_page=True)
    assert "1 session" in page.content()
    page.click("text=Sign out everywhere")
    page.wait_for_url("**/sign-in")
    page.goto(server.url + "/city/sydney")
    assert "/sign-in" in page.url
    assert dialogs == [] and errors == []
    context.close()
