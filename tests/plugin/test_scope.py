"""A person's city scope, applied in the data access layer: walking every route of the app as
the lead of Sydney finds no row of Melbourne, whatever the route does (or forgets to do)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from flask import Blueprint

from dashboards.data import DATASETS
from jobs import pipeline
from posters.planner import sync
from posters.store import PostStore
from pulse.people import People
from pulse.web import scope
from pulse.web.app import create_app, registered_extensions
from pulse.web.extension import WebExtension
from tests.support.posters import city_event, click_request, load, meetup_events
from tests.support.web import CSRF, sign_in

NOW = dt.datetime.now(dt.UTC)
SECRET = "scope-test-session-secret-" + "x" * 32
MARKERS = ("MEL-SECRET-9f3k", "melbourne", "Melbourne")
LEAD, ADMIN, PASSWORD = "lead@sydney.example", "admin@region.example", "a long enough password 42"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"


def city_channels(token_env: str) -> dict:
    common = {"mode": "approval", "enabled_since": "2020-01-01T00:00:00Z"}
    return {"channels": {
        "slack": {"channel": "#meetups", "token_env": token_env, "base_url": "http://127.0.0.1:9/api/", **common},
        "facebook": {"page_id": "1234", "page_token_env": token_env, "base_url": "http://127.0.0.1:9", **common}}}


@pytest.fixture
def site(tmp_path_factory):
    """(config, app, posts by city): Sydney's and Melbourne's meetups drafted, awaiting approval."""
    from pulse.core import config as config_module

    base = tmp_path_factory.mktemp("scope")
    config = config_module.from_dict({
        "warehouse": {"data_dir": str(base / "data")},
        "cities": {"sydney": city_channels("SCOPE_TOKEN"), "melbourne": city_channels("SCOPE_TOKEN")},
        "publisher": {"allow_hosts_for_tests": ["127.0.0.1"], "slack_signing_secret_env": "SCOPE_SIGNING"},
    }, base_dir=base)
    load(config, base, [city_event(), city_event("melbourne", "Melbourne", "Australia/Melbourne")]
         + meetup_events("s1", created=NOW - dt.timedelta(days=2), starts=NOW + dt.timedelta(days=3),
                         title="SYD-MEETUP-2a7c", venue="Sydney venue")
         + meetup_events("m1", city="melbourne", created=NOW - dt.timedelta(days=2),
                         starts=NOW + dt.timedelta(days=3), title="MEL-SECRET-9f3k", venue="MEL-SECRET-9f3k hall")
         # Held meetups, so the city pages and their downloads have rows to show.
         + meetup_events("s0", created=NOW - dt.timedelta(days=20), starts=NOW - dt.timedelta(days=5),
                         title="SYD-MEETUP-2a7c held")
         + meetup_events("m0", city="melbourne", created=NOW - dt.timedelta(days=20),
                         starts=NOW - dt.timedelta(days=5), title="MEL-SECRET-9f3k held"))
    pipeline.build(config)
    with PostStore(config) as store:
        sync(config, store, NOW)
        posts = {city: [p.id for p in store.find(city=city)] for city in ("sydney", "melbourne")}
    assert len(posts["sydney"]) == len(posts["melbourne"]) == 2
    people = People(config)
    people.add(LEAD, "lead", ["sydney"], password=PASSWORD)
    people.add(ADMIN, "admin", password=PASSWORD)
    people.set_slack_user(LEAD, "U0SYD")
    return config, create_app(config, secret_key=SECRET), posts


@pytest.fixture(autouse=True)
def signing_secret(monkeypatch):
    monkeypatch.setenv("SCOPE_SIGNING", SIGNING)


def urls(rule, posts) -> list[str]:
    """Every concrete URL of a rule, each parameter with every value that matters; an unknown
    parameter fails the test, so a new route cannot slip past it."""
    values = {"slug": ["sydney", "melbourne"], "post_id": [str(i) for ids in posts.values() for i in ids],
              "dataset": list(DATASETS), "fmt": ["csv", "json"], "name": ["pulse.css", "dashboard.css"],
              "token": ["not-a-token"]}
    found = [rule.rule]
    for argument in rule.arguments:
        assert argument in values, f"route {rule.rule} has a parameter this test does not know: {argument}"
        found = [re.sub(rf"<(?:\w+:)?{argument}>", value, url) for url in found for value in values[argument]]
    return found


def melbourne_rows(config) -> list[tuple]:
    with PostStore(config) as store:
        return [(p.state, p.text, len(store.audit(p.id))) for p in store.find(city="melbourne")]


def leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def test_every_route_walked_as_a_lead_shows_no_row_of_another_city(site):
    config, app, posts = site
    before = melbourne_rows(config)
    lead = sign_in(app, LEAD, PASSWORD)
    token = CSRF.search(lead.get("/account").get_data(as_text=True)).group(1)
    walked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods) - {"HEAD", "OPTIONS"}):
            if rule.rule in ("/sign-out", "/sign-in", "/account/sign-out-everywhere"):
                continue  # would end or restart this session; they show no city's data
            for url in urls(rule, posts):
                if method == "GET":
                    response = lead.get(url)
                else:
                    response = lead.post(url, data={"csrf_token": token, "text": "changed by the walk",
                                                    "reason": "walk", "back": "/posts"})
                walked += 1
                body = response.get_data(as_text=True) + json.dumps(dict(response.headers))
                assert leaks(body) == [], (method, url, response.status_code)
                if "melbourne" in url or any(url.startswith(f"/posts/{i}/") for i in posts["melbourne"]):
                    assert response.status_code in (401, 403, 404), (method, url, response.status_code)
    assert walked > 40
    # The Sydney lead's actions did nothing to Melbourne's posts.
    assert melbourne_rows(config) == before
    page = lead.get("/posts?view=all").get_data(as_text=True)
    assert "SYD-MEETUP-2a7c" in page and leaks(page) == []


def test_the_walk_would_see_the_rows_were_they_in_scope(site):
    # The markers are there for someone whose scope holds Melbourne: the walk above can fail.
    config, app, posts = site
    admin = sign_in(app, ADMIN, PASSWORD)
    assert "MEL-SECRET-9f3k" in admin.get("/posts?status=all").get_data(as_text=True)
    assert admin.get("/city/melbourne").status_code == 200
    assert "MEL-SECRET-9f3k" in admin.get("/city/melbourne/meetups.csv").get_data(as_text=True)


def test_a_route_that_forgets_its_check_still_gets_only_its_persons_rows(site):
    config, _, posts = site
    leaky = Blueprint("leaky", __name__)

    @leaky.get("/leaky/posts")
    def every_post():  # no require_city, no can_see: the store's scope is all that stands
        with PostStore(config) as store:
            return "\n".join(f"{p.city}: {p.text}" for p in store.find())

    @leaky.get("/leaky/post/<int:post_id>")
    def one_post(post_id):
        with PostStore(config) as store:
            try:
                return store.get(post_id).text
            except Exception:  # noqa: BLE001 - the store's "no such post"
                return "none", 404

    extension = WebExtension("leaky", lambda config: leaky, public_endpoints=frozenset({"leaky.every_post"}))
    app = create_app(config, secret_key=SECRET, extensions=[*registered_extensions(), extension])
    lead = sign_in(app, LEAD, PASSWORD)
    listed = lead.get("/leaky/posts").get_data(as_text=True)
    assert "SYD-MEETUP-2a7c" in listed and leaks(listed) == []
    for post_id in posts["melbourne"]:
        assert lead.get(f"/leaky/post/{post_id}").status_code == 404
    assert "SYD-MEETUP-2a7c" in lead.get(f"/leaky/post/{posts['sydney'][0]}").get_data(as_text=True)
    # Signed out, a public route gets no row at all.
    assert app.test_client().get("/leaky/posts").get_data(as_text=True) == ""
    # Outside a request (a command, a job), every city.
    with PostStore(config) as store:
        assert {p.city for p in store.find()} == {"sydney", "melbourne"}


def test_a_signed_slack_click_acts_for_its_person_only(site):
    config, app, posts = site
    client = app.test_client()
    before = melbourne_rows(config)
    headers, body = click_request(f"{posts['melbourne'][0]}:", "pulse_approve", "U0SYD", secret=SIGNING)
    refused = client.post("/slack/interactions", data=body, headers={**headers,
                                                                     "Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code in (403, 404, 409) and leaks(refused.get_data(as_text=True)) == []
    assert melbourne_rows(config) == before
    headers, body = click_request(f"{posts['sydney'][0]}:", "pulse_approve", "U0SYD", secret=SIGNING)
    done = client.post("/slack/interactions", data=body, headers={**headers,
                                                                  "Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200, done.get_data(as_text=True)
    with PostStore(config) as store:
        assert store.get(posts["sydney"][0]).state == "approved"


def test_the_scope_rule():
    class Person:
        def __init__(self, role, cities):
            self.role, self.cities = role, cities
            self.is_admin = role == "admin"

    lead = scope.Scope.of(Person("lead", ("sydney",)))
    assert lead.allows("sydney") and not lead.allows("melbourne")
    assert lead.sql("city") == ("city IN (?)", ["sydney"])
    assert scope.Scope.of(Person("admin", ())).sql() == ("1 = 1", [])
    assert scope.Scope.of(None).sql() == ("1 = 0", []) and scope.Scope.of(None).only(["x"], city=str) == []
    assert scope.Scope.of(Person("organiser", ("perth", "melbourne"))).only(
        ["sydney", "perth", "melbourne"], city=str) == ["perth", "melbourne"]
    assert scope.current() == scope.EVERY  # no request here
