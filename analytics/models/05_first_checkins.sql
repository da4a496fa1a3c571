-- First-timers: for each city and user, the first meetup (by starts_at, then event_id) among
-- the existing meetups of that city they checked in at. Cancelled meetups count like any
-- other: someone checked in there, so they have been to the city's meetups.
-- A (city, user) is recomputed when the user checks in anew, or checked in at a meetup that
-- appeared, moved in time or changed city (then in both the old and the new city).
-- `first_touched` collects the meetups that lost or gained a first-timer.

CREATE OR REPLACE TEMP TABLE checkin_pairs AS
SELECT DISTINCT city, user_id FROM (
    SELECT b.city, k.user_id FROM analytics.stg_checkins k JOIN meetups_before b USING (event_id)
    UNION ALL
    SELECT m.city, k.user_id
    FROM analytics.stg_checkins k JOIN analytics.meetups m USING (event_id)
    SEMI JOIN meetup_keys USING (event_id)
    UNION ALL
    SELECT m.city, d.user_id FROM d_checkins d JOIN analytics.meetups m USING (event_id)
);

CREATE OR REPLACE TEMP TABLE first_touched AS
SELECT event_id FROM analytics.first_checkins SEMI JOIN checkin_pairs USING (city, user_id);

DELETE FROM analytics.first_checkins f USING checkin_pairs p WHERE f.city = p.city AND f.user_id = p.user_id;

INSERT INTO analytics.first_checkins
SELECT m.city, k.user_id, m.event_id
FROM (
    SELECT event_id, user_id
    FROM analytics.stg_checkins SEMI JOIN (SELECT DISTINCT user_id FROM checkin_pairs) USING (user_id)
) k
JOIN analytics.meetups m USING (event_id)
SEMI JOIN checkin_pairs p ON p.city = m.city AND p.user_id = k.user_id
QUALIFY row_number() OVER (PARTITION BY m.city, k.user_id ORDER BY m.starts_at, m.event_id) = 1;

INSERT INTO first_touched
SELECT event_id FROM analytics.first_checkins SEMI JOIN checkin_pairs USING (city, user_id);
