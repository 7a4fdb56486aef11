-- Undoes V1: drops every table of the initial schema, dependants first.
DROP TABLE api_tokens;
DROP TABLE api_calls;
DROP TABLE chat_messages;
DROP TABLE chat_sessions;
DROP TABLE api_embeddings;
DROP TABLE prompt_templates;
DROP TABLE swagger_specs;
DROP TABLE users;
