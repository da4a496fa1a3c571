-- Blog: a post's title is the one of its latest blog:post_published by (time, id). Views are
-- counted in the city of the view event, on its local day. New views only add rows; a city
-- whose timezone changed has all its views re-bucketed.

CREATE OR REPLACE TEMP TABLE post_keys AS SELECT DISTINCT post_id FROM d_posts;

DELETE FROM analytics.posts p USING post_keys k WHERE p.post_id = k.post_id;

INSERT INTO analytics.posts
SELECT post_id, title FROM analytics.stg_posts SEMI JOIN post_keys USING (post_id)
QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY time DESC, id DESC, source DESC) = 1;

DELETE FROM analytics.blog_visits b USING tz_changed t WHERE b.city = t.city;

INSERT INTO analytics.blog_visits
SELECT v.city, v.post_id, CAST(timezone(c.timezone, v.time) AS DATE) AS day, v.visitor_id, count(*) AS views
FROM (
    SELECT city, post_id, time, visitor_id FROM analytics.stg_views SEMI JOIN tz_changed USING (city)
    UNION ALL
    SELECT city, post_id, time, visitor_id FROM d_views ANTI JOIN tz_changed USING (city)
) v
JOIN analytics.cities c USING (city)
GROUP BY ALL;
