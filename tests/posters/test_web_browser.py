"""The organiser's desk in a real headless Chromium, against the web app served on 127.0.0.1:
found from any page, a meetup's three posts approved at once, a Slack post edited as plain text,
an X error that keeps the text, a rejection with its reason, the week's calendar; at 1280 and
390 px wide with no horizontal scroll (screenshots in tests/artifacts/)."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import waitress

from posters.publisher import Publisher
from posters.store import PostStore
from pulse.web.app import create_app
from tests.support.posters import PASSWORD, load, meetup_events
from tests.support.web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

NOW = dt.datetime.now(dt.UTC)
LONG_TITLE = "Supercalifragilisticexpialidocious" * 6  # one unbroken word of 204 characters
WIDTHS = (1280, 390)


@pytest.fixture
def served(site, tmp_path):
    config, _ = site
    load(config, tmp_path, meetup_events("m2", created=NOW - dt.timedelta(minutes=30), starts=NOW + dt.timedelta(days=5),
                                         title="Board games", venue="The Loft")
         + meetup_events("m3", created=NOW - dt.timedelta(minutes=20), starts=NOW + dt.timedelta(days=6),
                         title=LONG_TITLE, venue="Hall " * 40))
    Publisher(config).run()
    app = create_app(config, secret_key="test-secret-key-test-secret-key!")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield config, f"http://127.0.0.1:{server.effective_port}"
    server.close()


def posts(config, event_id) -> dict:
    with PostStore(config) as store:
        return {p.channel: p for p in store.find(event_id=event_id)}


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def shoot(page, name: str) -> None:
    """Screenshots at each width, each checked for horizontal scroll first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        assert no_horizontal_scroll(page), f"{name} scrolls sideways at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width < 500:  # and the phone's first screen, as a person sees it
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}-first-screen.png"))
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_an_organiser_works_the_queue_in_the_browser(served, servers):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    config, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{base}/sign-in?next=/account")
            page.fill("input[name=email]", "org@sydney.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/account")
            # Found from another page: the top bar's link, with the count waiting.
            link = page.locator("header.top a[href='/posts']")
            assert link.inner_text().split() == ["Posts", "9"]
            link.click()
            page.wait_for_url(f"{base}/posts")
            assert page.locator("article.meetup").count() == 3
            shoot(page, "posts-queue")

            # One action approves the meetup's three posts.
            page.locator("#meetup-sydney-m1 button[name=approve_all]").click()
            page.wait_for_load_state()
            assert "Approved all 3 posts" in page.locator("p.flash.ok").inner_text()
            assert {p.state for p in posts(config, "m1").values()} == {"approved"}
            assert page.locator("#meetup-sydney-m1").count() == 0  # no longer to do

            # A Slack post edited as plain text: Pulse does Slack's escaping.
            slack = posts(config, "m2")["slack"]
            card = page.locator(f"#post-{slack.id}")
            card.locator("details.edit summary").click()
            card.locator("textarea").fill("*Games <night> & Q&A*\nBring a friend")
            card.locator("button[name=save]").click()
            page.wait_for_load_state()
            card = page.locator(f"#post-{slack.id}")
            assert card.locator(".preview strong").inner_text() == "Games <night> & Q&A"
            assert posts(config, "m2")["slack"].text == "*Games &lt;night&gt; &amp; Q&amp;A*\nBring a friend"

            # X: the live counter counts as X does while typing; the error keeps the text.
            x_post = posts(config, "m2")["x"]
            card = page.locator(f"#post-{x_post.id}")
            card.locator("details.edit summary").click()
            words = "Board games night, bring your favourite game and a friend " * 5
            card.locator("textarea").fill(words)
            counter = card.locator("output")
            assert words.isascii() and len(words) == 290  # ASCII: X counts each character as 1
            expect(counter).to_contain_text("290 of 280")  # polled: the page's CSP allows no eval
            assert "over" in (counter.get_attribute("class") or "")
            card.locator("button[name=save]").click()
            page.wait_for_load_state()
            card = page.locator(f"#post-{x_post.id}")
            assert card.locator("p.flash.error").inner_text().startswith("too long for X: 290 of 280")
            assert card.locator("textarea").input_value() == words
            assert "290 of 280" in card.locator("output").inner_text()  # the counter speaks of the kept text
            page.set_viewport_size({"width": 390, "height": 900})
            assert no_horizontal_scroll(page)
            card.screenshot(path=str(ARTIFACTS / "posts-x-error-390.png"))
            page.set_viewport_size({"width": 1280, "height": 900})
            card.locator("textarea").fill("Board games night 🎲 https://platform.example.com/e/m2")
            expect(card.locator("output")).to_have_text("44/280")
            card.locator("button[name=save]").click()
            page.wait_for_load_state()
            assert "Saved the new wording" in page.locator("p.flash.ok").inner_text()

            # A rejection with its reason, which then shows on the post.
            fb = posts(config, "m2")["facebook"]
            card = page.locator(f"#post-{fb.id}")
            card.locator("details.reject summary").click()
            card.locator("input[name=reason]").fill("Not on Facebook this week")
            card.locator("button[name=reject]").click()
            page.wait_for_load_state()
            page.goto(f"{base}/posts?view=closed")
            assert "Rejected by org@sydney.example" in page.locator(f"#post-{fb.id} .decision").inner_text()
            assert "Not on Facebook this week" in page.locator(f"#post-{fb.id} .decision").inner_text()

            # Approve the edited Slack post on its own, from the meetup's page.
            page.goto(f"{base}/posts/{slack.id}")
            page.locator(f"#post-{slack.id} button[name=approve]").click()
            page.wait_for_load_state()

            # The week's calendar, reached from the queue; an entry opens its card.
            page.goto(f"{base}/posts")
            page.locator("nav.posts-nav a", has_text="Calendar").click()
            local_due = dt.datetime.fromisoformat(x_post.due_at.replace("Z", "+00:00")).astimezone(
                ZoneInfo("Australia/Sydney")).date()
            page.goto(f"{base}/posts/calendar?span=week&date={local_due.isoformat()}")
            entries = page.locator(".cal a.entry")
            assert entries.count() == 8  # nine posts, less the rejected one
            assert page.locator(".cal a.entry.state-pending_approval").count() == 4
            shoot(page, "posts-calendar-week")
            page.goto(f"{base}/posts/calendar?span=month&date={local_due.isoformat()}")
            shoot(page, "posts-calendar-month")
            page.goto(f"{base}/posts/calendar?span=week&date={local_due.isoformat()}")
            page.locator(f".cal a.entry[href$='#post-{slack.id}']").click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/posts/{slack.id}#post-{slack.id}")
            assert page.locator(f"#post-{slack.id} .state-badge").inner_text() == "Approved"
            # The refused edit's page answers 422 on purpose; nothing else may log an error.
            assert [e for e in errors if "status of 422" not in e] == []
        finally:
            browser.close()
    Publisher(config).run()
    sent = [m["text"] for m in servers["slack"].posts if "Bring a friend" in (m["text"] or "")]
    assert sent == ["*Games &lt;night&gt; &amp; Q&amp;A*\nBring a friend"]
