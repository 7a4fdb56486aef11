fn main() {
    pg_migrate_build::Embed::new("sql").run();
}
