"""The sign-in throttle, attacked over HTTP: parallel guesses, one visitor behind a proxy locking
out everyone, a person kept out by someone else, a sign-in link refused by an address throttle."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.security import PASSWORD, Visitor
from tests.support.web import Server

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def test_forty_parallel_guesses_get_five_checks(server, target):
    target.people.add("parallel@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitors = [Visitor(server.url, "192.0.2.40") for _ in range(40)]
    for visitor in visitors:
        visitor.get("/sign-in")
    start = threading.Barrier(40)

    def guess(visitor):
        start.wait()
        return visitor.post("/sign-in", {"email": "parallel@sydney.example", "password": "wrong guess"}).status_code

    with ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(guess, visitors))
    assert codes.count(401) == 5 and codes.count(429) == 35, codes
    # Locked now, even for the right password from there.
    assert visitors[0].sign_in("parallel@sydney.example").status_code == 429


def test_behind_the_proxy_one_visitors_failures_lock_out_only_that_visitor(server, target):
    target.people.add("proxied@sydney.example", "lead", ["sydney"], password=PASSWORD)
    attacker = Visitor(server.url, "198.51.100.41")
    codes = [attacker.post("/sign-in", {"email": f"spray{n}@sydney.example", "password": "x"}).status_code
             for n in range(35)]
    assert codes[:30] == [401] * 30 and set(codes[30:]) == {429}  # the address gets 30 tries, then waits
    for _ in range(6):
        attacker.post("/sign-in", {"email": "proxied@sydney.example", "password": "x"})
    # Someone else behind the same proxy is a visitor of their own: not held back at all.
    assert Visitor(server.url, "192.0.2.41").sign_in("proxied@sydney.example").status_code == 302


def test_an_admin_issued_link_is_never_refused_by_an_address_throttle(server, target):
    target.people.add("linked@sydney.example", "lead", ["sydney"])
    visitor = Visitor(server.url, "198.51.100.42")
    for n in range(30):
        visitor.post("/sign-in", {"email": f"noise{n}@sydney.example", "password": "x"})
    assert visitor.post("/sign-in", {"email": "linked@sydney.example", "password": "x"}).status_code == 429
    assert visitor.get("/sign-in/link/made-up-token").status_code == 429  # unknown links: throttled
    link = target.people.issue_sign_in_link("linked@sydney.example", server.url).removeprefix(server.url)
    shown = visitor.get(link)
    assert shown.status_code == 200 and "linked@sydney.example" in shown.text
    assert visitor.post(link).headers["Location"] == "/"
    assert visitor.signed_in()


def test_five_wrong_passwords_from_elsewhere_do_not_keep_the_person_out(server, target):
    target.people.add("victim@sydney.example", "lead", ["sydney"], password=PASSWORD)
    assert Visitor(server.url, "192.0.2.43").sign_in("victim@sydney.example").status_code == 302  # usual place
    for address in ("198.51.100.43", "198.51.100.44", "198.51.100.45", "198.51.100.46", "198.51.100.47"):
        attacker = Visitor(server.url, address)
        for _ in range(5):
            attacker.post("/sign-in", {"email": "victim@sydney.example", "password": "guess"})
    held = Visitor(server.url, "198.51.100.43").post("/sign-in", {"email": "victim@sydney.example",
                                                                  "password": PASSWORD})
    assert held.status_code == 429 and "Too many failed sign-ins" in held.text  # the guesser's own pair
    # 25 failures: past the email's ceiling, which only slows a new address (at most a minute) ...
    new_place = Visitor(server.url, "203.0.113.43").sign_in("victim@sydney.example")
    assert new_place.status_code in (302, 429)
    if new_place.status_code == 429:
        assert "second" in new_place.text
    # ... and does not touch the person where they signed in before.
    assert Visitor(server.url, "192.0.2.43").sign_in("victim@sydney.example").status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(target, tmp_path):
    plain = Server(target.data_dir, "--workers", "0")
    try:
        codes = []
        for n in range(7):
            forger = Visitor(plain.url, f"203.0.113.{100 + n}")  # a new address in each request's header
            codes.append(forger.post("/sign-in", {"email": "lead@sydney.example", "password": "x"}).status_code)
        assert codes == [401] * 5 + [429] * 2  # all one visitor: 127.0.0.1
    finally:
        plain.stop()
    with contextlib.closing(sqlite3.connect(target.data_dir / "people.sqlite")) as con:
        keys = [row[0] for row in con.execute("SELECT key FROM sign_in_throttle WHERE key LIKE '%203.0.113.1%'")]
    assert keys == []


@pytest.mark.parametrize("path", ["/account/password"])
def test_the_current_password_check_is_throttled_too(server, target, path):
    target.people.add("changer2@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitor = Visitor(server.url, "192.0.2.44")
    visitor.sign_in("changer2@sydney.example")
    visitor.get("/account")
    codes = [visitor.post(path, {"current": "wrong", "password": "x" * 12, "repeat": "x" * 12}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
