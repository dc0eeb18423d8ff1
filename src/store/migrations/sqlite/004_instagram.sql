-- Instagram (SQLite): mirrors postgres/004_instagram.sql.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT,
    flavour TEXT NOT NULL DEFAULT 'instagram',
    page_id TEXT,
    token_enc TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    throttled_until INTEGER NOT NULL DEFAULT 0,
    throttle_level INTEGER NOT NULL DEFAULT 0,
    registered INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX messages_outbox_idx ON messages (conversation_id, created_at, id)
    WHERE status IN ('pending_send', 'sending');

CREATE TABLE comment_replies (
    comment_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    conversation_id TEXT,
    message_id TEXT,
    rule_id INTEGER,
    comment_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE comment_rules (
    id INTEGER PRIMARY KEY,
    account_id TEXT,
    keyword TEXT NOT NULL,
    reply TEXT NOT NULL,
    public_reply TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

ALTER TABLE users ADD COLUMN profile_fetched_at TEXT;

CREATE TABLE imports (
    account_id TEXT PRIMARY KEY,
    next_url TEXT,
    conversations INTEGER NOT NULL DEFAULT 0,
    messages INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running',
    last_error TEXT,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT
);
