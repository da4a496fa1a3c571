-- What the dashboards' "Upcoming meetups" and the digests show beside `going`: a meetup's
-- `capacity` (the latest event:created / event:updated by time that carries it, the contract's
-- rule for every field; NULL when none did) and its `waitlist` (users whose latest RSVP says
-- waitlist). Numbered 010, not 005, so that a 005 another branch adds cannot take the same
-- version (a second file of one version would be skipped as already applied). The columns are
-- appended (staging is inserted by position); the next build is a full one that fills them.
ALTER TABLE analytics.stg_meetup_changes ADD COLUMN capacity BIGINT;
ALTER TABLE analytics.meetups ADD COLUMN capacity BIGINT;
ALTER TABLE analytics.attendance ADD COLUMN waitlist BIGINT NOT NULL DEFAULT 0;
DELETE FROM analytics.state;
