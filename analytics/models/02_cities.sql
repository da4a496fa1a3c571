-- Cities and their timezone: the latest city:upserted by (time, id), else the configured
-- default. Recomputed for every city named in the delta. `tz_changed` lists the known cities
-- whose timezone moved: every local-time bucket of theirs is recomputed by the models below.

CREATE OR REPLACE TEMP TABLE cities_after AS
WITH latest AS (
    SELECT city, name, timezone
    FROM analytics.stg_city_upserts SEMI JOIN d_cities USING (city)
    QUALIFY row_number() OVER (PARTITION BY city ORDER BY time DESC, id DESC, source DESC) = 1
)
SELECT d.city, l.name, coalesce(l.timezone, getvariable('default_timezone')) AS timezone
FROM d_cities d LEFT JOIN latest l USING (city);

CREATE OR REPLACE TEMP TABLE tz_changed AS
SELECT city FROM analytics.cities b JOIN cities_after a USING (city) WHERE a.timezone <> b.timezone;

DELETE FROM analytics.cities c USING d_cities d WHERE c.city = d.city;
INSERT INTO analytics.cities SELECT city, name, timezone FROM cities_after;
