-- SQLite's per-chat event list replaces an index there; PostgreSQL keeps `events_by_chat`
-- (0001), so this step changes nothing here. Listed so that both engines carry the same names.
SELECT 1;
