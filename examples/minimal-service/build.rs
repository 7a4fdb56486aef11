fn main() {
    pgbaked_build::Embed::new("sql").run();
}
