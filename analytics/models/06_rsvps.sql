-- RSVPs: the latest one by (time, id) of each user for each meetup, recomputed for the
-- (meetup, user) pairs that got a new RSVP. RSVPs for meetups that do not exist (yet) are kept
-- here too: they count as soon as the meetup exists.

CREATE OR REPLACE TEMP TABLE rsvp_keys AS SELECT DISTINCT event_id, user_id FROM d_rsvps;

DELETE FROM analytics.rsvps r USING rsvp_keys k WHERE r.event_id = k.event_id AND r.user_id = k.user_id;

INSERT INTO analytics.rsvps
SELECT event_id, user_id, status
FROM analytics.stg_rsvps SEMI JOIN rsvp_keys USING (event_id, user_id)
QUALIFY row_number() OVER (PARTITION BY event_id, user_id ORDER BY time DESC, id DESC, source DESC) = 1;
