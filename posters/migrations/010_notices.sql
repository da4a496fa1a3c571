-- Notices: messages Pulse sends to a city's leads (weekly digests, alerts), each exactly once per
-- key, with the publisher's guarantees: the row is *sending* (committed, synchronous=FULL) before
-- the API call and *sent* after it; the marker travels in the message's metadata so a row left
-- *sending* by a crash is settled by looking the message up in the channel. Numbered 010 so it
-- cannot take the version of another branch's next posts migration.
CREATE TABLE IF NOT EXISTS notices (
    key         TEXT PRIMARY KEY,             -- digest:week:sydney:2026-08-31, alert:sydney:...:<opened>
    city        TEXT NOT NULL,
    kind        TEXT NOT NULL,                -- digest, alert
    channel     TEXT NOT NULL,                -- where it goes, e.g. Slack #sydney-leads
    state       TEXT NOT NULL,                -- sending, sent, failed
    marker      TEXT NOT NULL UNIQUE,
    text        TEXT NOT NULL,                -- the plain-text fallback, as sent
    content     TEXT NOT NULL,                -- the whole payload (JSON)
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    external_id TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Each breach of an alert: opened when its condition first holds, cleared when it no longer
-- does; its notice is sent once. At most one open breach per alert key.
CREATE TABLE IF NOT EXISTS alert_breaches (
    key         TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    cleared_at  TEXT,
    city        TEXT NOT NULL,
    title       TEXT NOT NULL,
    notice_key  TEXT NOT NULL,
    PRIMARY KEY (key, opened_at)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_breach ON alert_breaches (key) WHERE cleared_at IS NULL;
