CREATE TABLE swagger_specs (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       VARCHAR(255) NOT NULL,
    version    VARCHAR(50),
    base_url   TEXT,
    spec       JSONB NOT NULL,
    jwt_token  TEXT,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX swagger_specs_user_id_idx ON swagger_specs (user_id);
