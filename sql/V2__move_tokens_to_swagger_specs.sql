-- JWT tokens now live on the spec they authenticate: copy each spec's token into
-- swagger_specs.jwt_token, then drop the api_tokens table. Nothing reads api_tokens any
-- more once the tokens are copied, so dropping it is intended:
-- lint: allow ban-drop-table
ALTER TABLE swagger_specs ADD COLUMN jwt_token TEXT;

UPDATE swagger_specs AS s
SET jwt_token = t.token
FROM api_tokens AS t
WHERE t.swagger_spec_id = s.id;

DROP TABLE api_tokens;
