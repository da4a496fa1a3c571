"""Approval requests in the organisers' Slack channel, against the fake Slack with the real
slack-sdk: a click updates the message, a rejection asks why in a modal, a request whose answer
was lost is sent once, and decisions taken elsewhere reach the message too."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from posters import approvals
from posters.publisher import Publisher
from posters.slack_approvals import REQUEST_EVENT, handle_interaction
from posters.store import PostStore
from pulse.people import People
from tests.support.posters import (
    channels,
    city_event,
    click_request,
    config_file,
    load,
    meetup_events,
    reason_submission,
    signed,
)

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def setup(servers, secrets_env, tmp_path):
    config, _ = config_file(tmp_path, channels(servers, mode="approval", approvals_channel="#sydney-organisers"))
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=1),
                                                          starts=NOW + dt.timedelta(days=4), title="Q&A <night>"))
    people = People(config)
    people.add("org@sydney.example", "organiser", ["sydney"])
    people.set_slack_user("org@sydney.example", "U0SYD")
    return config, people


def requests_in(slack) -> list[dict]:
    return [m for m in slack.posts if m["channel"] == "C0ORGSYD"]


def request_for(slack, label: str) -> dict:
    return next(m for m in requests_in(slack) if label in m["text"])


def buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_an_approval_click_updates_the_request_message(setup, servers):
    config, people = setup
    Publisher(config).run()
    slack = servers["slack"]
    request = request_for(slack, "X announce")
    assert "“Q&amp;A &lt;night&gt;”" in request["text"]  # the title is data, escaped for Slack
    approve = buttons(request)[0]
    post_id = int(approve["value"].split(":")[0])
    with PostStore(config) as store:
        answer = handle_interaction(config, store, people, *click_request(
            approve["value"], "pulse_approve", "U0SYD", message=("C0ORGSYD", request["ts"])))
        assert answer.status == 200, answer.text
        assert store.get(post_id).state == "approved" and store.get(post_id).approval_settled == "approved"
    (update,) = slack.updates
    assert (update["channel"], update["ts"]) == ("C0ORGSYD", request["ts"])
    assert update["text"].startswith(":white_check_mark: Approved by org@sydney.example (Slack) at ")
    assert buttons(request) == []  # the message itself changed: no buttons left to click
    # The next run has nothing more to update for it.
    Publisher(config).run()
    assert len(slack.updates) == 1


def test_a_rejection_asks_why_in_a_modal_and_the_message_says_it(setup, servers):
    config, people = setup
    Publisher(config).run()
    slack = servers["slack"]
    request = request_for(slack, "Facebook announce")
    reject = buttons(request)[1]
    post_id = int(reject["value"].split(":")[0])
    with PostStore(config) as store:
        opened = handle_interaction(config, store, people, *click_request(
            reject["value"], "pulse_reject", "U0SYD", message=("C0ORGSYD", request["ts"]), trigger_id="T123.abc"))
        assert opened.status == 200, opened.text
        assert store.get(post_id).state == "pending_approval"  # nothing decided until the form is sent
        (modal,) = slack.views
        assert modal["trigger_id"] == "T123.abc" and modal["view"]["type"] == "modal"
        empty = handle_interaction(config, store, people, *reason_submission(modal["view"], "U0SYD", "  "))
        assert empty.body["response_action"] == "errors" and store.get(post_id).state == "pending_approval"
        done = handle_interaction(config, store, people, *reason_submission(modal["view"], "U0SYD",
                                                                            "Wrong date <on> the flyer"))
        assert done.body == {"response_action": "clear"}
        post = store.get(post_id)
        assert (post.state, post.rejected_by, post.reject_reason) == (
            "rejected", "org@sydney.example", "Wrong date <on> the flyer")
    (update,) = slack.updates
    assert update["ts"] == request["ts"] and update["text"].startswith(":x: Rejected by org@sydney.example (Slack) at ")
    assert "Wrong date &lt;on&gt; the flyer" in update["text"] and buttons(request) == []


@pytest.mark.parametrize("taken", [True, False])
def test_an_approval_request_whose_answer_was_lost_is_sent_once(setup, servers, taken):
    config, _ = setup
    slack = servers["slack"]
    slack.delay(3.0, process=taken)  # the client gives up after 2 s
    first = Publisher(config).run()
    assert any("approval request for post" in e for e in first.errors)
    with PostStore(config) as store:
        assert "?" in {p.approval_request for p in store.find()}
    Publisher(config).run()
    sent = requests_in(slack)
    assert len(sent) == 3  # one per draft, never two
    markers = [m["metadata"]["event_payload"]["marker"] for m in sent]
    assert len(set(markers)) == 3 and all(m["metadata"]["event_type"] == REQUEST_EVENT for m in sent)
    with PostStore(config) as store:
        recorded = sorted(p.approval_request for p in store.find())
    assert recorded == sorted(f"C0ORGSYD/{m['ts']}" for m in sent)
    Publisher(config).run()
    assert len(requests_in(slack)) == 3


def test_a_decision_in_the_queue_or_the_cli_updates_the_message_with_the_next_run(setup, servers):
    config, people = setup
    Publisher(config).run()
    slack = servers["slack"]
    with PostStore(config) as store:
        x_post = store.find(channel="x")[0]
        approvals.approve(store, people, x_post.id, "org@sydney.example", via="web")
        slack_post = store.find(channel="slack")[0]
        approvals.reject(store, people, slack_post.id, "org@sydney.example", "Not for Slack", via="cli")
    Publisher(config).run()
    texts = {u["ts"]: u["text"] for u in slack.updates}
    assert len(texts) == 2
    assert texts[request_for(slack, "X announce")["ts"]].startswith(":white_check_mark: Approved by org@sydney.example")
    assert texts[request_for(slack, "Slack announce")["ts"]].startswith(":x: Rejected by org@sydney.example")
    assert "Not for Slack" in texts[request_for(slack, "Slack announce")["ts"]]


def _odd_payloads(post_id: int) -> list:
    click = {"type": "block_actions", "user": {"id": "U0SYD"},
             "actions": [{"action_id": "pulse_approve", "value": f"{post_id}:"}]}
    form = {"type": "view_submission", "user": {"id": "U0SYD"},
            "view": {"callback_id": "pulse_reject_reason", "private_metadata": json.dumps({"post": post_id}),
                     "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "why"}}}}}}

    def changed(base: dict, path: str, value):
        payload = json.loads(json.dumps(base))
        *parents, last = path.split(".")
        node = payload
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
        return payload

    return [
        [click], None, "click", 5,
        changed(click, "user", "U0SYD"), changed(click, "user.id", 5), changed(click, "user.id", ["U0SYD"]),
        changed(click, "user.id", {"U0SYD": 1}), changed(click, "actions", {}), changed(click, "actions", []),
        changed(click, "actions.0", "pulse_approve"), changed(click, "actions.0.action_id", ["pulse_approve"]),
        changed(click, "actions.0.value", post_id), changed(click, "actions.0.value", [f"{post_id}:"]),
        changed(click, "actions.0.value", "9" * 5000 + ":"), changed(click, "actions.0.value", f"{post_id}:{'a' * 100_000}"),
        changed(click, "actions.0.value", f"\uff11{post_id}:"), changed(click, "actions.0.value", f"-{post_id}:"),
        changed(click, "container", "C0ORGSYD"), changed(click, "container", {"channel_id": 5, "message_ts": []}),
        changed(click, "trigger_id", {"x": 1}), changed(click, "type", ["block_actions"]),
        changed(form, "user.id", 7), changed(form, "view", "pulse_reject_reason"),
        changed(form, "view.callback_id", ["pulse_reject_reason"]), changed(form, "view.private_metadata", "{not json"),
        changed(form, "view.private_metadata", json.dumps({"post": [post_id]})),
        changed(form, "view.private_metadata", json.dumps([post_id])),
        changed(form, "view.private_metadata", json.dumps({"post": post_id, "hash": 5, "message": {"a": 1}})),
        changed(form, "view.private_metadata", {"post": post_id}),
        changed(form, "view.state.values.reason", "why"), changed(form, "view.state.values.reason.reason.value", 5),
        changed(form, "view.state.values.reason.reason.value", ["why"]),
    ]


def test_a_signed_request_of_any_other_shape_is_400_and_changes_nothing(setup):
    # Signed by Slack's secret, so past the signature check: the payload is still data from outside.
    config, people = setup
    Publisher(config).run()
    with PostStore(config) as store:
        post = store.find(channel="x")[0]
        for payload in _odd_payloads(post.id):
            answer = handle_interaction(config, store, people, *signed(payload))
            assert answer.status == 400, (payload, answer.status, answer.text)
            assert answer.text == "not a Pulse button click"
        assert store.get(post.id).state == "pending_approval"
        # The shape that is meant still works.
        answer = handle_interaction(config, store, people, *click_request(f"{post.id}:", "pulse_approve", "U0SYD"))
        assert answer.status == 200, answer.text
        assert store.get(post.id).state == "approved"
