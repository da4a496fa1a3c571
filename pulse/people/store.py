"""People: who may sign in to Pulse's web pages, with which role, and for which cities.

They live in a small SQLite file beside the warehouse (`<data_dir>/people.sqlite`), not in
DuckDB: the web app has to write (sign-ins, sessions, throttle counters) while `pulse ingest`
and `pulse build` hold DuckDB's single writer lock, and SQLite in WAL mode lets many processes
read and one write for a few milliseconds at a time.

Roles: an `admin` sees every city; a `lead` or an `organiser` sees only the cities listed for
them. Passwords are stored as argon2id hashes (argon2-cffi, its RFC 9106 profile, above OWASP's
minimum); hashes written by older Pulse versions (scrypt) still verify and are replaced by an
argon2id hash at the next sign-in. Sign-in links and session ids are random tokens of which
only a SHA-256 is stored: a link is valid once and until it expires; a session until it has
been idle for `SESSION_IDLE`, or is `SESSION_LIFETIME` old, or its person signs out, changes
password or is removed.

Failed sign-ins are throttled (`begin_sign_in`): per (email, address) pair with growing delays,
and, more loosely, per email and per address, counted and checked in one transaction.

Every public method opens its own short connection, so one `People` can be shared by the
threads of a web server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from importlib import resources
from pathlib import Path
from collections.abc import Iterable, Iterator

from pulse.core import sqlite
from pulse.core.config import Config
from pulse.core.output import printable
from pulse.core.storage import ensure_folder

FILE_NAME = "people.sqlite"
ROLES = ("lead", "organiser", "admin")

# Hashes written before Pulse used argon2id: `scrypt$N$r$p$salt$hash`. They still verify, and
# are replaced by an argon2id hash at the next successful sign-in.
_SCRYPT_MAXMEM = 2 ** 27

SIGN_IN_LINK_VALID = timedelta(hours=24)
MIN_PASSWORD_LENGTH = 10
"""What the CLI and the web app ask of a new password (the API itself takes any non-empty one)."""

# Sessions (OWASP ASVS 3.3: re-authenticate after 12 hours, or 30 minutes of inactivity).
SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(minutes=30)
# How stale a session's last_seen may get before a request writes it again: the idle timeout
# is then enforced to within this, without a write on every page view.
SESSION_TOUCH_SECONDS = 60


@dataclass(frozen=True)
class Delays:
    """A throttle key's rule: `free` failures, then a wait before each next attempt that starts
    at `first` seconds and doubles per failure up to `cap`."""

    free: int
    first: float
    cap: float

    def after(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.first * 2 ** min(failures - self.free, 32), self.cap)


# The (email, address) pair is what a guesser controls, so it is held back hardest. The email
# alone only slows (a minute at most): someone guessing from many addresses cannot lock its
# person out. The address alone allows many failures (an office behind one NAT address). Neither
# ceiling applies where the person signed in from before (`KNOWN_SIGN_IN`), and a valid
# sign-in link is never refused by any of them.
THROTTLE = {
    "pair": Delays(free=5, first=60.0, cap=15 * 60.0),
    "email": Delays(free=20, first=1.0, cap=60.0),
    "address": Delays(free=30, first=60.0, cap=15 * 60.0),
}
THROTTLE_MEMORY_SECONDS = 24 * 3600
"""A key's failures are forgotten once it has been quiet (no failure) this long."""
KNOWN_SIGN_IN = timedelta(days=30)
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
"""Slack's member ids (U0123ABCD; W… on Enterprise Grid): what a click's `user.id` can be."""
_THROTTLE_EMAIL_CHARS = 320  # what a key keeps of a typed email (the form can send 64 KiB)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CITY = re.compile(r"[a-z0-9][a-z0-9-]*")

class PeopleError(ValueError):
    """A request about people that cannot be done (unknown user, bad role, bad email), in one line."""


@dataclass(frozen=True)
class User:
    email: str
    role: str
    cities: tuple[str, ...]
    """The cities a lead or organiser may see, in slug order (empty for an admin: they see all)."""
    has_password: bool
    slack_user_id: str | None
    created_at: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, city: str) -> bool:
        return self.is_admin or city in self.cities

    def visible(self, cities: Iterable[str]) -> list[str]:
        """Those of `cities` this person may see, in the order given."""
        return [city for city in cities if self.can_see(city)]


