-- The latest RSVP of each user for each meetup, kept as a model: a new RSVP then re-reads only
-- its own (meetup, user) history, not every RSVP of the meetup.
CREATE TABLE analytics.rsvps (
    event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, status VARCHAR NOT NULL);

-- stg_checkins now holds each (meetup, user) once, and attendance reads `rsvps`: the models
-- built before this change are rebuilt in full by the next build.
DELETE FROM analytics.state;
