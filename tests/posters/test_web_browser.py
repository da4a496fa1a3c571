"""The approval queue in a real headless Chromium, against the dashboards app served on 127.0.0.1."""

from __future__ import annotations

import threading

import pytest
import waitress

from pulse.web.app import create_app
from posters.store import PostStore
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.support.posters import PASSWORD


@pytest.fixture
def served(site):  # noqa: F811
    config, _ = site
    app = create_app(config, secret_key="test-secret-key-test-secret-key!")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield config, f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_organiser_approves_and_rejects_in_the_browser(served):
    require_chromium()
    from playwright.sync_api import sync_playwright

    config, base = served
    with PostStore(config) as store:
        x_post, fb_post = store.find(channel="x")[0], store.find(channel="facebook")[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{base}/posts")
            page.fill("input[name=email]", "org@sydney.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/posts")
            assert page.locator("section.post").count() == 3
            assert "/280 as X counts" in page.locator(f"#post-{x_post.id}").inner_text()
            page.locator(f"#post-{x_post.id} button[name=approve]").click()
            page.wait_for_load_state()
            assert "approved" in page.locator("p.flash").inner_text()
            page.locator(f"#post-{fb_post.id} input[name=reason]").fill("Not on Facebook")
            page.locator(f"#post-{fb_post.id} button[name=reject]").click()
            page.wait_for_load_state()
            assert page.locator("section.post").count() == 1
            page.screenshot(path=str(config.base_dir / "posts-queue.png"))
            assert errors == []
        finally:
            browser.close()
    with PostStore(config) as store:
        assert store.get(x_post.id).state == "approved" and store.get(x_post.id).approved_by == "org@sydney.example"
        assert store.get(fb_post.id).state == "rejected" and store.get(fb_post.id).reject_reason == "Not on Facebook"