@dataclass(frozen=True)
class Attempt:
    """`People.begin_sign_in`'s answer: whether the password may be checked now; if not, how
    long to wait and which key holds it back (`pair`, `email` or `address`); if so, the keys this
    attempt locks should it fail."""

    allowed: bool
    wait: float
    held_by: str | None
    locks: tuple[str, ...] = ()


def normalise_email(email: str) -> str:
    text = (email or "").strip().lower()
    # isprintable: no control or format characters (an escape sequence, a bidi override) in an
    # address that terminals, logs and pages show.
    if len(text) > 254 or not _EMAIL.fullmatch(text) or not text.isprintable():
        raise PeopleError(f"{(email or '')[:80]!r} is not an email address")  # repr: escaped for terminals
    return text


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile: t=3, m=64 MiB, p=4


def hash_password(password: str) -> str:
    """An argon2id hash in the PHC format (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`)."""
    if not password:
        raise PeopleError("an empty password is not allowed")
    return _hasher().hash(password)


def check_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (argon2id, or a legacy scrypt hash)."""
    from argon2.exceptions import Argon2Error, InvalidHashError

    if stored.startswith("scrypt$"):
        return _check_scrypt(password, stored)
    try:
        return _hasher().verify(stored, password)
    except (Argon2Error, InvalidHashError, ValueError, TypeError):
        return False


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """A hash not made with today's scheme and parameters (replaced at the next sign-in)."""
    from argon2.exceptions import InvalidHashError

    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _hasher().check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# A hash to check unknown emails against, so that "no such user" takes as long as "wrong
# password" and the timing does not tell which emails exist.
_DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(16))
    return _DUMMY_HASH


