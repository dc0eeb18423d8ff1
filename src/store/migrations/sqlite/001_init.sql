-- direkt schema v1 (SQLite): mirrors postgres/001_init.sql with the nearest types
-- (TEXT for UUID, JSON and timestamps in RFC 3339 UTC; INTEGER keys and milliseconds).

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    instagram_id TEXT NOT NULL UNIQUE,
    username TEXT,
    full_name TEXT,
    profile_data TEXT NOT NULL DEFAULT '{}',
    preferences TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    account_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    context TEXT NOT NULL DEFAULT '{}',
    referral TEXT,
    last_user_message_at TEXT,
    bot_paused_until TEXT,
    assigned_to TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (user_id, account_id)
);
CREATE INDEX conversations_updated_idx ON conversations (updated_at, id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    instagram_mid TEXT UNIQUE,
    sender_type TEXT NOT NULL,
    message_type TEXT NOT NULL DEFAULT 'text',
    content TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    intent TEXT,
    sentiment TEXT,
    ai_confidence REAL,
    status TEXT NOT NULL DEFAULT 'received',
    status_reason TEXT,
    reply_to_mid TEXT,
    variant_id TEXT,
    edited_at TEXT,
    deleted_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_unanswered_idx ON messages (conversation_id) WHERE status = 'received';

CREATE TABLE message_events (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    conversation_id TEXT REFERENCES conversations(id),
    message_mid TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    occurred_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX message_events_conversation_idx ON message_events (conversation_id, id);
CREATE INDEX message_events_mid_idx ON message_events (message_mid);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL UNIQUE,
    object TEXT,
    payload TEXT NOT NULL,
    items INTEGER NOT NULL DEFAULT 0,
    unhandled INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    replayed_at TEXT
);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);

CREATE TABLE agent_plans (
    id TEXT PRIMARY KEY,
    goal TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'pending',
    result TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    completed_at TEXT
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'queued',
    unique_key TEXT,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    locked_by TEXT,
    locked_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE UNIQUE INDEX jobs_unique_queued_idx ON jobs (unique_key) WHERE status = 'queued';
CREATE INDEX jobs_ready_idx ON jobs (run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running_idx ON jobs (locked_until) WHERE status = 'running';

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
