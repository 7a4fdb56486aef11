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
