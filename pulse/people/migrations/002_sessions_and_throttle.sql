-- Sessions live here, not in the cookie: the cookie carries a random id of which only a SHA-256
-- is stored, so signing out (deleting the row) ends the session for every copy of the cookie.
-- users.session_version is no longer read: deleting a person's rows is how their sessions end.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE INDEX sessions_by_email ON sessions (email);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen);

-- The failed sign-in throttle, one row per key (`pair:EMAIL ADDRESS`, `email:EMAIL`,
-- `address:ADDRESS`): failures counted since the key was last quiet for a day, and the instant
-- the next attempt is allowed. It replaces sign_in_failures, whose rows (a fixed lockout per
-- email) are only minutes of state and are not carried over.
DROP TABLE IF EXISTS sign_in_failures;
CREATE TABLE sign_in_throttle (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at  REAL NOT NULL,
    next_at  REAL NOT NULL DEFAULT 0
);
CREATE INDEX sign_in_throttle_by_last_at ON sign_in_throttle (last_at);

-- Where a person has signed in before: such an (email, address) pair is not held back by the
-- per-email or per-address ceilings, so someone guessing elsewhere cannot keep them out.
CREATE TABLE known_sign_ins (
    email        TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
    address      TEXT NOT NULL,
    last_success REAL NOT NULL,
    PRIMARY KEY (email, address)
);
