-- direkt schema v1 (PostgreSQL). The seed's tables (users, conversations, messages,
-- agent_plans) keep their columns and types; the rest is what the foundation needs.
-- Timestamps of domain rows are TIMESTAMP (UTC); job machinery uses BIGINT milliseconds.

CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    instagram_id VARCHAR(64) NOT NULL UNIQUE,
    username VARCHAR(255),
    full_name VARCHAR(255),
    profile_data JSONB NOT NULL DEFAULT '{}',
    preferences JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE conversations (
    id UUID PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    account_id VARCHAR(64) NOT NULL,
    status VARCHAR(32) NOT NULL DEFAULT 'active',
    context JSONB NOT NULL DEFAULT '{}',
    referral JSONB,
    last_user_message_at TIMESTAMP,
    bot_paused_until TIMESTAMP,
    assigned_to VARCHAR(255),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE (user_id, account_id)
);
CREATE INDEX conversations_updated_idx ON conversations (updated_at, id);

CREATE TABLE messages (
    id UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations(id),
    instagram_mid VARCHAR(255) UNIQUE,
    sender_type VARCHAR(16) NOT NULL,
    message_type VARCHAR(32) NOT NULL DEFAULT 'text',
    content TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    intent VARCHAR(64),
    sentiment VARCHAR(16),
    ai_confidence DOUBLE PRECISION,
    status VARCHAR(32) NOT NULL DEFAULT 'received',
    status_reason TEXT,
    reply_to_mid VARCHAR(255),
    variant_id VARCHAR(64),
    edited_at TIMESTAMP,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_unanswered_idx ON messages (conversation_id) WHERE status = 'received';

CREATE TABLE message_events (
    id BIGSERIAL PRIMARY KEY,
    dedupe_key VARCHAR(255) NOT NULL UNIQUE,
    conversation_id UUID REFERENCES conversations(id),
    message_mid VARCHAR(255),
    kind VARCHAR(64) NOT NULL,
    data JSONB NOT NULL DEFAULT '{}',
    occurred_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX message_events_conversation_idx ON message_events (conversation_id, id);
CREATE INDEX message_events_mid_idx ON message_events (message_mid);

CREATE TABLE webhook_events (
    id UUID PRIMARY KEY,
    body_sha256 CHAR(64) NOT NULL UNIQUE,
    object VARCHAR(32),
    payload TEXT NOT NULL,
    items INTEGER NOT NULL DEFAULT 0,
    unhandled INTEGER NOT NULL DEFAULT 0,
    received_at TIMESTAMP NOT NULL,
    replayed_at TIMESTAMP
);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);

CREATE TABLE agent_plans (
    id UUID PRIMARY KEY,
    goal TEXT NOT NULL,
    steps JSONB NOT NULL DEFAULT '[]',
    status VARCHAR(32) NOT NULL DEFAULT 'pending',
    result JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    completed_at TIMESTAMP
);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(64) NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    status VARCHAR(16) NOT NULL DEFAULT 'queued',
    unique_key VARCHAR(255),
    run_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    locked_by VARCHAR(128),
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX jobs_unique_queued_idx ON jobs (unique_key) WHERE status = 'queued';
CREATE INDEX jobs_ready_idx ON jobs (run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running_idx ON jobs (locked_until) WHERE status = 'running';

CREATE TABLE leases (
    name VARCHAR(64) PRIMARY KEY,
    holder VARCHAR(128) NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    token_sha256 CHAR(64) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE settings (
    key VARCHAR(128) PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
