"""People: who may sign in to Pulse's web pages, with which role, and for which cities.

They live in a small SQLite file beside the warehouse (`<data_dir>/people.sqlite`), not in
DuckDB: the web app has to write (sign-ins, throttle counters) while `pulse ingest` and
`pulse build` hold DuckDB's single writer lock, and SQLite in WAL mode lets many processes
read and one write for a few milliseconds at a time.

Roles: an `admin` sees every city; a `lead` or an `organiser` sees only the cities listed for
them. Passwords are stored as scrypt hashes (memory-hard, standard library) with a salt per
user; sign-in links carry a random token of which only a SHA-256 is stored, valid once and
until it expires. Failed sign-ins are counted per email and per client address, and too many
in a window lock that key out for a while.

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
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from pulse.core import sqlite
from pulse.core.config import Config
from pulse.core.storage import ensure_folder

FILE_NAME = "people.sqlite"
ROLES = ("lead", "organiser", "admin")

# scrypt cost: N=2^15, r=8 takes 32 MiB and ~0.1 s a hash on this class of machine, which
# makes an offline guess expensive without making a sign-in slow. The parameters are stored
# with each hash, so raising them later only affects new hashes (and rehashes on sign-in).
SCRYPT_N = 2 ** 15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 2 ** 27

SIGN_IN_LINK_VALID = timedelta(hours=24)
MIN_PASSWORD_LENGTH = 10
"""What the CLI and the web app ask of a new password (the API itself takes any non-empty one)."""

# Failed sign-ins: at most this many per key within the window, then the key waits out the
# lockout. An email gets few tries (guessing one person's password); an address more (an
# office behind one NAT address has many people mistyping).
THROTTLE_WINDOW_SECONDS = 15 * 60
THROTTLE_LOCKOUT_SECONDS = 15 * 60
THROTTLE_LIMITS = {"email": 5, "ip": 30}

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
    session_version: int
    created_at: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, city: str) -> bool:
        return self.is_admin or city in self.cities

    def visible(self, cities: Iterable[str]) -> list[str]:
        """Those of `cities` this person may see, in the order given."""
        return [city for city in cities if self.can_see(city)]


def normalise_email(email: str) -> str:
    text = (email or "").strip().lower()
    if not _EMAIL.fullmatch(text):
        raise PeopleError(f"{email!r} is not an email address")
    return text


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$N$r$p$salt$hash` (salt and hash in unpadded base64)."""
    if not password:
        raise PeopleError("an empty password is not allowed")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _needs_rehash(stored: str) -> bool:
    return stored.split("$")[1:4] != [str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P)]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


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
                "SELECT email, role, password_hash IS NOT NULL, slack_user_id, session_version, created_at "
                "FROM users WHERE email = ?", [email]).fetchone()
            if row is None:
                return None
            cities = tuple(r[0] for r in con.execute(
                "SELECT city FROM user_cities WHERE email = ? ORDER BY city", [email]))
        return User(row[0], row[1], cities, bool(row[2]), row[3], row[4], row[5])

    def remove(self, email: str) -> bool:
        """Remove a person (their sign-in links go with them); False when there was none."""
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

    # --- passwords and sessions ------------------------------------------------------------

    def set_password(self, email: str, password: str) -> User:
        """Set a new password; sessions signed in before stop working."""
        user = self._require(email)
        stored = hash_password(password)
        with self._transaction() as con:
            con.execute("UPDATE users SET password_hash = ?, session_version = session_version + 1 WHERE email = ?",
                        [stored, user.email])
        return self.get(user.email)

    def verify_password(self, email: str, password: str) -> User | None:
        """The person when the password is theirs, else None (as slow for unknown emails).

        Does not look at the throttle: callers check `sign_in_wait` first and report the
        outcome with `record_failure` / `record_success`.
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
        if _needs_rehash(stored):
            with self._transaction() as con:
                con.execute("UPDATE users SET password_hash = ? WHERE email = ?", [hash_password(password), email])
        return self.get(email)

    def revoke_sessions(self, email: str) -> None:
        user = self._require(email)
        with self._transaction() as con:
            con.execute("UPDATE users SET session_version = session_version + 1 WHERE email = ?", [user.email])

    def session_user(self, email: str, session_version: int) -> User | None:
        """The person a session cookie names, while that session is still valid."""
        user = self.get(email) if email else None
        if user is None or user.session_version != session_version:
            return None
        return user

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

    def sign_in_wait(self, *keys: str) -> float:
        """Seconds until sign-in attempts for these keys (`email:...`, `ip:...`) are allowed again; 0 when they are."""
        now = self._clock()
        with self._connect() as con:
            waits = [row[0] - now for row in con.execute(
                f"SELECT locked_until FROM sign_in_failures WHERE key IN ({','.join('?' * len(keys))})", keys)]
        return max([0.0] + waits)

    def record_failure(self, *keys: str) -> None:
        """Count one failed attempt against each key; a key over its limit in the window is locked out."""
        now = self._clock()
        with self._transaction() as con:
            for key in keys:
                limit = THROTTLE_LIMITS.get(key.partition(":")[0], THROTTLE_LIMITS["email"])
                row = con.execute("SELECT failures, first_at FROM sign_in_failures WHERE key = ?", [key]).fetchone()
                if row is None or now - row[1] > THROTTLE_WINDOW_SECONDS:
                    failures, first_at = 1, now
                else:
                    failures, first_at = row[0] + 1, row[1]
                locked_until = now + THROTTLE_LOCKOUT_SECONDS if failures >= limit else 0
                con.execute(
                    "INSERT INTO sign_in_failures (key, failures, first_at, locked_until) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, first_at = excluded.first_at, "
                    "locked_until = excluded.locked_until",
                    [key, failures, first_at, locked_until])

    def record_success(self, *keys: str) -> None:
        with self._transaction() as con:
            con.executemany("DELETE FROM sign_in_failures WHERE key = ?", [(key,) for key in keys])

    # --- helpers ---------------------------------------------------------------------------

    def _require(self, email: str) -> User:
        user = self.get(email)
        if user is None:
            raise PeopleError(f"no user {email!r}; `pulse users list` shows who there is")
        return user


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
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
