-- A person is one chat partner whichever of phone / user ID / username a payload names
-- (WhatsApp business-scoped user IDs arrive with or without the phone): conversations are found
-- by any of them, one indexed lookup per identifier (an OR across them would scan the platform).
CREATE INDEX conversations_by_chat_user ON conversations(platform, chat_user_id) WHERE chat_user_id IS NOT NULL;
CREATE INDEX conversations_by_phone ON conversations(platform, phone) WHERE phone IS NOT NULL;
CREATE INDEX conversations_by_username ON conversations(platform, username COLLATE NOCASE) WHERE username IS NOT NULL;

-- The person opened the bot (Telegram /start, Viber conversation_started, MAX bot_started)
-- without writing: not a chat. With a code, it is the click that ties their next message to
-- the visit; `used_by` is the conversation that message opened or continued.
CREATE TABLE bot_opens (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    chat_user_id TEXT,
    username     TEXT,
    phone        TEXT,
    display_name TEXT,
    account      TEXT,
    at_ms        INTEGER NOT NULL,
    start_param  TEXT,
    chat_id      TEXT,
    site         TEXT,
    used_by      INTEGER,
    received_at  INTEGER NOT NULL
);
CREATE INDEX bot_opens_by_chat_user ON bot_opens(platform, chat_user_id) WHERE chat_user_id IS NOT NULL;
CREATE INDEX bot_opens_by_phone ON bot_opens(platform, phone) WHERE phone IS NOT NULL;
CREATE INDEX bot_opens_by_username ON bot_opens(platform, username COLLATE NOCASE) WHERE username IS NOT NULL;
CREATE INDEX bot_opens_by_chat_id ON bot_opens(chat_id) WHERE chat_id IS NOT NULL;

-- Answers from the site's side (status, echo, bot reply), each applied to the conversation
-- it belongs to: the person's latest one started before it. An answer that overtakes the
-- person's message waits here with no conversation and is claimed when that message arrives.
CREATE TABLE answers (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    chat_user_id TEXT,
    username     TEXT,
    phone        TEXT,
    at_ms        INTEGER NOT NULL,
    conversation INTEGER,
    received_at  INTEGER NOT NULL
);
CREATE INDEX answers_by_chat_user ON answers(platform, chat_user_id, at_ms) WHERE chat_user_id IS NOT NULL;
CREATE INDEX answers_by_phone ON answers(platform, phone, at_ms) WHERE phone IS NOT NULL;
CREATE INDEX answers_by_username ON answers(platform, username COLLATE NOCASE, at_ms) WHERE username IS NOT NULL;
CREATE INDEX answers_by_conversation ON answers(conversation) WHERE conversation IS NOT NULL;
CREATE INDEX answers_by_received ON answers(received_at);

-- A webhook item the collector could not read, kept as received with the reason, so that it
-- costs neither the rest of its delivery nor the site owner's knowledge of it.
CREATE TABLE webhook_unreadable (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX webhook_unreadable_by_time ON webhook_unreadable(received_at);
