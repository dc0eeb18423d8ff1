-- AI: the business's knowledge base (facts the replies may quote), the log of every AI call
-- (one row per attempt: latency, tokens, outcome; budgets are summed from it), and the AI
-- settings of each account ('*' = the default for every account).

CREATE TABLE knowledge (
    id INTEGER PRIMARY KEY,
    account_id TEXT,                 -- NULL: every account
    kind TEXT NOT NULL DEFAULT 'faq' CHECK (kind IN ('faq', 'text')),
    question TEXT,
    answer TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    search TEXT NOT NULL DEFAULT '',  -- question and answer case-folded, for ?q= (repository)
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX knowledge_account_idx ON knowledge (account_id, id);

CREATE TABLE ai_calls (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    task TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    account_id TEXT,
    conversation_id TEXT,
    path TEXT NOT NULL DEFAULT 'llm',  -- 'local' | 'llm'
    outcome TEXT NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    first_token_ms INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    redacted INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX ai_calls_account_idx ON ai_calls (account_id, created_at);
CREATE INDEX ai_calls_created_idx ON ai_calls (created_at);

CREATE TABLE ai_settings (
    account_id TEXT PRIMARY KEY,       -- '*': the default for every account
    system_prompt TEXT,
    tone TEXT,
    business_name TEXT,
    daily_token_budget INTEGER,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
