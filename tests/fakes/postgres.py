"""A real PostgreSQL server for the test run, started from the machine's own binaries.

`postgres` (session fixture) initdbs a throwaway cluster in a temp dir, listening on 127.0.0.1
on a free port (and on a unix socket inside the temp dir), and removes it at the end.
`outbox` (per test) makes a fresh database holding `platform_events` the way the platform has
it: written by an owner role, readable by the read-only role `pulse_reader` with a password.

Without the binaries the tests that need them skip, except under CI (`$CI` set), where they
fail: `.ci/run` installs `postgresql` (Debian), so a missing server there is a real fault.
PostgreSQL refuses to run as root, so as root (CI, containers) the server runs as the
`postgres` user that the Debian package creates, or else as a system user made for it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

READER = "pulse_reader"
OWNER = "platform"
SERVICE_USER = "pulse-postgres"


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH, then `pg_config --bindir`, then Debian's layout."""
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout
            candidates.append(Path(out.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    # Newest major version first (numeric sort: 9.6 < 15 < 16).
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p.split("/")[-2]), reverse=True)
    candidates += [Path(p) for p in debian]
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _service_user() -> pwd.struct_passwd | None:
    """Who runs the server: None when we are not root (then it is us)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        check=True, capture_output=True,
    )
    return pwd.getpwnam(SERVICE_USER)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    host: str
    port: int
    admin_user: str
    admin_password: str
    socket_dir: Path

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq connection string over TCP; without `password` it carries none (as Pulse's config)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={dbname}", f"user={user or self.admin_user}"]
        if password is not None:
            parts.append(f"password={password}")
        return " ".join(parts)

    @property
    def admin_dsn(self) -> str:
        return self.dsn(password=self.admin_password)

    def connect(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> psycopg.Connection:
        if user is None:
            user, password = self.admin_user, self.admin_password
        return psycopg.connect(self.dsn(dbname, user, password), autocommit=True)

    def create_role(self, name: str, password: str | None = None, *, login: bool = True) -> None:
        """Create the role, or reset its password when it exists (roles are cluster-wide)."""
        with self.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            options = sql.SQL(" LOGIN" if login else " NOLOGIN")
            if password is not None:
                options += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
            conn.execute(sql.SQL("{} {}").format(verb, sql.Identifier(name)) + options)

    def create_database(self, name: str, owner: str | None = None) -> None:
        with self.connect() as conn:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            conn.execute(query)
            # Nobody connects unless granted: the reader gets CONNECT only where we say.
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))


def start_server() -> tuple[PostgresServer, Callable[[], None]]:
    """Start a cluster; returns it and the function that stops and removes it."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, via pg_config "
            "or in /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql)"
        )
    user = _service_user()
    # Not pytest's tmp_path: its parents are root-only (0700), and the server user must get in.
    root = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    admin_password = secrets.token_hex(16)
    (root / "pwfile").write_text(admin_password + "\n")
    if user is not None:
        for path in (root, sockets, root / "pwfile"):
            os.chown(path, user.pw_uid, user.pw_gid)

    def run(*args: str) -> None:
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
        # cwd=root: the server user may not be allowed into the caller's working directory.
        done = subprocess.run([str(a) for a in args], cwd=root, capture_output=True, text=True, timeout=120, **as_user)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stdout}{done.stderr}{tail}")

    def stop() -> None:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "--pwfile", root / "pwfile",
            "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256")
        port = _free_port()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sockets}'\n"
                # A throwaway cluster: durability only slows the tests down.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start")
    except BaseException:
        stop()
        raise
    server = PostgresServer(host="127.0.0.1", port=port, admin_user="postgres", admin_password=admin_password, socket_dir=sockets)
    return server, stop


@pytest.fixture(scope="session")
def postgres():
    try:
        server, stop = start_server()
    except FileNotFoundError as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    try:
        yield server
    finally:
        stop()


@dataclass
class Outbox:
    """One platform database with its outbox table, as Pulse would meet it."""

    server: PostgresServer
    dbname: str
    table: str
    """As Pulse's `table` setting spells it: `platform_events` or `schema.platform_events`."""
    reader_password: str
    owner_password: str

    @property
    def reader_dsn(self) -> str:
        """What goes in Pulse's `dsn`: no password (that comes from `password_env`)."""
        return self.server.dsn(self.dbname, READER)

    def owner(self) -> psycopg.Connection:
        return self.server.connect(self.dbname, OWNER, self.owner_password)

    def reader(self) -> psycopg.Connection:
        return self.server.connect(self.dbname, READER, self.reader_password)

    def insert(self, rows: list[tuple[int, str]]) -> None:
        """Write `(seq, envelope JSON text)` rows as the platform does."""
        with self.owner() as conn, conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} (seq, envelope) VALUES (%s, %s::jsonb)").format(self.identifier),
                rows,
            )

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(*self.table.split("."))


def create_outbox(server: PostgresServer, dbname: str, schema: str | None = None) -> Outbox:
    """A database owned by `platform` with `platform_events`, SELECT granted to `pulse_reader` only."""
    owner_password, reader_password = secrets.token_hex(12), secrets.token_hex(12)
    server.create_role(OWNER, owner_password)
    server.create_role(READER, reader_password)
    server.create_database(dbname, owner=OWNER)
    outbox = Outbox(server, dbname, f"{schema}.platform_events" if schema else "platform_events", reader_password, owner_password)
    with server.connect() as admin:
        admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), sql.Identifier(READER)))
    with outbox.owner() as conn:
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        schema_id = sql.Identifier(schema or "public")
        conn.execute(sql.SQL("CREATE TABLE {} (seq bigint PRIMARY KEY, envelope jsonb NOT NULL)").format(outbox.identifier))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_id, sql.Identifier(READER)))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(outbox.identifier, sql.Identifier(READER)))
    return outbox


@pytest.fixture
def outbox(postgres) -> Outbox:
    """A fresh outbox database per test (passwords change per test too, so none leaks between them)."""
    name = "platform_" + secrets.token_hex(4)
    yield create_outbox(postgres, name)
    with postgres.connect() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
