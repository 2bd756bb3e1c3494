-- A chat's events are found through the list of their row IDs kept in its `chats` row (the
-- first 1,000), not through an index on (site, chat_id): that index took a random-key page
-- write per event, and the `chats` row is written anyway.
ALTER TABLE chats ADD COLUMN event_rowids TEXT NOT NULL DEFAULT '';
UPDATE chats SET event_rowids = coalesce((
    SELECT group_concat(id) FROM (
        SELECT e.id FROM events e WHERE e.site = chats.site AND e.chat_id = chats.chat_id
        ORDER BY e.id LIMIT 1000)), '');
DROP INDEX events_by_chat;
