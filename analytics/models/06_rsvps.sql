-- RSVPs: the latest one by (time, id) of each user for each meetup, recomputed for the
-- (meetup, user) pairs that got a new RSVP. RSVPs for meetups that do not exist (yet) are kept
-- here too: they count as soon as the meetup exists. Pairs are picked by pair_hash (see
-- migration 003), the same pick for the delete and the recomputation.

CREATE OR REPLACE TEMP TABLE rsvp_keys AS SELECT DISTINCT pair_hash FROM d_rsvps;

DELETE FROM analytics.rsvps r USING rsvp_keys k WHERE r.pair_hash = k.pair_hash;

INSERT INTO analytics.rsvps
SELECT event_id, user_id, status, pair_hash
FROM analytics.stg_rsvps SEMI JOIN rsvp_keys USING (pair_hash)
QUALIFY row_number() OVER (PARTITION BY event_id, user_id ORDER BY time DESC, id DESC, source DESC) = 1;
