-- Meetups that could not be drafted (read again and reported by every sync until they draft),
-- and whether the Slack approval request of a decided post was updated to say so.
CREATE TABLE IF NOT EXISTS sync_retry (
    city        TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    channel     TEXT NOT NULL,               -- the channel's config key
    error       TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    PRIMARY KEY (city, event_id, channel)
);
ALTER TABLE posts ADD COLUMN approval_settled TEXT;  -- the decision the request message was updated with