class People:
    """The people file of one data folder: `People(config)` or `People(path_to_sqlite)`."""

    def __init__(self, where: Config | str | os.PathLike, *, clock=time.time):
        self.path = Path(where.data_dir / FILE_NAME if isinstance(where, Config) else where)
        self._clock = clock
        ensure_folder(self.path.parent)
        with self._connect() as con:  # password hashes: the file is the owner's only (sqlite.connect)
            sqlite.migrate(con, resources.files("pulse.people") / "migrations")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite.connect(self.path, busy_timeout_seconds=10)
        con.row_factory = None
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con, sqlite.transaction(con):
            yield con

    # --- users ---------------------------------------------------------------------------

    def add(self, email: str, role: str, cities: Iterable[str] = (), *, password: str | None = None) -> User:
        """A new person; a lead or organiser needs at least one city, an admin takes none."""
        email = normalise_email(email)
        cities = _check_role_cities(role, cities)
        password_hash = hash_password(password) if password is not None else None
        with self._transaction() as con:
            if con.execute("SELECT 1 FROM users WHERE email = ?", [email]).fetchone():
                raise PeopleError(f"{email} already exists; `pulse users remove` it first, or use `pulse users update`")
            con.execute("INSERT INTO users (email, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                        [email, role, password_hash, _now_text()])
            con.executemany("INSERT INTO user_cities (email, city) VALUES (?, ?)", [(email, c) for c in cities])
        return self.get(email)

    def update(self, email: str, *, role: str | None = None, cities: Iterable[str] | None = None) -> User:
        """Change a person's role and/or cities (the cities given replace the old ones)."""
        user = self._require(email)
        new_role = role or user.role
        new_cities = _check_role_cities(new_role, user.cities if cities is None and new_role != "admin" else (cities or ()))
        with self._transaction() as con:
            con.execute("UPDATE users SET role = ? WHERE email = ?", [new_role, user.email])
            con.execute("DELETE FROM user_cities WHERE email = ?", [user.email])
            con.executemany("INSERT INTO user_cities (email, city) VALUES (?, ?)", [(user.email, c) for c in new_cities])
        return self.get(user.email)

    def get(self, email: str) -> User | None:
        try:
            email = normalise_email(email)
        except PeopleError:
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT email, role, password_hash IS NOT NULL, slack_user_id, created_at "
                "FROM users WHERE email = ?", [email]).fetchone()
            if row is None:
                return None
            cities = tuple(r[0] for r in con.execute(
                "SELECT city FROM user_cities WHERE email = ? ORDER BY city", [email]))
        return User(row[0], row[1], cities, bool(row[2]), row[3], row[4])

    def remove(self, email: str) -> bool:
        """Remove a person (their sessions and sign-in links go with them); False when there was none."""
        try:
            email = normalise_email(email)
        except PeopleError:
            return False
        with self._transaction() as con:
            return con.execute("DELETE FROM users WHERE email = ?", [email]).rowcount > 0

    def list(self) -> list[User]:
        with self._connect() as con:
            emails = [row[0] for row in con.execute("SELECT email FROM users ORDER BY email")]
        return [user for user in (self.get(email) for email in emails) if user is not None]

    def can_see(self, user: User | str | None, city: str) -> bool:
        """Whether this person (a User or an email; the current record counts) may see `city`."""
        current = self.get(user.email if isinstance(user, User) else user) if user else None
        return bool(current and current.can_see(city))

    def organisers_of(self, city: str) -> list[User]:
        """The leads and organisers listed for `city` (admins excluded), by email."""
        with self._connect() as con:
            emails = [row[0] for row in con.execute(
                "SELECT u.email FROM users u JOIN user_cities c USING (email) "
                "WHERE c.city = ? AND u.role IN ('lead', 'organiser') ORDER BY u.email", [city])]
        return [self.get(email) for email in emails]

    def set_slack_user(self, email: str, slack_user_id: str | None) -> User:
        """Map a person to their Slack user id (for Slack approvals); None removes the mapping."""
        user = self._require(email)
        if slack_user_id and not SLACK_USER_ID.fullmatch(slack_user_id):
            raise PeopleError(f"{printable(slack_user_id[:64])} is not a Slack member id: they look like U0123ABCD "
                              "(in Slack: the person's profile, ⋮, Copy member ID)")
        try:
            with self._transaction() as con:
                con.execute("UPDATE users SET slack_user_id = ? WHERE email = ?", [slack_user_id or None, user.email])
        except sqlite3.IntegrityError:
            raise PeopleError(f"Slack user {slack_user_id} is already mapped to someone else") from None
        return self.get(user.email)

    def by_slack_user(self, slack_user_id: str) -> User | None:
        with self._connect() as con:
            row = con.execute("SELECT email FROM users WHERE slack_user_id = ?", [slack_user_id]).fetchone()
        return self.get(row[0]) if row else None

    # --- passwords ---------------------------------------------------------------------------

    def set_password(self, email: str, password: str) -> User:
        """Set a new password. Every session of the person ends, and so does every sign-in link
        not used yet (whoever holds one must not get round the new password with it)."""
        user = self._require(email)
        stored = hash_password(password)
        with self._transaction() as con:
            con.execute("UPDATE users SET password_hash = ? WHERE email = ?", [stored, user.email])
            con.execute("DELETE FROM sessions WHERE email = ?", [user.email])
            con.execute("DELETE FROM sign_in_tokens WHERE email = ? AND used_at IS NULL", [user.email])
        return self.get(user.email)

    def verify_password(self, email: str, password: str) -> User | None:
        """The person when the password is theirs, else None (as slow for unknown emails). A hash
        of an older scheme or cost is replaced by a new one while the password is at hand.

        Does not look at the throttle: the web app asks `begin_sign_in` first.
        """
        try:
            email = normalise_email(email)
        except PeopleError:
            email = ""
        with self._connect() as con:
            row = con.execute("SELECT password_hash FROM users WHERE email = ?", [email]).fetchone()
        stored = row[0] if row and row[0] else None
        ok = check_password(password or "", stored or _dummy_hash())
        if not (ok and stored):
            return None
        if needs_rehash(stored):
            with self._transaction() as con:
                # Only if unchanged meanwhile: a password set since must not be overwritten.
                con.execute("UPDATE users SET password_hash = ? WHERE email = ? AND password_hash = ?",
                            [hash_password(password), email, stored])
        return self.get(email)

    # --- sessions --------------------------------------------------------------------------

    def start_session(self, email: str) -> str:
        """A new session for this person: the random id to put in the cookie (only its SHA-256
        is stored). Sessions past their idle time or lifetime are dropped while here."""
        user = self._require(email)
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._transaction() as con:
            con.execute("DELETE FROM sessions WHERE last_seen <= ? OR created_at <= ?",
                        [now - SESSION_IDLE.total_seconds(), now - SESSION_LIFETIME.total_seconds()])
            con.execute("INSERT INTO sessions (id_hash, email, created_at, last_seen) VALUES (?, ?, ?, ?)",
                        [_token_hash(session_id), user.email, now, now])
        return session_id

    def session_user(self, session_id: str | None) -> User | None:
        """The person whose session this is, while it is valid (and marks it used now); None for
        an unknown, ended, idle or too old session."""
        if not isinstance(session_id, str) or not session_id or len(session_id) > 128:
            return None
        now = self._clock()
        id_hash = _token_hash(session_id)
        with self._connect() as con:
            row = con.execute("SELECT email, created_at, last_seen FROM sessions WHERE id_hash = ?",
                              [id_hash]).fetchone()
        if row is None:
            return None
        email, created_at, last_seen = row
        if now - last_seen >= SESSION_IDLE.total_seconds() or now - created_at >= SESSION_LIFETIME.total_seconds():
            self.end_session(session_id)
            return None
        if now - last_seen >= SESSION_TOUCH_SECONDS:
            with self._transaction() as con:
                con.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ? AND last_seen < ?",
                            [now, id_hash, now])
        return self.get(email)

    def end_session(self, session_id: str | None) -> None:
        """Sign one session out (every copy of its cookie stops working)."""
        if isinstance(session_id, str) and session_id:
            with self._transaction() as con:
                con.execute("DELETE FROM sessions WHERE id_hash = ?", [_token_hash(session_id)])

    def end_sessions(self, email: str) -> int:
        """Sign a person out everywhere; returns how many sessions ended."""
        user = self._require(email)
        with self._transaction() as con:
            return con.execute("DELETE FROM sessions WHERE email = ?", [user.email]).rowcount

    def session_count(self, email: str) -> int:
        """The person's sessions still valid now."""
        now = self._clock()
        with self._connect() as con:
            return con.execute(
                "SELECT count(*) FROM sessions WHERE email = ? AND last_seen > ? AND created_at > ?",
                [(email or "").strip().lower(), now - SESSION_IDLE.total_seconds(),
                 now - SESSION_LIFETIME.total_seconds()]).fetchone()[0]

    # --- one-time sign-in links ------------------------------------------------------------

    def issue_sign_in_token(self, email: str, valid_for: timedelta = SIGN_IN_LINK_VALID) -> str:
        """A new random token that signs this person in once, until it expires."""
        user = self._require(email)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._transaction() as con:
            # Expired and used tokens are of no use to anyone: drop them while here.
            con.execute("DELETE FROM sign_in_tokens WHERE expires_at <= ? OR used_at IS NOT NULL", [now])
            con.execute("INSERT INTO sign_in_tokens (token_hash, email, expires_at) VALUES (?, ?, ?)",
                        [_token_hash(token), user.email, now + valid_for.total_seconds()])
        return token

    def issue_sign_in_link(self, email: str, base_url: str, valid_for: timedelta = SIGN_IN_LINK_VALID) -> str:
        """The URL (on the web app at `base_url`) that signs this person in once."""
        return f"{base_url.rstrip('/')}/sign-in/link/{self.issue_sign_in_token(email, valid_for)}"

    def peek(self, token: str) -> User | None:
        """Whom a still-valid token would sign in, without using it."""
        with self._connect() as con:
            row = con.execute(
                "SELECT email FROM sign_in_tokens WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                [_token_hash(token or ""), self._clock()]).fetchone()
        return self.get(row[0]) if row else None

    def redeem(self, token: str) -> User | None:
        """Use a token: the person it signs in, or None when it is unknown, used or expired."""
        now = self._clock()
        with self._transaction() as con:
            row = con.execute(
                "UPDATE sign_in_tokens SET used_at = ? "
                "WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING email",
                [now, _token_hash(token or ""), now]).fetchone()
        return self.get(row[0]) if row else None

    # --- failed sign-in throttle -------------------------------------------------------------

    def begin_sign_in(self, email: str, address: str) -> Attempt:
        """May a password for `email` from `address` be checked now? If so, the attempt is
        counted as a failure at once, in the same transaction as the check (so parallel guesses
        cannot all pass the check before any is counted); `sign_in_succeeded` takes it back.
        Any text is accepted as `email` (an unknown one is throttled the same way)."""
        email = (email or "").strip().lower()[:_THROTTLE_EMAIL_CHARS]
        keys = _throttle_keys(email, address)
        now = self._clock()
        with self._transaction() as con:
            con.execute("DELETE FROM sign_in_throttle WHERE last_at < ? AND next_at < ?",
                        [now - THROTTLE_MEMORY_SECONDS, now])
            known = con.execute("SELECT 1 FROM known_sign_ins WHERE email = ? AND address = ? AND last_success > ?",
                                [email, address, now - KNOWN_SIGN_IN.total_seconds()]).fetchone() is not None
            rows = {kind: con.execute("SELECT failures, next_at FROM sign_in_throttle WHERE key = ?", [key]).fetchone()
                    for kind, key in keys.items()}
            held = {kind: row[1] - now for kind, row in rows.items()
                    if row is not None and row[1] > now and (kind == "pair" or not known)}
            if held:
                kind = max(held, key=held.get)
                return Attempt(False, held[kind], kind)
            locking = []
            for kind, key in keys.items():
                failures = (rows[kind][0] if rows[kind] else 0) + 1
                delay = THROTTLE[kind].after(failures)
                if delay:
                    locking.append(kind)
                con.execute(
                    "INSERT INTO sign_in_throttle (key, failures, last_at, next_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, "
                    "next_at = excluded.next_at", [key, failures, now, now + delay if delay else 0])
        return Attempt(True, 0.0, None, tuple(locking))

    def sign_in_succeeded(self, email: str, address: str) -> None:
        """The attempt `begin_sign_in` counted was the right password: take it back, clear the
        pair's failures, and remember the pair as one the person signs in from."""
        email = normalise_email(email)
        keys = _throttle_keys(email, address)
        now = self._clock()
        with self._transaction() as con:
            con.execute("DELETE FROM sign_in_throttle WHERE key = ?", [keys["pair"]])
            for kind in ("email", "address"):
                con.execute("UPDATE sign_in_throttle SET failures = max(failures - 1, 0), "
                            "next_at = CASE WHEN failures - 1 < ? THEN 0 ELSE next_at END WHERE key = ?",
                            [THROTTLE[kind].free, keys[kind]])
            con.execute("INSERT INTO known_sign_ins (email, address, last_success) VALUES (?, ?, ?) "
                        "ON CONFLICT (email, address) DO UPDATE SET last_success = excluded.last_success",
                        [email, address, now])

    def address_refused(self, address: str) -> float:
        """Count a refused sign-in link from `address` (unknown, used or expired); returns the
        seconds that address must still wait (then nothing was counted), or 0."""
        key = _throttle_keys("", address)["address"]
        now = self._clock()
        with self._transaction() as con:
            row = con.execute("SELECT failures, next_at, last_at FROM sign_in_throttle WHERE key = ?", [key]).fetchone()
            if row is not None and row[1] > now:
                return row[1] - now
            failures = (row[0] if row is not None and now - row[2] < THROTTLE_MEMORY_SECONDS else 0) + 1
            delay = THROTTLE["address"].after(failures)
            con.execute(
                "INSERT INTO sign_in_throttle (key, failures, last_at, next_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, "
                "next_at = excluded.next_at", [key, failures, now, now + delay if delay else 0])
        return 0.0

    # --- helpers ---------------------------------------------------------------------------

    def _require(self, email: str) -> User:
        user = self.get(email)
        if user is None:
            raise PeopleError(f"no user {email!r}; `pulse users list` shows who there is")
        return user


def _throttle_keys(email: str, address: str) -> dict[str, str]:
    return {"pair": f"pair:{email} {address}", "email": f"email:{email}", "address": f"address:{address}"}


def _check_role_cities(role: str, cities: Iterable[str]) -> tuple[str, ...]:
    if role not in ROLES:
        raise PeopleError(f"role: expected lead, organiser or admin, got {role!r}")
    chosen = tuple(sorted(set(cities)))
    for city in chosen:
        if not _CITY.fullmatch(city):
            raise PeopleError(f"city: {city!r} is not a city slug (lowercase letters, digits and dashes)")
    if role == "admin" and chosen:
        raise PeopleError("an admin sees every city: give no --city")
    if role != "admin" and not chosen:
        raise PeopleError(f"a {role} needs at least one --city")
    return chosen


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
