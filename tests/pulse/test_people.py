"""People: users, roles and cities, password hashes, sessions, sign-in links, the failed sign-in
throttle.

All against a real SQLite file in the test's temp folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import threading
from datetime import timedelta

import pytest
from argon2.low_level import Type, hash_secret_raw

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
    # Password hashes: the folder and every file of the database (its WAL and shared memory
    # too, which exist while a connection is open) are the owner's only.
    people.add("a@example.org", "lead", ["sydney"], password="correct horse")
    assert config.data_dir.stat().st_mode & 0o777 == 0o700
    for name in ("people.sqlite", "people.sqlite-wal", "people.sqlite-shm"):
        assert (config.data_dir / name).stat().st_mode & 0o777 == 0o600, name
    con.close()


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


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_password_is_a_salted_argon2id_hash(people):
    people.add("a@example.org", "lead", ["sydney"], password="correct horse")
    people.add("b@example.org", "lead", ["sydney"], password="correct horse")
    con = sqlite3.connect(people.path)
    stored = dict(con.execute("SELECT email, password_hash FROM users"))
    assert "correct horse" not in "".join(stored.values())
    # PHC format: $argon2id$v=19$m=65536,t=3,p=4$salt$hash (RFC 9106's low-memory profile,
    # above OWASP's minimum of m=19 MiB, t=2, p=1).
    a, b = stored["a@example.org"].split("$"), stored["b@example.org"].split("$")
    assert a[1:4] == ["argon2id", "v=19", "m=65536,t=3,p=4"]
    assert a[4] != b[4] and a[5] != b[5]  # salts differ, so equal passwords hash differently
    # Recompute with the low-level argon2 function and the stored salt: it is argon2id of the password.
    expected = hash_secret_raw(b"correct horse", _unb64(a[4]), time_cost=3, memory_cost=65536, parallelism=4,
                               hash_len=32, type=Type.ID)
    assert _unb64(a[5]) == expected


def _legacy_scrypt(password: str) -> str:
    """A hash as Pulse wrote them before argon2id: scrypt$N$r$p$salt$hash, urlsafe base64."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1, maxmem=2 ** 27, dklen=32)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    return "$".join(["scrypt", str(2 ** 14), "8", "1", b64(salt), b64(digest)])


def test_an_old_scrypt_hash_still_works_and_becomes_argon2id_at_sign_in(people):
    people.add("old@example.org", "lead", ["sydney"])
    legacy = _legacy_scrypt("an old password")
    with sqlite3.connect(people.path) as con:
        con.execute("UPDATE users SET password_hash = ? WHERE email = 'old@example.org'", [legacy])

    def stored():
        return sqlite3.connect(people.path).execute(
            "SELECT password_hash FROM users WHERE email = 'old@example.org'").fetchone()[0]

    assert people.verify_password("old@example.org", "not it") is None
    assert stored() == legacy  # a wrong password changes nothing
    assert people.verify_password("old@example.org", "an old password").email == "old@example.org"
    assert stored().startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert people.verify_password("old@example.org", "an old password") is not None  # and it still works


def test_an_argon2id_hash_of_a_lower_cost_is_rehashed_at_sign_in(people):
    from argon2 import PasswordHasher

    people.add("a@example.org", "lead", ["sydney"])
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("some password")
    with sqlite3.connect(people.path) as con:
        con.execute("UPDATE users SET password_hash = ? WHERE email = 'a@example.org'", [weak])
    assert people.verify_password("a@example.org", "some password") is not None
    now = sqlite3.connect(people.path).execute("SELECT password_hash FROM users").fetchone()[0]
    assert now != weak and "m=65536,t=3,p=4" in now


def test_verify_password(people):
    people.add("a@example.org", "lead", ["sydney"], password="correct horse")
    people.add("nopass@example.org", "lead", ["sydney"])
    assert people.verify_password("A@example.org", "correct horse").email == "a@example.org"
    assert people.verify_password("a@example.org", "correct horse ") is None
    assert people.verify_password("a@example.org", "") is None
    assert people.verify_password("ghost@example.org", "correct horse") is None
    assert people.verify_password("nopass@example.org", "") is None
    assert people.verify_password("not an email", "x") is None


def test_a_session_is_a_random_id_of_which_only_a_hash_is_stored(people):
    people.add("a@example.org", "lead", ["sydney"], password="one")
    session_id = people.start_session("a@example.org")
    assert len(session_id) >= 40
    rows = sqlite3.connect(people.path).execute("SELECT id_hash, email FROM sessions").fetchall()
    assert rows == [(hashlib.sha256(session_id.encode()).hexdigest(), "a@example.org")]
    assert people.session_user(session_id).email == "a@example.org"
    assert people.session_user(session_id[:-1] + "x") is None
    assert people.session_user("") is None and people.session_user(None) is None
    people.end_session(session_id)
    assert people.session_user(session_id) is None


