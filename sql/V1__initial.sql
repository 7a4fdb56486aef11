-- The seed project's initial schema: users, their Swagger specs, prompt templates,
-- API embeddings, chat sessions with their messages, the API call log, and the
-- first-generation token table (api_tokens), which V2 folds into swagger_specs.

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    username        VARCHAR(100) NOT NULL,
    email           VARCHAR(255) NOT NULL,
    hashed_password VARCHAR(255),
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    is_admin        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE swagger_specs (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       VARCHAR(255) NOT NULL,
    version    VARCHAR(50),
    base_url   TEXT,
    spec       JSONB NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX swagger_specs_user_id_idx ON swagger_specs (user_id);

CREATE TABLE prompt_templates (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    name        VARCHAR(255) NOT NULL,
    description TEXT,
    template    TEXT NOT NULL,
    category    VARCHAR(100),
    is_public   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prompt_templates_name_key UNIQUE (user_id, name)
);

CREATE TABLE api_embeddings (
    id               BIGSERIAL PRIMARY KEY,
    swagger_spec_id  BIGINT NOT NULL REFERENCES swagger_specs (id) ON DELETE CASCADE,
    endpoint_path    TEXT NOT NULL,
    http_method      VARCHAR(10) NOT NULL,
    summary          TEXT,
    content          TEXT NOT NULL,
    embedding        REAL[] NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT api_embeddings_endpoint_key UNIQUE (swagger_spec_id, endpoint_path, http_method)
);

CREATE TABLE chat_sessions (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    swagger_spec_id BIGINT REFERENCES swagger_specs (id) ON DELETE SET NULL,
    title           VARCHAR(255) NOT NULL DEFAULT 'New chat',
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_user_id_idx ON chat_sessions (user_id);

CREATE TABLE chat_messages (
    id         BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role       VARCHAR(20) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content    TEXT NOT NULL,
    metadata   JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_id_created_at_idx ON chat_messages (session_id, created_at);

CREATE TABLE api_calls (
    id               BIGSERIAL PRIMARY KEY,
    user_id          BIGINT REFERENCES users (id) ON DELETE SET NULL,
    session_id       BIGINT REFERENCES chat_sessions (id) ON DELETE SET NULL,
    swagger_spec_id  BIGINT REFERENCES swagger_specs (id) ON DELETE SET NULL,
    method           VARCHAR(10) NOT NULL,
    url              TEXT NOT NULL,
    request_headers  JSONB,
    request_body     JSONB,
    response_status  INTEGER,
    response_body    JSONB,
    duration_ms      INTEGER,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_calls_user_id_created_at_idx ON api_calls (user_id, created_at);

CREATE TABLE api_tokens (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    swagger_spec_id BIGINT NOT NULL REFERENCES swagger_specs (id) ON DELETE CASCADE,
    token           TEXT NOT NULL,
    token_type      VARCHAR(50) NOT NULL DEFAULT 'Bearer',
    expires_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT api_tokens_spec_key UNIQUE (swagger_spec_id)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
