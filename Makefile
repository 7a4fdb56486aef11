# The seed project's migration targets, on top of the binary's own CLI.
# DATABASE_URL is read from the environment (default: postgres://postgres:***@localhost:5432/postgres).
APP ?= cargo run --quiet --

.PHONY: run test migrate-up migrate-down migrate-create migrate-current migrate-history migrate-check

run:            ## apply pending migrations, then serve
	$(APP) --migrate

test:           ## what CI runs
	bash .ci/run

migrate-up:     ## apply every pending migration
	$(APP) migrate up

migrate-down:   ## revert the newest migration
	$(APP) migrate down

migrate-create: ## make migrate-create m='add users email index'
	@test -n "$(m)" || { echo "usage: make migrate-create m='description'" >&2; exit 2; }
	$(APP) migrate create "$(m)"

migrate-current:
	$(APP) migrate current

migrate-history:
	$(APP) migrate history --verbose

migrate-check:  ## exit 0 when the database is in sync
	$(APP) migrate check
