-- Local NLU: what each message was understood as, the business's own intents and examples,
-- and the intent models trained from them (the newest ready one is in use).
ALTER TABLE messages ADD COLUMN entities TEXT;
ALTER TABLE messages ADD COLUMN nlu TEXT;

CREATE TABLE nlu_intents (
    name TEXT PRIMARY KEY,
    description TEXT,
    builtin INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE nlu_examples (
    id INTEGER PRIMARY KEY,
    intent TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (intent, text)
);

CREATE TABLE nlu_models (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    examples INTEGER NOT NULL DEFAULT 0,
    labels INTEGER NOT NULL DEFAULT 0,
    model TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    train_ms INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX nlu_models_task_idx ON nlu_models (task, status, id);
