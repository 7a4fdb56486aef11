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
