"""People: users, roles and cities, password hashes, sign-in links, the failed sign-in throttle.

All against a real SQLite file in the test's temp folder.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import timedelta

import pytest

from pulse.people import store as people_module
from pulse.people import People, PeopleError


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def people(config, clock):
    return People(config, clock=clock)


def test_lives_beside_the_warehouse_in_wal_mode(config, people):
    assert people.path == config.data_dir / "people.sqlite"
    con = sqlite3.connect(people.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert people.path.stat().st_mode & 0o077 == 0


def test_add_get_list_remove(people):
    lead = people.add("Ana@Example.org ", "lead", ["sydney", "perth", "sydney"])
    assert (lead.email, lead.role, lead.cities) == ("ana@example.org", "lead", ("perth", "sydney"))
    assert not lead.has_password and lead.slack_user_id is None
    people.add("root@example.org", "admin")
    assert [u.email for u in people.list()] == ["ana@example.org", "root@example.org"]
    assert people.get("ANA@example.org").cities == ("perth", "sydney")
    assert people.remove("ana@example.org") is True
    assert people.remove("ana@example.org") is False
    assert people.get("ana@example.org") is None


@pytest.mark.parametrize("email, role, cities, message", [
    ("not-an-email", "lead", ["sydney"], "not an email"),
    ("a@example.org", "boss", ["sydney"], "role"),
    ("a@example.org", "lead", [], "at least one --city"),
    ("a@example.org", "organiser", [], "at least one --city"),
    ("a@example.org", "admin", ["sydney"], "admin sees every city"),
    ("a@example.org", "lead", ["Sydney!"], "not a city slug"),
])
def test_add_refuses_bad_input(people, email, role, cities, message):
    with pytest.raises(PeopleError, match=message):
        people.add(email, role, cities)
    assert people.list() == []


def test_add_twice_is_refused(people):
    people.add("a@example.org", "lead", ["sydney"])
    with pytest.raises(PeopleError, match="already exists"):
        people.add("A@example.org", "admin")


def test_update_replaces_role_and_cities(people):
    people.add("a@example.org", "lead", ["sydney"])
    assert people.update("a@example.org", cities=["perth"]).cities == ("perth",)
    assert people.update("a@example.org", role="organiser").cities == ("perth",)
    admin = people.update("a@example.org", role="admin")
    assert admin.is_admin and admin.cities == ()
    with pytest.raises(PeopleError, match="at least one --city"):
        people.update("a@example.org", role="lead")


def test_who_sees_which_city(people):
    lead = people.add("lead@example.org", "lead", ["sydney"])
    organiser = people.add("org@example.org", "organiser", ["perth", "sydney"])
    admin = people.add("admin@example.org", "admin")
    assert lead.can_see("sydney") and not lead.can_see("perth")
    assert organiser.can_see("perth") and organiser.can_see("sydney") and not organiser.can_see("auckland")
    assert admin.can_see("anything-at-all")
    assert lead.visible(["auckland", "perth", "sydney"]) == ["sydney"]
    # can_see on People reads the current record: a removed person sees nothing.
    assert people.can_see("lead@example.org", "sydney")
    people.remove("lead@example.org")
    assert not people.can_see(lead, "sydney")
    assert [u.email for u in people.organisers_of("sydney")] == ["org@example.org"]


def test_password_is_a_salted_scrypt_hash(people):
    people.add("a@example.org", "lead", ["sydney"], password="correct horse")
    people.add("b@example.org", "lead", ["sydney"], password="correct horse")
    con = sqlite3.connect(people.path)
    stored = dict(con.execute("SELECT email, password_hash FROM users"))
    assert "correct horse" not in "".join(stored.values())
    a, b = stored["a@example.org"].split("$"), stored["b@example.org"].split("$")
    assert a[:4] == ["scrypt", str(2 ** 15), "8", "1"]
    assert a[4] != b[4] and a[5] != b[5]  # salts differ, so equal passwords hash differently
    # Recompute independently with the stored salt: it is scrypt of the password.
    salt = people_module._unb64(a[4])
    expected = hashlib.scrypt(b"correct horse", salt=salt, n=2 ** 15, r=8, p=1, maxmem=2 ** 27, dklen=32)
    assert people_module._unb64(a[5]) == expected


def test_verify_password(people):
    people.add("a@example.org", "lead", ["sydney"], password="correct horse")
    people.add("nopass@example.org", "lead", ["sydney"])
    assert people.verify_password("A@example.org", "correct horse").email == "a@example.org"
    assert people.verify_password("a@example.org", "correct horse ") is None
    assert people.verify_password("a@example.org", "") is None
    assert people.verify_password("ghost@example.org", "correct horse") is None
    assert people.verify_password("nopass@example.org", "") is None
    assert people.verify_password("not an email", "x") is None


def test_new_password_ends_older_sessions(people):
    user = people.add("a@example.org", "lead", ["sydney"], password="one")
    assert people.session_user("a@example.org", user.session_version) == user
    changed = people.set_password("a@example.org", "two")
    assert people.session_user("a@example.org", user.session_version) is None
    assert people.session_user("a@example.org", changed.session_version).email == "a@example.org"
    assert people.verify_password("a@example.org", "one") is None
    assert people.verify_password("a@example.org", "two") is not None
    people.revoke_sessions("a@example.org")
    assert people.session_user("a@example.org", changed.session_version) is None


def test_sign_in_token_works_once_and_only_its_hash_is_stored(people):
    people.add("a@example.org", "lead", ["sydney"])
    token = people.issue_sign_in_token("a@example.org")
    stored = [row[0] for row in sqlite3.connect(people.path).execute("SELECT token_hash FROM sign_in_tokens")]
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert people.peek(token).email == "a@example.org"
    assert people.redeem(token).email == "a@example.org"
    assert people.redeem(token) is None
    assert people.peek(token) is None
    assert people.redeem("") is None and people.redeem("made-up") is None


def test_sign_in_token_expires(people, clock):
    people.add("a@example.org", "lead", ["sydney"])
    token = people.issue_sign_in_token("a@example.org", valid_for=timedelta(minutes=10))
    clock.now += 10 * 60
    assert people.redeem(token) is None


def test_sign_in_link_and_removal(people):
    people.add("a@example.org", "lead", ["sydney"])
    link = people.issue_sign_in_link("a@example.org", "http://127.0.0.1:8080/")
    assert link.startswith("http://127.0.0.1:8080/sign-in/link/")
    people.remove("a@example.org")
    assert people.redeem(link.rsplit("/", 1)[1]) is None


def test_a_token_is_redeemed_by_one_of_many_racing_threads(people):
    people.add("a@example.org", "lead", ["sydney"])
    token = people.issue_sign_in_token("a@example.org")
    results = []
    threads = [threading.Thread(target=lambda: results.append(people.redeem(token))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r is not None) == 1


def test_throttle_locks_an_email_after_five_failures_then_lets_go(people, clock):
    keys = ("email:a@example.org", "ip:127.0.0.1")
    for _ in range(4):
        people.record_failure(*keys)
    assert people.sign_in_wait(*keys) == 0
    people.record_failure(*keys)
    assert people.sign_in_wait(*keys) == pytest.approx(15 * 60)
    assert people.sign_in_wait("email:other@example.org") == 0
    clock.now += 15 * 60 + 1
    assert people.sign_in_wait(*keys) == 0


def test_throttle_window_forgets_old_failures(people, clock):
    for _ in range(4):
        people.record_failure("email:a@example.org")
    clock.now += 15 * 60 + 1
    people.record_failure("email:a@example.org")
    assert people.sign_in_wait("email:a@example.org") == 0


def test_success_clears_the_count(people):
    for _ in range(4):
        people.record_failure("email:a@example.org")
    people.record_success("email:a@example.org")
    people.record_failure("email:a@example.org")
    assert people.sign_in_wait("email:a@example.org") == 0


def test_an_address_gets_more_tries_than_an_email(people):
    for _ in range(29):
        people.record_failure("ip:10.0.0.1")
    assert people.sign_in_wait("ip:10.0.0.1") == 0
    people.record_failure("ip:10.0.0.1")
    assert people.sign_in_wait("ip:10.0.0.1") > 0


def test_slack_mapping(people):
    people.add("a@example.org", "organiser", ["sydney"])
    people.add("b@example.org", "organiser", ["sydney"])
    assert people.set_slack_user("a@example.org", "U123").slack_user_id == "U123"
    assert people.by_slack_user("U123").email == "a@example.org"
    with pytest.raises(PeopleError, match="already mapped"):
        people.set_slack_user("b@example.org", "U123")
    people.set_slack_user("a@example.org", None)
    assert people.by_slack_user("U123") is None


def test_unknown_user_operations_say_so(people):
    for action in (lambda: people.set_password("x@example.org", "p"),
                   lambda: people.issue_sign_in_token("x@example.org"),
                   lambda: people.set_slack_user("x@example.org", "U1"),
                   lambda: people.update("x@example.org", role="admin")):
        with pytest.raises(PeopleError, match="no user"):
            action()


def test_two_handles_on_one_file_see_each_other(config):
    first, second = People(config), People(config)
    first.add("a@example.org", "lead", ["sydney"])
    assert second.get("a@example.org").cities == ("sydney",)
