-- Analytics: where the last build stopped, the typed staging copies of the events the metrics
-- read, and the model tables. Everything lives in schema `analytics` so no other component's
-- table names can collide. No primary keys or indexes: every write is a delete + insert of a
-- set of keys done with hash joins, which DuckDB does faster than index maintenance.
CREATE SCHEMA analytics;

-- One row. `last_seq`: every event with seq <= last_seq is reflected in the models.
-- `default_timezone`: the configured default the models were bucketed with; when the
-- configuration changes it, the next build is a full one.
CREATE TABLE analytics.state (
    last_seq          BIGINT      NOT NULL,
    default_timezone  VARCHAR     NOT NULL,
    built_at          TIMESTAMPTZ NOT NULL,
    full_built_at     TIMESTAMPTZ NOT NULL
);

-- Staging: the events each model needs, with their JSON fields pulled out once, so that a
-- refresh re-reads the history of a key without parsing JSON again. Append-only (events are
-- already deduplicated by ingest); (time, id, source) orders events everywhere.
CREATE TABLE analytics.stg_city_upserts (
    city VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL, source VARCHAR NOT NULL,
    name VARCHAR, timezone VARCHAR NOT NULL);
CREATE TABLE analytics.stg_memberships (
    city VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL,
    source VARCHAR NOT NULL, is_join BOOLEAN NOT NULL);
CREATE TABLE analytics.stg_meetup_changes (
    event_id VARCHAR NOT NULL, type VARCHAR NOT NULL, city VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
    id VARCHAR NOT NULL, source VARCHAR NOT NULL, title VARCHAR, starts_at TIMESTAMPTZ);
CREATE TABLE analytics.stg_rsvps (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL,
    source VARCHAR NOT NULL, status VARCHAR NOT NULL);
CREATE TABLE analytics.stg_checkins (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL);
CREATE TABLE analytics.stg_posts (
    post_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, id VARCHAR NOT NULL, source VARCHAR NOT NULL,
    title VARCHAR NOT NULL);
CREATE TABLE analytics.stg_views (
    city VARCHAR NOT NULL, post_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, visitor_id VARCHAR NOT NULL);

-- Models.
-- Every city named by an event of a known type, with its timezone (latest city:upserted, else
-- the configured default) and name (NULL when no city:upserted arrived).
CREATE TABLE analytics.cities (
    city VARCHAR NOT NULL, name VARCHAR, timezone VARCHAR NOT NULL);

-- One row per membership transition (a join of a non-member, a leave of a member), with the
-- local day it happened on.
CREATE TABLE analytics.member_transitions (
    city VARCHAR NOT NULL, user_id VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL, day DATE NOT NULL,
    is_join BOOLEAN NOT NULL);
-- Transitions per city and local day (days without any are absent); members_end is a
-- cumulative sum at query time.
CREATE TABLE analytics.member_daily (
    city VARCHAR NOT NULL, day DATE NOT NULL, joins BIGINT NOT NULL, leaves BIGINT NOT NULL);

-- Meetups that exist (title and starts_at known), latest attributes.
CREATE TABLE analytics.meetups (
    event_id VARCHAR NOT NULL, city VARCHAR NOT NULL, title VARCHAR NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL, cancelled BOOLEAN NOT NULL);
-- Each user's first meetup (by starts_at, then event_id) among the meetups of a city they
-- checked in at: what first_timers counts.
CREATE TABLE analytics.first_checkins (
    city VARCHAR NOT NULL, user_id VARCHAR NOT NULL, event_id VARCHAR NOT NULL);
-- Attendance per existing meetup.
CREATE TABLE analytics.attendance (
    event_id VARCHAR NOT NULL, going BIGINT NOT NULL, checked_in BIGINT NOT NULL,
    no_shows BIGINT NOT NULL, walk_ins BIGINT NOT NULL, first_timers BIGINT NOT NULL);

-- Blog: each post's title (latest blog:post_published), and views per city, post, local day
-- and visitor. An incremental build appends rows for new views, so one key can have several
-- rows: readers sum `views` and count distinct `visitor_id`.
CREATE TABLE analytics.posts (
    post_id VARCHAR NOT NULL, title VARCHAR NOT NULL);
CREATE TABLE analytics.blog_visits (
    city VARCHAR NOT NULL, post_id VARCHAR NOT NULL, day DATE NOT NULL, visitor_id VARCHAR NOT NULL,
    views BIGINT NOT NULL);
