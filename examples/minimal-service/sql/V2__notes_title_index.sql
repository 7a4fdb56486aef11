-- no-transaction
CREATE INDEX CONCURRENTLY notes_title ON notes (title);
