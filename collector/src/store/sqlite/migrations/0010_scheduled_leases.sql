-- Who runs scheduled work (upload metrica --every, retention) now: one row per kind of work,
-- taken by one process until `until_ms` and renewed by it while it lives. A server and a
-- `upload metrica --every` process share one database file, and so this table.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_ms INTEGER NOT NULL,   -- Unix ms on this machine's clock
    taken_ms INTEGER NOT NULL    -- when the current holder took it
) WITHOUT ROWID;
