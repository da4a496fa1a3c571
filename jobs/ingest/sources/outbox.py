"""The platform's Postgres outbox: `platform_events(seq bigint primary key, envelope jsonb not null)`.

Pulse reads it with a read-only role, in `seq` order, from just past the last committed `seq`.
Each envelope is handed on as the text Postgres prints for the jsonb value (jsonb normalises key
order and drops duplicate keys; the loader validates that text like any other record).

Consistency: a pull is one REPEATABLE READ, READ ONLY transaction, so the count and every batch
see the same snapshot however long the loader takes between batches (the price: the platform's
vacuum waits for a pull as long as it runs). What a snapshot cannot fix:
if the platform let a transaction holding a lower `seq` commit after one holding a higher `seq`
was visible, a pull could pass that lower `seq` and never see it. The contract says `seq` only
grows, which we take as "in commit order" (the platform assigns it at commit, or under a lock);
an outbox filled by plain concurrent `nextval()` inserts would need a settle delay here.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterator

from pydantic import Field, field_validator

from pulse.core import registry
from pulse.core.config import secret

from jobs.ingest.sources.base import Batch, SourceError, SourceKind, SourceSettings

CONNECT_TIMEOUT_SECONDS = 10
# libpq keywords that hold a secret (the key file's passphrase too); a URI's user:password@
# and ?password= come out of conninfo_to_dict as `password`.
_SECRET_KEYS = ("password", "sslpassword")


class OutboxSettings(SourceSettings):
    """`[sources.NAME] kind = "outbox"`."""

    what = "an outbox source"
    dsn: str
    """libpq connection string without the password, e.g. `host=db dbname=platform user=pulse_reader`."""
    password_env: str = ""
    """Environment variable holding the reader role's password (empty: none, e.g. peer auth)."""
    table: str = "platform_events"
    fetch_size: int = Field(10_000, ge=1)

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(value)
        except Exception:  # psycopg.ProgrammingError
            # Not libpq's words: they quote the part it could not read, which may be a password.
            raise ValueError("not a libpq connection string (expected key=value pairs such as "
                             "`host=db dbname=platform user=pulse_reader`, or a postgresql:// URI)") from None
        if any(parts.get(key) for key in _SECRET_KEYS):
            raise ValueError("the connection string must not carry the password; put it in the environment "
                             "variable named by password_env")
        return value

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?", value):
            raise ValueError(f"expected a table name like \"platform_events\" or \"schema.table\", got {value!r}")
        return value


class OutboxKind(SourceKind):
    name = "outbox"
    settings = OutboxSettings

    def make(self, settings, config):
        return OutboxSource.from_config(settings, config.ingest.batch_records)

    def describe_position(self, position) -> str:
        return f"seq {position.get('seq')}"

    def hosts(self, settings) -> list[str]:
        from psycopg.conninfo import conninfo_to_dict

        host = conninfo_to_dict(settings.dsn).get("host", "")
        return [h for h in host.split(",") if h and not h.startswith("/")]


@registry.hookimpl
def pulse_source_kinds():
    return [OutboxKind()]


class OutboxSource:
    kind = "outbox"

    def __init__(self, name: str, dsn: str, password: str | None, table: str, fetch_size: int, batch_records: int):
        self.name = name
        self.dsn = dsn
        self.password = password
        self.table = table
        self.fetch_size = fetch_size
        self.batch_records = batch_records

    @classmethod
    def from_config(cls, source_config: OutboxSettings, batch_records: int) -> OutboxSource:
        password = None
        if source_config.password_env:
            password = secret(source_config.password_env, f"sources.{source_config.name}.password_env")
        return cls(
            name=source_config.name,
            dsn=source_config.dsn,
            password=password,
            table=source_config.table,
            fetch_size=source_config.fetch_size,
            batch_records=batch_records,
        )

    def batches(self, position: Any | None) -> Iterator[Batch]:
        import psycopg
        from psycopg import sql

        after = self._after(position)
        table = sql.Identifier(*self.table.split("."))
        where = sql.SQL("WHERE seq > %s" if after is not None else "")
        params = [after] if after is not None else []
        try:
            with self._connect() as conn:
                # Both queries below share this transaction's snapshot (see the module docstring).
                total = conn.execute(sql.SQL("SELECT count(*) FROM {} {}").format(table, where), params).fetchone()[0]
                if total == 0:
                    return
                with conn.cursor(name="pulse_outbox") as cursor:
                    cursor.itersize = self.fetch_size
                    cursor.execute(sql.SQL("SELECT seq, envelope::text FROM {} {} ORDER BY seq").format(table, where), params)
                    done, locations, raws = 0, [], []
                    for seq, envelope in cursor:
                        locations.append(f"outbox:{seq}")
                        raws.append(envelope)
                        if len(raws) == self.batch_records:
                            done += len(raws)
                            yield Batch(locations, raws, {"seq": seq}, (done, total))
                            locations, raws = [], []
                    if raws:
                        done += len(raws)
                        yield Batch(locations, raws, {"seq": seq}, (done, total))
        except psycopg.Error as error:
            raise SourceError(f"outbox {self.name}: cannot read {self.table}: {self._describe(error)}") from None

    def _connect(self):
        import psycopg

        extra = {"password": self.password} if self.password else {}
        conn = psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="pulse", **extra)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        return conn

    def _after(self, position: Any | None) -> int | None:
        if position is None:
            return None
        seq = position.get("seq") if isinstance(position, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise SourceError(f"outbox {self.name}: stored position {position!r} is not {{\"seq\": <integer>}}; reset the source's state")
        return seq

    def _describe(self, error) -> str:
        """psycopg's message on one line, without the password should libpq ever echo it."""
        # The server's own message when there is one: str() adds the query text and a caret line.
        text = " ".join((error.diag.message_primary or str(error)).split()) or type(error).__name__
        if self.password:
            text = text.replace(self.password, "***")
        return text
