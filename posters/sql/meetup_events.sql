-- Every meetup event (created, updated, cancelled) of the meetups touched by an event that
-- arrived after the given seq, oldest first by (time, id): folded in Python into each meetup's
-- latest state, field by field, as the contract defines it.
WITH touched AS (
    SELECT DISTINCT city, data->>'event_id' AS event_id
    FROM events
    WHERE seq > $after AND seq <= $upto
      AND type IN ('event:created', 'event:updated', 'event:cancelled')
)
SELECT e.city, e.data->>'event_id' AS event_id, e.type, e.time, e.id, CAST(e.data AS VARCHAR) AS data
FROM events e
JOIN touched t ON t.city = e.city AND t.event_id = e.data->>'event_id'
WHERE e.type IN ('event:created', 'event:updated', 'event:cancelled')
ORDER BY e.city, event_id, e.time, e.id
