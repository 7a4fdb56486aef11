-- no-transaction
DROP INDEX CONCURRENTLY notes_title;
