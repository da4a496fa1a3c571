-- Posts, their audit log, the drafting position (meta.last_seq), each channel's enable time,
-- and the Slack requests already seen (replay protection). IF NOT EXISTS: a posts file written
-- before the stores had versioned migrations already holds these tables.
CREATE TABLE IF NOT EXISTS posts (
    id              INTEGER PRIMARY KEY,
    city            TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,               -- slack, x, facebook
    kind            TEXT NOT NULL,               -- announce, update, cancel
    parent_id       INTEGER REFERENCES posts(id),-- update/cancel: the post it follows up
    mode            TEXT NOT NULL,               -- auto, approval (when drafted)
    state           TEXT NOT NULL,
    text            TEXT NOT NULL,               -- the words as the channel gets them
    content         TEXT NOT NULL,               -- the whole payload (JSON): Slack blocks, Facebook link
    snapshot        TEXT NOT NULL,               -- the meetup fields it was rendered from (JSON)
    edited_by       TEXT,                        -- a person changed the wording
    starts_at       TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    not_before      TEXT,                        -- after a 429: not before the reset
    marker          TEXT NOT NULL UNIQUE,        -- sent along (Slack metadata) to find the post after a crash
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    external_id     TEXT,
    external_url    TEXT,
    approved_by     TEXT,
    approved_at     TEXT,
    rejected_by     TEXT,
    reject_reason   TEXT,
    approval_request TEXT,                       -- Slack ts of the Approve/Reject message
    publishing_since TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_announcement ON posts (city, event_id, channel) WHERE kind = 'announce';
CREATE INDEX IF NOT EXISTS posts_by_state ON posts (state, due_at);
CREATE INDEX IF NOT EXISTS posts_by_meetup ON posts (city, event_id, channel);
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    post_id     INTEGER NOT NULL REFERENCES posts(id),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    old_state   TEXT,
    new_state   TEXT,
    old_text    TEXT,
    new_text    TEXT,
    detail      TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_post ON audit (post_id, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channels_enabled (
    city TEXT NOT NULL, channel TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (city, channel));
CREATE TABLE IF NOT EXISTS slack_requests_seen (signature TEXT PRIMARY KEY, seen_at REAL NOT NULL);
