-- Attendance per existing meetup: going = users whose latest RSVP (see rsvps) says going;
-- checked_in = distinct users who checked in; no_shows = going and not checked in; walk_ins
-- = checked in and not going; first_timers from first_checkins; waitlist = users whose latest
-- RSVP says waitlist. Recomputed for meetups that
-- changed, got RSVPs or check-ins, or lost or gained a first-timer.

CREATE OR REPLACE TEMP TABLE attendance_keys AS
SELECT event_id FROM meetup_keys
UNION SELECT event_id FROM d_rsvps
UNION SELECT event_id FROM d_checkins
UNION SELECT event_id FROM first_touched;

DELETE FROM analytics.attendance a USING attendance_keys k WHERE a.event_id = k.event_id;

INSERT INTO analytics.attendance
WITH going AS (
    SELECT event_id, user_id FROM analytics.rsvps SEMI JOIN attendance_keys USING (event_id)
    WHERE status = 'going'
),
checked AS (
    SELECT event_id, user_id FROM analytics.stg_checkins SEMI JOIN attendance_keys USING (event_id)
),
people AS (
    SELECT event_id,
           count(*) FILTER (WHERE g.user_id IS NOT NULL) AS going,
           count(*) FILTER (WHERE c.user_id IS NOT NULL) AS checked_in,
           count(*) FILTER (WHERE c.user_id IS NULL) AS no_shows,
           count(*) FILTER (WHERE g.user_id IS NULL) AS walk_ins
    FROM going g FULL JOIN checked c USING (event_id, user_id)
    GROUP BY event_id
),
waiting AS (
    SELECT event_id, count(*) AS waitlist
    FROM analytics.rsvps SEMI JOIN attendance_keys USING (event_id)
    WHERE status = 'waitlist'
    GROUP BY event_id
),
firsts AS (
    SELECT event_id, count(*) AS first_timers
    FROM analytics.first_checkins SEMI JOIN attendance_keys USING (event_id)
    GROUP BY event_id
)
SELECT m.event_id, coalesce(p.going, 0), coalesce(p.checked_in, 0), coalesce(p.no_shows, 0),
       coalesce(p.walk_ins, 0), coalesce(f.first_timers, 0), coalesce(w.waitlist, 0)
FROM analytics.meetups m SEMI JOIN attendance_keys USING (event_id)
LEFT JOIN people p USING (event_id)
LEFT JOIN firsts f USING (event_id)
LEFT JOIN waiting w USING (event_id);
