-- Requests about one person's data (forget, export), recorded without the personal data: the
-- kind of identifier asked for, a keyed hash of its value (HMAC-SHA256 with the server's
-- privacy key, so the same request can be recognised again but not reversed), and what was
-- removed or exported, as counts per table.
CREATE TABLE privacy_audit (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    action       TEXT NOT NULL,      -- forget | export
    subject_kind TEXT NOT NULL,      -- phone | user_id | username | chat_id | client_id
    subject_hash TEXT NOT NULL,
    via          TEXT NOT NULL,      -- cli | api
    counts       TEXT NOT NULL       -- JSON object: table -> rows
);
