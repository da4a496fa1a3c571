-- Each city's name and timezone from its latest city:upserted by (time, id).
SELECT city,
       arg_max(data->>'name', (epoch_us(time), id)) AS name,
       arg_max(data->>'timezone', (epoch_us(time), id)) AS timezone
FROM events
WHERE type = 'city:upserted'
GROUP BY city
