-- Meetups: city, title, starts_at, venue, url, description and capacity each from the latest
-- event:created / event:updated by (time, id) that carries it (the city is the envelope's, so
-- every such event carries one); cancelled once any event:cancelled arrived, with the latest
-- one's reason; created at its first event:created. Only meetups whose title and starts_at
-- are both known exist. This is the one derivation of a meetup: the dashboards, the metrics and
-- the publisher all read it. `meetups_before` keeps the old rows of the recomputed meetups:
-- first-timers depend on where and when a meetup was.

CREATE OR REPLACE TEMP TABLE meetup_keys AS SELECT DISTINCT event_id FROM d_meetup_changes;

CREATE OR REPLACE TEMP TABLE meetups_before AS
SELECT * FROM analytics.meetups SEMI JOIN meetup_keys USING (event_id);

DELETE FROM analytics.meetups m USING meetup_keys k WHERE m.event_id = k.event_id;

INSERT INTO analytics.meetups
    (event_id, city, title, starts_at, cancelled, venue, url, description, created_at, cancel_reason, changed_seq,
     capacity)
WITH changes AS (
    SELECT * FROM analytics.stg_meetup_changes SEMI JOIN meetup_keys USING (event_id)
),
described AS (
    SELECT * FROM changes WHERE type IN ('event:created', 'event:updated')
),
latest AS (
    -- Per meetup, the latest value of each field among the events that carry it.
    SELECT event_id,
           arg_max(city, (time, id, source)) AS city,
           arg_max(title, (time, id, source)) FILTER (WHERE title IS NOT NULL) AS title,
           arg_max(starts_at, (time, id, source)) FILTER (WHERE starts_at IS NOT NULL) AS starts_at,
           arg_max(venue, (time, id, source)) FILTER (WHERE venue IS NOT NULL) AS venue,
           arg_max(url, (time, id, source)) FILTER (WHERE url IS NOT NULL) AS url,
           arg_max(description, (time, id, source)) FILTER (WHERE description IS NOT NULL) AS description,
           arg_max(capacity, (time, id, source)) FILTER (WHERE capacity IS NOT NULL) AS capacity,
           min(time) FILTER (WHERE type = 'event:created') AS created_at
    FROM described
    GROUP BY event_id
),
cancelled AS (
    SELECT event_id, arg_max(coalesce(reason, ''), (time, id, source)) AS reason
    FROM changes WHERE type = 'event:cancelled'
    GROUP BY event_id
),
changed AS (
    SELECT event_id, max(seq) AS changed_seq FROM changes GROUP BY event_id
)
SELECT l.event_id, l.city, l.title, l.starts_at, c.event_id IS NOT NULL,
       coalesce(l.venue, ''), coalesce(l.url, ''), coalesce(l.description, ''), l.created_at,
       coalesce(c.reason, ''), changed.changed_seq, l.capacity
FROM latest l JOIN changed USING (event_id) LEFT JOIN cancelled c USING (event_id)
WHERE l.title IS NOT NULL AND l.starts_at IS NOT NULL;
