-- Meetups: city, title and starts_at each from the latest event:created / event:updated by
-- (time, id) that carries it (the city is the envelope's, so every such event carries one);
-- cancelled once any event:cancelled arrived. Only meetups whose title and starts_at are both
-- known exist. `meetups_before` keeps the old rows of the recomputed meetups: first-timers
-- depend on where and when a meetup was.

CREATE OR REPLACE TEMP TABLE meetup_keys AS SELECT DISTINCT event_id FROM d_meetup_changes;

CREATE OR REPLACE TEMP TABLE meetups_before AS
SELECT * FROM analytics.meetups SEMI JOIN meetup_keys USING (event_id);

DELETE FROM analytics.meetups m USING meetup_keys k WHERE m.event_id = k.event_id;

INSERT INTO analytics.meetups
WITH changes AS (
    SELECT * FROM analytics.stg_meetup_changes SEMI JOIN meetup_keys USING (event_id)
),
described AS (
    SELECT * FROM changes WHERE type IN ('event:created', 'event:updated')
),
city AS (
    SELECT event_id, city FROM described
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY time DESC, id DESC, source DESC) = 1
),
title AS (
    SELECT event_id, title FROM described WHERE title IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY time DESC, id DESC, source DESC) = 1
),
starts AS (
    SELECT event_id, starts_at FROM described WHERE starts_at IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY time DESC, id DESC, source DESC) = 1
),
cancelled AS (
    SELECT DISTINCT event_id FROM changes WHERE type = 'event:cancelled'
)
SELECT event_id, city.city, title.title, starts.starts_at, cancelled.event_id IS NOT NULL
FROM title JOIN starts USING (event_id) JOIN city USING (event_id) LEFT JOIN cancelled USING (event_id);
