"""Sessions are the server's: signing out ends every copy of the cookie, an idle or old session
ends, "sign out everywhere" does, and so do a new password and removing the person."""

from __future__ import annotations

import pytest

import contextlib
import sqlite3
import subprocess

from tests.support.security import PASSWORD, Visitor
from tests.support.web import pulse_command

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def _age_sessions(target, email: str, **seconds) -> None:
    """Move a person's sessions into the past, as the clock would have (the real file the server reads)."""
    with contextlib.closing(sqlite3.connect(target.data_dir / "people.sqlite")) as con, con:
        for column, amount in seconds.items():
            con.execute(f"UPDATE sessions SET {column} = {column} - ? WHERE email = ?", [amount, email])


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(server):
    owner = Visitor(server.url, "192.0.2.11")
    assert owner.sign_in("lead@sydney.example").status_code == 302
    thief = Visitor(server.url, "198.51.100.11")
    thief.http.cookies.set("pulse_session", owner.cookie)
    assert thief.get("/city/sydney").status_code == 200  # the stolen cookie works while the session lives
    owner.get("/account")
    assert owner.post("/sign-out").status_code == 302
    assert thief.get("/city/sydney").status_code == 302  # ... and not a moment after
    assert thief.get("/account").headers["Location"].startswith("/sign-in")
    assert not owner.signed_in()


def test_the_cookie_holds_no_identity_and_sign_in_replaces_a_planted_one(server):
    visitor = Visitor(server.url, "192.0.2.12")
    visitor.get("/sign-in")
    planted = visitor.cookie
    visitor.sign_in("lead@sydney.example")
    assert visitor.cookie and visitor.cookie != planted
    # Whatever someone planted before sign-in is worth nothing after it.
    fixer = Visitor(server.url, "198.51.100.12")
    fixer.http.cookies.set("pulse_session", planted)
    assert fixer.get("/city/sydney").status_code == 302
    # Flask's signed cookie payload (before the first dot) is readable base64: no email in it.
    import base64
    import zlib
    payload = visitor.cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    text = (zlib.decompress(raw) if visitor.cookie.startswith(".") else raw).decode()
    assert "lead@sydney.example" not in text and "sid" in text


def test_an_idle_session_ends_after_30_minutes(server, target):
    target.people.add("idle@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitor = Visitor(server.url, "192.0.2.13")
    visitor.sign_in("idle@sydney.example")
    _age_sessions(target, "idle@sydney.example", last_seen=29 * 60, created_at=29 * 60)
    assert visitor.get("/city/sydney").status_code == 200  # 29 minutes idle: still on, and now fresh again
    _age_sessions(target, "idle@sydney.example", last_seen=31 * 60, created_at=31 * 60)
    assert visitor.get("/city/sydney").status_code == 302


def test_a_session_ends_12_hours_after_sign_in_however_busy(server, target):
    target.people.add("busy@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitor = Visitor(server.url, "192.0.2.14")
    visitor.sign_in("busy@sydney.example")
    _age_sessions(target, "busy@sydney.example", created_at=12 * 3600 - 60)
    assert visitor.get("/city/sydney").status_code == 200
    _age_sessions(target, "busy@sydney.example", created_at=120)
    assert visitor.get("/city/sydney").status_code == 302


def test_sign_out_everywhere(server, target):
    target.people.add("everywhere@sydney.example", "lead", ["sydney"], password=PASSWORD)
    laptop, phone = Visitor(server.url, "192.0.2.15"), Visitor(server.url, "192.0.2.16")
    laptop.sign_in("everywhere@sydney.example")
    phone.sign_in("everywhere@sydney.example")
    page = phone.get("/account").text
    assert "2 sessions" in page and 'action="/account/sign-out-everywhere"' in page
    assert phone.post("/account/sign-out-everywhere").headers["Location"] == "/sign-in"
    assert not laptop.signed_in() and not phone.signed_in()
    assert target.people.session_count("everywhere@sydney.example") == 0


def test_a_new_password_ends_other_sessions_and_unused_links(server, target):
    target.people.add("changer@sydney.example", "lead", ["sydney"], password=PASSWORD)
    link = target.people.issue_sign_in_link("changer@sydney.example", server.url).removeprefix(server.url)
    other, this = Visitor(server.url, "192.0.2.17"), Visitor(server.url, "192.0.2.18")
    other.sign_in("changer@sydney.example")
    this.sign_in("changer@sydney.example")
    this.get("/account")
    done = this.post("/account/password", {"current": PASSWORD, "password": "a brand new password",
                                           "repeat": "a brand new password"})
    assert done.headers["Location"] == "/account?done=1"
    assert this.signed_in() and not other.signed_in()
    stranger = Visitor(server.url, "198.51.100.18")
    assert stranger.get(link).status_code == 410  # the link issued before the change is gone


def test_removing_a_person_ends_their_sessions(server, target):
    target.people.add("leaver@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitor = Visitor(server.url, "192.0.2.19")
    visitor.sign_in("leaver@sydney.example")
    assert visitor.signed_in()
    removed = subprocess.run(pulse_command("--data-dir", str(target.data_dir), "users", "remove",
                                           "leaver@sydney.example"), capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert not visitor.signed_in()


def test_pulse_users_sign_out_ends_every_session(server, target):
    target.people.add("lost-laptop@sydney.example", "lead", ["sydney"], password=PASSWORD)
    visitor = Visitor(server.url, "192.0.2.20")
    visitor.sign_in("lost-laptop@sydney.example")
    ended = subprocess.run(pulse_command("--data-dir", str(target.data_dir), "users", "sign-out",
                                         "lost-laptop@sydney.example"), capture_output=True, text=True)
    assert ended.returncode == 0 and "1 session ended" in ended.stdout, ended
    assert not visitor.signed_in()