def test_a_session_ends_when_idle_and_when_too_old(people, clock):
    people.add("a@example.org", "lead", ["sydney"])
    idle = people.start_session("a@example.org")
    clock.now += 29 * 60
    assert people.session_user(idle) is not None  # used within 30 minutes: goes on (and is marked used)
    clock.now += 29 * 60
    assert people.session_user(idle) is not None
    clock.now += 30 * 60
    assert people.session_user(idle) is None  # 30 minutes without use
    busy = people.start_session("a@example.org")
    for _ in range(12 * 4 - 1):
        clock.now += 15 * 60
        assert people.session_user(busy) is not None
    clock.now += 15 * 60
    assert people.session_user(busy) is None  # 12 hours after sign-in, however busy


def test_a_new_password_ends_every_session_and_unused_link(people):
    people.add("a@example.org", "lead", ["sydney"], password="one")
    sessions = [people.start_session("a@example.org") for _ in range(3)]
    link = people.issue_sign_in_token("a@example.org")
    people.add("b@example.org", "lead", ["sydney"])
    other = people.start_session("b@example.org")
    other_link = people.issue_sign_in_token("b@example.org")
    assert people.session_count("a@example.org") == 3
    people.set_password("a@example.org", "two")
    assert all(people.session_user(s) is None for s in sessions)
    assert people.peek(link) is None and people.redeem(link) is None
    assert people.session_user(other).email == "b@example.org" and people.peek(other_link) is not None
    assert people.verify_password("a@example.org", "one") is None
    assert people.verify_password("a@example.org", "two") is not None


def test_sign_out_everywhere_and_removal_end_sessions(people):
    people.add("a@example.org", "lead", ["sydney"])
    first, second = people.start_session("a@example.org"), people.start_session("a@example.org")
    assert people.end_sessions("a@example.org") == 2
    assert people.session_user(first) is None and people.session_user(second) is None
    third = people.start_session("a@example.org")
    people.remove("a@example.org")
    assert people.session_user(third) is None
    assert sqlite3.connect(people.path).execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_emails_with_control_or_format_characters_are_refused(people):
    for email in ("a\x1b[31m@example.org", "a\u202e@example.org", "a\x00@example.org", "a" * 250 + "@example.org"):
        with pytest.raises(PeopleError, match="not an email"):
            people.add(email, "admin")
    assert people.list() == []


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


def _fail(people, email="a@example.org", address="10.0.0.1"):
    """One wrong password as the web app counts it; the Attempt (allowed or not)."""
    return people.begin_sign_in(email, address)


def test_a_pair_gets_five_tries_then_growing_delays(people, clock):
    people.add("a@example.org", "lead", ["sydney"], password="right")
    for _ in range(4):
        assert _fail(people).allowed
    fifth = _fail(people)
    assert fifth.allowed and fifth.locks == ("pair",)
    waits = []
    for _ in range(6):
        held = _fail(people)
        assert not held.allowed and held.held_by == "pair"
        waits.append(round(held.wait))
        clock.now += held.wait  # wait it out, then fail again
        assert _fail(people).allowed
    assert waits == [60, 120, 240, 480, 900, 900]  # doubling from a minute, at most 15 minutes
    # The same email from another address, and another email from this one, are not held back.
    assert _fail(people, address="10.0.0.2").allowed
    assert _fail(people, email="b@example.org").allowed


def test_a_refused_attempt_is_not_counted(people, clock):
    for _ in range(5):
        _fail(people)
    for _ in range(50):  # hammering while held back does not make the wait longer
        assert not _fail(people).allowed
    clock.now += 60
    assert _fail(people).allowed


def test_success_takes_the_attempt_back_and_clears_the_pair(people, clock):
    people.add("a@example.org", "lead", ["sydney"], password="right")
    for _ in range(4):
        _fail(people)
    assert people.begin_sign_in("a@example.org", "10.0.0.1").allowed  # the right password, as it turns out
    people.sign_in_succeeded("a@example.org", "10.0.0.1")
    for _ in range(5):
        assert _fail(people).allowed  # five fresh tries
    assert not _fail(people).allowed


def test_failures_are_forgotten_after_a_quiet_day(people, clock):
    for _ in range(5):
        _fail(people)
    clock.now += 24 * 3600 + 1
    for _ in range(5):
        assert _fail(people).allowed


