-- 64-bit hashes of the composite keys that builds look up in the largest tables: probing
-- millions of rows by one integer is several times cheaper than by two strings. A hash only
-- ever picks which keys a build deletes and recomputes (the same pick for both), and the
-- recomputation partitions by the real key, so a collision merely recomputes one more key,
-- exactly. The tables are recreated empty; the next build is a full one.
DROP TABLE analytics.stg_memberships;
CREATE TABLE analytics.stg_memberships (
    city VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL,
    source VARCHAR NOT NULL, is_join BOOLEAN NOT NULL,
    member_hash UBIGINT NOT NULL);  -- hash(city, user_id)

DROP TABLE analytics.member_transitions;
CREATE TABLE analytics.member_transitions (
    city VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, day DATE NOT NULL,
    is_join BOOLEAN NOT NULL,
    member_hash UBIGINT NOT NULL);  -- hash(city, user_id)

DROP TABLE analytics.stg_rsvps;
CREATE TABLE analytics.stg_rsvps (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL,
    source VARCHAR NOT NULL, status VARCHAR NOT NULL,
    pair_hash UBIGINT NOT NULL);  -- hash(event_id, user_id)

DROP TABLE analytics.rsvps;
CREATE TABLE analytics.rsvps (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, status VARCHAR NOT NULL,
    pair_hash UBIGINT NOT NULL);  -- hash(event_id, user_id)

DROP TABLE analytics.stg_checkins;
CREATE TABLE analytics.stg_checkins (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
    pair_hash UBIGINT NOT NULL);  -- hash(event_id, user_id)

DELETE FROM analytics.state;
