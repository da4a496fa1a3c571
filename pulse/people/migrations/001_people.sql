-- People, their cities, one-time sign-in links (hashed) and the failed-sign-in throttle.
-- IF NOT EXISTS: a people file written before the stores had versioned migrations already
-- holds these tables.
CREATE TABLE IF NOT EXISTS users (
    email           TEXT PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('lead', 'organiser', 'admin')),
    password_hash   TEXT,
    slack_user_id   TEXT UNIQUE,
    -- Bumped when a password changes or sessions are revoked: a session cookie carries the
    -- version it was issued with and stops working once it differs.
    session_version INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_cities (
    email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
    city  TEXT NOT NULL,
    PRIMARY KEY (email, city)
);
CREATE TABLE IF NOT EXISTS sign_in_tokens (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
    expires_at REAL NOT NULL,
    used_at    REAL
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    first_at     REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0
);