def test_the_email_ceiling_only_slows(people, clock):
    """Guesses from many addresses against one email: past 20, each next one waits, never more
    than a minute, so the person can still get in (and a link always works)."""
    for n in range(20):
        assert _fail(people, address=f"10.1.0.{n}").allowed
    waits = []
    for n in range(10):
        held = _fail(people, address=f"10.2.0.{n}")
        assert not held.allowed and held.held_by == "email"
        waits.append(round(held.wait))
        clock.now += held.wait
        assert _fail(people, address=f"10.2.0.{n}").allowed
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_an_address_gets_more_tries_than_a_pair(people, clock):
    for n in range(29):
        assert _fail(people, email=f"user{n}@example.org").allowed
    thirtieth = _fail(people, email="user29@example.org")
    assert thirtieth.allowed and thirtieth.locks == ("address",)
    held = _fail(people, email="someone@example.org")
    assert not held.allowed and held.held_by == "address" and round(held.wait) == 60


def test_where_a_person_signed_in_before_no_ceiling_holds_them_back(people, clock):
    people.add("a@example.org", "lead", ["sydney"], password="right")
    assert people.begin_sign_in("a@example.org", "10.9.9.9").allowed
    people.sign_in_succeeded("a@example.org", "10.9.9.9")
    for n in range(40):  # someone else: the email's and that address's ceilings are both reached
        people.begin_sign_in("a@example.org", f"10.3.0.{n}")
        people.begin_sign_in(f"x{n}@example.org", "10.9.9.9")
    assert not people.begin_sign_in("a@example.org", "10.3.0.99").allowed
    assert not people.begin_sign_in("someone@example.org", "10.9.9.9").allowed
    assert people.begin_sign_in("a@example.org", "10.9.9.9").allowed  # the person, where they always are


def test_five_guesses_every_quarter_hour_never_lock_the_person_out(people, clock):
    """The attack of the review: 5 wrong passwords for a person every 15 minutes, for 6 hours,
    from one address and from a new address each time. The person is never kept out: from
    where they signed in before, at once; from a new address, after at most a minute."""
    people.add("a@example.org", "lead", ["sydney"], password="right")
    people.begin_sign_in("a@example.org", "192.0.2.10")
    people.sign_in_succeeded("a@example.org", "192.0.2.10")
    for quarter in range(24):
        for n in range(5):
            people.begin_sign_in("a@example.org", "198.51.100.1")
            people.begin_sign_in("a@example.org", f"198.51.100.{100 + quarter * 5 + n}")
        home = people.begin_sign_in("a@example.org", "192.0.2.10")
        assert home.allowed, quarter
        people.sign_in_succeeded("a@example.org", "192.0.2.10")
        travelling = people.begin_sign_in("a@example.org", f"203.0.113.{quarter}")
        if not travelling.allowed:
            assert travelling.held_by == "email" and travelling.wait <= 60, (quarter, travelling)
            clock.now += travelling.wait
            travelling = people.begin_sign_in("a@example.org", f"203.0.113.{quarter}")
        assert travelling.allowed, quarter
        people.sign_in_succeeded("a@example.org", f"203.0.113.{quarter}")
        clock.now += 15 * 60


def test_parallel_guesses_get_at_most_the_allowed_checks(people):
    """Check and count are one transaction: 40 guesses at once get exactly 5 checks."""
    start = threading.Barrier(40)
    answers = []

    def guess():
        start.wait()
        answers.append(people.begin_sign_in("a@example.org", "10.0.0.1").allowed)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 40 and answers.count(True) == 5


def test_refused_links_are_counted_per_address(people, clock):
    for _ in range(29):
        assert people.address_refused("10.0.0.5") == 0
    assert people.address_refused("10.0.0.5") == 0  # the 30th is counted and starts the wait
    assert people.address_refused("10.0.0.5") == pytest.approx(60)
    assert people.address_refused("10.0.0.6") == 0
    assert people.begin_sign_in("a@example.org", "10.0.0.5").held_by == "address"


def test_slack_mapping(people):
    people.add("a@example.org", "organiser", ["sydney"])
    people.add("b@example.org", "organiser", ["sydney"])
    assert people.set_slack_user("a@example.org", "U123").slack_user_id == "U123"
    assert people.by_slack_user("U123").email == "a@example.org"
    with pytest.raises(PeopleError, match="already mapped"):
        people.set_slack_user("b@example.org", "U123")
    people.set_slack_user("a@example.org", None)
    assert people.by_slack_user("U123") is None
    # Only what Slack's member ids look like: never text that could reach a terminal or a log as markup.
    for not_an_id in ("u123", "U1", "U12\x1b[31m", "U12\u202e", "U12 3", "@alice", "U" + "1" * 32, "C0123ABC"):
        with pytest.raises(PeopleError, match="is not a Slack member id") as refused:
            people.set_slack_user("a@example.org", not_an_id)
        assert "\x1b" not in str(refused.value) and "\u202e" not in str(refused.value)
    assert people.set_slack_user("a@example.org", "W0ENTERPRISE1").slack_user_id == "W0ENTERPRISE1"


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
