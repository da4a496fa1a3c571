-- Cities and their timezone: the latest city:upserted by (time, id), else the configured
-- default. Recomputed for every city named in the delta. `tz_changed` lists the known cities
-- whose timezone moved: every local-time bucket of theirs is recomputed by the models below.

-- Only names of Pulse's one list of timezones (`known_timezones`, the same list ingest
-- validates with) are used; an upsert that came in before that list was the rule (an old
-- warehouse may hold `localtime`) is passed over rather than stop every build.
CREATE OR REPLACE TEMP TABLE cities_after AS
WITH upserts AS (
    SELECT * FROM analytics.stg_city_upserts SEMI JOIN d_cities USING (city)
),
named AS (
    SELECT city, name FROM upserts
    QUALIFY row_number() OVER (PARTITION BY city ORDER BY time DESC, id DESC, source DESC) = 1
),
zoned AS (
    SELECT city, timezone FROM upserts
    WHERE timezone IN (SELECT name FROM known_timezones)
    QUALIFY row_number() OVER (PARTITION BY city ORDER BY time DESC, id DESC, source DESC) = 1
)
SELECT d.city, n.name, coalesce(z.timezone, getvariable('default_timezone')) AS timezone
FROM d_cities d LEFT JOIN named n USING (city) LEFT JOIN zoned z USING (city);

CREATE OR REPLACE TEMP TABLE tz_changed AS
SELECT city FROM analytics.cities b JOIN cities_after a USING (city) WHERE a.timezone <> b.timezone;

DELETE FROM analytics.cities c USING d_cities d WHERE c.city = d.city;
INSERT INTO analytics.cities SELECT city, name, timezone FROM cities_after;
