-- Instagram: connected accounts (tokens encrypted at rest), the outbox index of the sender,
-- one private reply per comment, comment-to-DM keyword rules, cached profiles and the state of
-- history imports.

CREATE TABLE accounts (
    id VARCHAR(64) PRIMARY KEY,            -- the Instagram professional account id (entry[].id)
    name VARCHAR(255),
    flavour VARCHAR(16) NOT NULL DEFAULT 'instagram', -- 'instagram' (IG Login) | 'facebook' (page token)
    page_id VARCHAR(64),                   -- facebook flavour: the linked Page that sends
    token_enc TEXT,                        -- base64(nonce || secretbox(token)), NULL: no token
    status VARCHAR(32) NOT NULL DEFAULT 'active', -- 'active' | 'needs_reauth' | 'disabled'
    status_reason TEXT,
    throttled_until BIGINT NOT NULL DEFAULT 0, -- ms: no sends before (Graph throttling)
    throttle_level INTEGER NOT NULL DEFAULT 0, -- consecutive throttling answers (backoff step)
    registered BOOLEAN NOT NULL DEFAULT TRUE, -- added by an operator (FALSE: a row the sender
                                              -- made for an IG_ACCESS_TOKEN account's state)
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- what the sender works through: replies waiting to go out or in flight, per conversation
CREATE INDEX messages_outbox_idx ON messages (conversation_id, created_at, id)
    WHERE status IN ('pending_send', 'sending');

-- Meta allows one private reply per comment: the row is taken before the reply is sent
CREATE TABLE comment_replies (
    comment_id VARCHAR(255) PRIMARY KEY,
    account_id VARCHAR(64) NOT NULL,
    conversation_id UUID,
    message_id UUID,
    rule_id INTEGER,
    comment_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE comment_rules (
    id SERIAL PRIMARY KEY,
    account_id VARCHAR(64),                -- NULL: every account
    keyword VARCHAR(255) NOT NULL,         -- matched case-insensitively as a whole word
    reply TEXT NOT NULL,                   -- the private reply (DM)
    public_reply TEXT,                     -- optional public answer under the comment
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

ALTER TABLE users ADD COLUMN profile_fetched_at TIMESTAMP;

CREATE TABLE imports (
    account_id VARCHAR(64) PRIMARY KEY,
    next_url TEXT,                         -- the Conversations API page to fetch next
    conversations INTEGER NOT NULL DEFAULT 0,
    messages INTEGER NOT NULL DEFAULT 0,
    status VARCHAR(16) NOT NULL DEFAULT 'running', -- 'running' | 'done' | 'failed'
    last_error TEXT,
    started_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    finished_at TIMESTAMP
);
