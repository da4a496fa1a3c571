"""Approving by CLI and by Slack buttons; the organiser of one city cannot act on another's posts."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from click.testing import CliRunner

from posters.publisher import Publisher
from posters.slack_approvals import handle_interaction
from posters.store import PostStore
from pulse.cli import main
from pulse.people import People
from tests.support.posters import (
    channels,
    city_event,
    click_request,
    config_file,
    load,
    meetup_events,
)

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def setup(servers, secrets_env, tmp_path):
    config, path = config_file(tmp_path, channels(servers, mode="approval", approvals_channel="#sydney-organisers"))
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=1),
                                                          starts=NOW + dt.timedelta(days=4), title="Approve me"))
    people = People(config)
    people.add("org@sydney.example", "organiser", ["sydney"])
    people.add("org@perth.example", "organiser", ["perth"])
    people.set_slack_user("org@sydney.example", "U0SYD")
    people.set_slack_user("org@perth.example", "U0PER")
    return config, people


def cli(config, *args):
    return CliRunner().invoke(main, ["--config", str(config.path), *args])


def test_cli_list_show_approve_publish(setup, servers):
    config, people = setup
    listed = cli(config, "posts", "list", "--status", "pending_approval")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("pending_approval") == 3 and "Approve me" in listed.output
    with PostStore(config) as store:
        x_post = store.find(channel="x")[0]
        ids = [str(p.id) for p in store.find()]
    shown = cli(config, "posts", "show", str(x_post.id))
    assert "X length: " in shown.output and "/280 as X counts" in shown.output and "Approve me" in shown.output
    refused = cli(config, "posts", "approve", *ids, "--as", "org@perth.example")
    assert refused.exit_code == 1 and "not an organiser of sydney" in refused.output
    assert not any(servers[k].posts for k in servers)
    approved = cli(config, "posts", "approve", *ids, "--as", "org@sydney.example")
    assert approved.exit_code == 0 and approved.output.count("approved (by org@sydney.example)") == 3
    published = cli(config, "publish")
    assert published.exit_code == 0, published.output
    assert [len(servers[k].posts) for k in ("slack", "x", "facebook")] == [1, 1, 1]
    with PostStore(config) as store:
        history = store.audit(x_post.id)
    assert [(h.actor, h.new_state) for h in history if h.action == "approve"] == [("org@sydney.example (cli)", "approved")]


def test_cli_reject_and_edit(setup, servers):
    config, _ = setup
    with PostStore(config) as store:
        Publisher(config).run(send_approval_requests=False)
        x_post, fb_post = store.find(channel="x")[0], store.find(channel="facebook")[0]
    too_long = cli(config, "posts", "edit", str(x_post.id), "--text", "字" * 141)
    assert too_long.exit_code == 1 and "282 of 280" in too_long.output
    # Far too long is refused before it is measured.
    huge = cli(config, "posts", "edit", str(x_post.id), "--text", "x" * 100_000)
    assert huge.exit_code == 1 and "100,000 characters, it takes at most 10,000" in huge.output
    edited = cli(config, "posts", "edit", str(x_post.id), "--text", "New words https://platform.example.com/e/m1",
                 "--as", "org@sydney.example")
    assert edited.exit_code == 0 and "33/280" in edited.output
    rejected = cli(config, "posts", "reject", str(fb_post.id), "--reason", "not for Facebook", "--as", "org@sydney.example")
    assert rejected.exit_code == 0
    cli(config, "posts", "approve", str(x_post.id), "--as", "org@sydney.example")
    cli(config, "publish")
    assert servers["x"].posts[0]["text"] == "New words https://platform.example.com/e/m1"
    assert servers["facebook"].posts == []
    with PostStore(config) as store:
        edits = [h for h in store.audit(x_post.id) if h.action == "edit"]
        assert edits[0].old_text.startswith("Approve me") and edits[0].new_text.startswith("New words")
        assert store.get(fb_post.id).reject_reason == "not for Facebook"


def test_cli_resolve(setup, servers):
    config, _ = setup
    servers["facebook"].delay(3.0, process=True)
    with PostStore(config) as store:
        Publisher(config).run(send_approval_requests=False)
        fb_post = store.find(channel="facebook")[0]
    cli(config, "posts", "approve", str(fb_post.id), "--as", "org@sydney.example")
    result = cli(config, "publish")
    assert result.exit_code == 1 and "needs attention 1" in result.output
    wrong = cli(config, "posts", "resolve", str(fb_post.id))
    assert wrong.exit_code == 2
    settled = cli(config, "posts", "resolve", str(fb_post.id), "--published",
                  f"https://www.facebook.com/{servers['facebook'].posts[0]['id']}", "--as", "org@sydney.example")
    assert settled.exit_code == 0 and "published" in settled.output
    with PostStore(config) as store:
        assert store.get(fb_post.id).external_id == servers["facebook"].posts[0]["id"]


# -- Slack buttons ---------------------------------------------------------------------------

def test_slack_approval_flow(setup, servers):
    config, people = setup
    Publisher(config).run()
    requests = [p for p in servers["slack"].posts if p["channel"] == "C0ORGSYD"]
    assert len(requests) == 3  # one approval request per draft, with buttons
    x_request = next(r for r in requests if "X announce" in r["text"])
    buttons = x_request["blocks"][-1]["elements"]
    value = buttons[0]["value"]
    post_id = int(value.split(":")[0])
    with PostStore(config) as store:
        def answer(headers, body):
            return handle_interaction(config, store, people, headers, body)

        bad = answer(*click_request(value, "pulse_approve", "U0SYD", secret="not-the-secret"))
        assert bad.status == 401 and "signature" in bad.text
        old = answer(*click_request(value, "pulse_approve", "U0SYD", ts=int(time.time()) - 301))
        assert old.status == 401 and "5 minutes" in old.text
        unknown = answer(*click_request(value, "pulse_approve", "U0NOBODY"))
        assert unknown.status == 403 and "not mapped" in unknown.text
        other_city = answer(*click_request(value, "pulse_approve", "U0PER"))
        assert other_city.status == 403 and "not an organiser of sydney" in other_city.text
        assert store.get(post_id).state == "pending_approval"
        headers, body = click_request(value, "pulse_approve", "U0SYD")
        ok = answer(headers, body)
        assert ok.status == 200 and store.get(post_id).state == "approved"
        assert store.get(post_id).approved_by == "org@sydney.example"
        replay = answer(headers, body)
        assert replay.status == 401 and "replay" in replay.text
        audit = [a for a in store.audit(post_id) if a.action == "approve"]
        assert audit[0].actor == "org@sydney.example (Slack U0SYD)"
        # A click on a preview whose wording has changed since is refused.
        fb_value = next(r for r in requests if "Facebook announce" in r["text"])["blocks"][-1]["elements"][1]["value"]
        fb_id = int(fb_value.split(":")[0])
        from posters import approvals
        approvals.edit(store, people, fb_id, "Other words", "org@sydney.example")
        stale = answer(*click_request(fb_value, "pulse_reject", "U0SYD"))
        assert stale.status == 409 and store.get(fb_id).state == "pending_approval"
    Publisher(config).run()
    assert len([p for p in servers["x"].posts]) == 1
