-- AI: the business's knowledge base (facts the replies may quote), the log of every AI call
-- (one row per attempt: latency, tokens, outcome; budgets are summed from it), and the AI
-- settings of each account ('*' = the default for every account).

CREATE TABLE knowledge (
    id SERIAL PRIMARY KEY,
    account_id TEXT,                 -- NULL: every account
    kind TEXT NOT NULL DEFAULT 'faq' CHECK (kind IN ('faq', 'text')),
    question TEXT,
    answer TEXT NOT NULL,
    tags JSONB NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    search TEXT NOT NULL DEFAULT '',  -- question and answer case-folded, for ?q= (repository)
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX knowledge_account_idx ON knowledge (account_id, id);

CREATE TABLE ai_calls (
    id BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    task TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    account_id TEXT,
    conversation_id UUID,
    path TEXT NOT NULL DEFAULT 'llm',  -- 'local' | 'llm'
    outcome TEXT NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    first_token_ms INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    redacted BOOLEAN NOT NULL DEFAULT FALSE,
    error TEXT
);
CREATE INDEX ai_calls_account_idx ON ai_calls (account_id, created_at);
CREATE INDEX ai_calls_created_idx ON ai_calls (created_at);

CREATE TABLE ai_settings (
    account_id TEXT PRIMARY KEY,       -- '*': the default for every account
    system_prompt TEXT,
    tone TEXT,
    business_name TEXT,
    daily_token_budget BIGINT,
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
