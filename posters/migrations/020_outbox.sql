-- Pulse's own events (pulse/core/emit.py), waiting for the sink or sent: in the posts file so a
-- post's change and its event commit in one transaction. Numbered 020 to leave room for the
-- posts' own migrations.
CREATE TABLE outbox_events (
    n           INTEGER PRIMARY KEY,         -- recording order: delivery order
    id          TEXT NOT NULL UNIQUE,        -- the CloudEvent's id (stable: a receiver dedupes by it)
    type        TEXT NOT NULL,
    envelope    TEXT NOT NULL,               -- the whole event as it is sent, byte for byte every time
    recorded_at TEXT NOT NULL,
    sent_at     TEXT,                        -- NULL: waiting
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX outbox_waiting ON outbox_events (n) WHERE sent_at IS NULL;
-- Which Pulse this is, in the ids of events that have no id of their own (analytics:refreshed).
INSERT OR IGNORE INTO meta (key, value) VALUES ('events_instance', lower(hex(randomblob(16))));
