-- Local NLU: what each message was understood as, the business's own intents and examples,
-- and the intent models trained from them (the newest ready one is in use).
ALTER TABLE messages ADD COLUMN entities JSONB;
ALTER TABLE messages ADD COLUMN nlu JSONB;

CREATE TABLE nlu_intents (
    name VARCHAR(64) PRIMARY KEY,
    description TEXT,
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE nlu_examples (
    id BIGSERIAL PRIMARY KEY,
    intent VARCHAR(64) NOT NULL,
    text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE (intent, text)
);

CREATE TABLE nlu_models (
    id BIGSERIAL PRIMARY KEY,
    task VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    examples INTEGER NOT NULL DEFAULT 0,
    labels INTEGER NOT NULL DEFAULT 0,
    model TEXT,
    metrics JSONB NOT NULL DEFAULT '{}',
    error TEXT,
    train_ms BIGINT,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX nlu_models_task_idx ON nlu_models (task, status, id);
