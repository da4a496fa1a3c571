-- Accepted events, rejected records, where each source stands, and every ingest run.
-- No PRIMARY KEY on events: an index there costs as much as the whole validation. The loader
-- dedupes by (source, id) itself, under the warehouse's single-writer lock.
CREATE TABLE events (
    seq     BIGINT      NOT NULL,  -- arrival order over all sources: what incremental models read past
    source  VARCHAR     NOT NULL,  -- the CloudEvents `source`; (source, id) identifies an event
    id      VARCHAR     NOT NULL,
    type    VARCHAR     NOT NULL,
    time    TIMESTAMPTZ NOT NULL,
    city    VARCHAR     NOT NULL,
    data    JSON,                  -- NULL only for an unknown type sent without data
    raw     VARCHAR     NOT NULL,  -- the record as received: what a redelivery is compared with
    run_id  BIGINT      NOT NULL,
    key_hash UBIGINT    NOT NULL   -- hash(source, id): a cheap column to find redeliveries by
);

CREATE TABLE rejects (
    run_id       BIGINT      NOT NULL,
    source_name  VARCHAR     NOT NULL,  -- the configured source it came through
    location     VARCHAR     NOT NULL,  -- PATH:LINE, feed:CURSOR#INDEX or outbox:SEQ
    reason       VARCHAR     NOT NULL,  -- exactly one code from the contract's reject reasons
    raw          VARCHAR     NOT NULL,  -- the whole record as text (bad UTF-8 bytes as \xNN)
    rejected_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE source_state (
    source_name  VARCHAR     PRIMARY KEY,
    kind         VARCHAR     NOT NULL,
    position     JSON        NOT NULL,  -- files: per file offset/line/head; feed: cursor; outbox: seq
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE ingest_runs (
    run_id       BIGINT      PRIMARY KEY,
    source_name  VARCHAR     NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR     NOT NULL,  -- running, completed, failed, interrupted
    accepted     BIGINT      NOT NULL DEFAULT 0,
    duplicates   BIGINT      NOT NULL DEFAULT 0,
    rejected     BIGINT      NOT NULL DEFAULT 0,
    error        VARCHAR
);
