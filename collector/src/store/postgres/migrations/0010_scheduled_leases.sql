-- Who runs scheduled work (upload metrica --every, retention) now: one row per kind of work,
-- taken by one process until `until_ms` and renewed by it while it lives. Times are the
-- server's clock (clock_timestamp()), so instances with skewed clocks agree on expiry.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_ms BIGINT NOT NULL,
    taken_ms BIGINT NOT NULL
);
