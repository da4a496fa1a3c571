"""Analytics: SQL models over the accepted events, refreshed incrementally, and the metrics API.

- `analytics.refresh.build(config, full=False) -> BuildReport`: bring the models up to date
  (`pulse build`); `status(con)` says whether they are stale.
- `analytics.metrics`: `connect(config)` (a read-only connection to up-to-date models, built
  first when stale) and `member_growth`, `attendance`, `attendance_trend`, `blog_views`,
  `top_posts`, `cities`, each returning a pandas DataFrame with the columns of the matching
  `pulse metrics` command.
- `analytics.summary.summarize(config, as_of=None)` / `summary_lines(frame)`: headline figures
  per city, for `pulse demo`.
- `analytics.formatting`: CSV, JSON and table output by the contract's output formats.

The models are `analytics/models/NN_name.sql`, run in order by `analytics.refresh`; their
tables live in schema `analytics` (migrations in `analytics/migrations/`).
"""
