-- Undoes V2: recreates api_tokens exactly as V1 made it, moves the tokens back,
-- then drops swagger_specs.jwt_token.
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

INSERT INTO api_tokens (user_id, swagger_spec_id, token)
SELECT user_id, id, jwt_token
FROM swagger_specs
WHERE jwt_token IS NOT NULL;

ALTER TABLE swagger_specs DROP COLUMN jwt_token;
