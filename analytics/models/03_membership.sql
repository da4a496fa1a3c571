-- Membership timeline. Per user and city, walking join/leave events in (time, id) order: the
-- state after an event is "member" exactly when it is a join (a join on a member and a leave
-- on a non-member change nothing), so an event is a transition when its kind differs from
-- the previous event's (a user starts as a non-member: `lag` defaults to false).
-- A late event can flip every later transition of its user, so the whole history of every
-- touched (city, user) is recomputed, and the daily counts of every day that gained or lost
-- a transition. Keys are picked by member_hash (see migration 003): the same pick for the
-- delete and the recomputation, which partitions by the real (city, user_id).

CREATE OR REPLACE TEMP TABLE member_keys AS
SELECT DISTINCT member_hash FROM d_memberships
UNION
SELECT DISTINCT member_hash FROM analytics.stg_memberships SEMI JOIN tz_changed USING (city);

CREATE OR REPLACE TEMP TABLE member_days AS
SELECT DISTINCT city, day FROM analytics.member_transitions SEMI JOIN member_keys USING (member_hash);

DELETE FROM analytics.member_transitions t USING member_keys k WHERE t.member_hash = k.member_hash;

INSERT INTO analytics.member_transitions
SELECT m.city, m.user_id, m.time, CAST(timezone(c.timezone, m.time) AS DATE) AS day, m.is_join, m.member_hash
FROM (
    SELECT city, user_id, time, is_join, member_hash,
           lag(is_join, 1, false) OVER (PARTITION BY city, user_id ORDER BY time, id, source) AS was_member
    FROM analytics.stg_memberships SEMI JOIN member_keys USING (member_hash)
) m
JOIN analytics.cities c USING (city)
WHERE m.is_join <> m.was_member;

INSERT INTO member_days
SELECT DISTINCT city, day FROM analytics.member_transitions SEMI JOIN member_keys USING (member_hash);

DELETE FROM analytics.member_daily d USING member_days x WHERE d.city = x.city AND d.day = x.day;

INSERT INTO analytics.member_daily
SELECT city, day, count(*) FILTER (WHERE is_join), count(*) FILTER (WHERE NOT is_join)
FROM analytics.member_transitions SEMI JOIN (SELECT DISTINCT city, day FROM member_days) USING (city, day)
GROUP BY city, day;
