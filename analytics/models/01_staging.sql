-- Staging: pull the events that arrived since the last build (getvariable('build_lo') <
-- seq <= getvariable('build_hi')) out of their JSON into typed delta tables (temp, this build
-- only), and append them to the staging tables. Unknown types are left out here, so no model
-- ever sees them. A full build is the same step with build_lo = 0 over emptied tables.

CREATE OR REPLACE TEMP TABLE d_cities AS
SELECT DISTINCT city
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi')
  AND type IN ('city:upserted', 'user:joined_city', 'user:left_city', 'event:created', 'event:updated',
               'event:cancelled', 'event:rsvp', 'event:checked_in', 'blog:post_published', 'blog:post_viewed');

CREATE OR REPLACE TEMP TABLE d_city_upserts AS
SELECT city, time, id, source, data->>'$.name' AS name, data->>'$.timezone' AS timezone
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi') AND type = 'city:upserted';
INSERT INTO analytics.stg_city_upserts SELECT * FROM d_city_upserts;

CREATE OR REPLACE TEMP TABLE d_memberships AS
SELECT city, data->>'$.user_id' AS user_id, time, id, source, type = 'user:joined_city' AS is_join,
       hash(city, data->>'$.user_id') AS member_hash
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi')
  AND type IN ('user:joined_city', 'user:left_city');
INSERT INTO analytics.stg_memberships SELECT * FROM d_memberships;

-- starts_at was validated as RFC 3339 with an offset; upper() because DuckDB's cast only reads
-- the upper-case `T`/`Z` RFC 3339 also allows in lower case. Digits past microseconds are cut.
CREATE OR REPLACE TEMP TABLE d_meetup_changes AS
SELECT data->>'$.event_id' AS event_id, type, city, time, id, source,
       data->>'$.title' AS title,
       CAST(upper(data->>'$.starts_at') AS TIMESTAMPTZ) AS starts_at,
       data->>'$.venue' AS venue, data->>'$.url' AS url, data->>'$.description' AS description,
       data->>'$.reason' AS reason, seq,
       TRY_CAST(data->>'$.capacity' AS BIGINT) AS capacity  -- last: migration 010 appended it
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi')
  AND type IN ('event:created', 'event:updated', 'event:cancelled');
INSERT INTO analytics.stg_meetup_changes SELECT * FROM d_meetup_changes;

CREATE OR REPLACE TEMP TABLE d_rsvps AS
SELECT data->>'$.event_id' AS event_id, data->>'$.user_id' AS user_id, time, id, source,
       data->>'$.status' AS status, hash(data->>'$.event_id', data->>'$.user_id') AS pair_hash
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi') AND type = 'event:rsvp';
INSERT INTO analytics.stg_rsvps SELECT * FROM d_rsvps;

-- A check-in is a fact about a (meetup, user): checked_in counts distinct users, so each pair
-- is staged once and the delta keeps only pairs not seen before.
CREATE OR REPLACE TEMP TABLE d_checkins AS
SELECT DISTINCT data->>'$.event_id' AS event_id, data->>'$.user_id' AS user_id,
       hash(data->>'$.event_id', data->>'$.user_id') AS pair_hash
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi') AND type = 'event:checked_in';
DELETE FROM d_checkins d
USING (SELECT event_id, user_id FROM analytics.stg_checkins SEMI JOIN d_checkins USING (pair_hash)) s
WHERE d.event_id = s.event_id AND d.user_id = s.user_id;  -- exact: the hash only narrows the search
INSERT INTO analytics.stg_checkins SELECT * FROM d_checkins;

CREATE OR REPLACE TEMP TABLE d_posts AS
SELECT data->>'$.post_id' AS post_id, time, id, source, data->>'$.title' AS title
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi') AND type = 'blog:post_published';
INSERT INTO analytics.stg_posts SELECT * FROM d_posts;

CREATE OR REPLACE TEMP TABLE d_views AS
SELECT city, data->>'$.post_id' AS post_id, time, data->>'$.visitor_id' AS visitor_id
FROM events
WHERE seq > getvariable('build_lo') AND seq <= getvariable('build_hi') AND type = 'blog:post_viewed';
INSERT INTO analytics.stg_views SELECT * FROM d_views;
