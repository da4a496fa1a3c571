-- Everything the publisher needs about a meetup, derived here once (the contract's rule: each
-- field from the latest event:created / event:updated by time that carries it), so no other
-- package folds meetup events itself: venue, url, description; when it was created (its first
-- event:created); why it was cancelled (the latest event:cancelled's reason); and `changed_seq`,
-- the highest seq of its events, by which a reader finds the meetups changed since it last looked.
-- The tables are recreated empty; the next build is a full one.
DROP TABLE analytics.stg_meetup_changes;
CREATE TABLE analytics.stg_meetup_changes (
    event_id VARCHAR NOT NULL, type VARCHAR NOT NULL, city VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
    id VARCHAR NOT NULL, source VARCHAR NOT NULL, title VARCHAR, starts_at TIMESTAMPTZ,
    venue VARCHAR, url VARCHAR, description VARCHAR, reason VARCHAR, seq BIGINT NOT NULL);

DROP TABLE analytics.meetups;
CREATE TABLE analytics.meetups (
    event_id VARCHAR NOT NULL, city VARCHAR NOT NULL, title VARCHAR NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL, cancelled BOOLEAN NOT NULL,
    venue VARCHAR NOT NULL, url VARCHAR NOT NULL, description VARCHAR NOT NULL,
    created_at TIMESTAMPTZ,           -- time of its first event:created; NULL when none arrived
    cancel_reason VARCHAR NOT NULL,   -- '' when not cancelled or no reason given
    changed_seq BIGINT NOT NULL);

DELETE FROM analytics.state;
