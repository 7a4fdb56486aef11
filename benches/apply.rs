//! Side-by-side figures for BENCHMARKS.md: applying N generated migrations, the no-op boot, the
//! round trips of a no-op check, scanning 1000 files, and peak memory, each against its
//! reference (psql, plain refinery, a bare tokio-postgres program) in one run.
//!
//! Run it through `bash benches/run.sh`, which generates the migration sets, builds `app` with
//! each one embedded (`APP_SQL_DIR`), and passes their paths here. Without them (as in
//! `cargo test --benches`) it only measures what needs no prepared binaries.
//!
//! The same binary also serves as the reference programs, chosen by its first argument:
//! `refinery-up DIR URL` runs plain refinery's runner, `bare URL` connects and runs `SELECT 1`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pgbaked::{Migration, Migrator, Options, Rev};
use pgbaked_testing::TestDb;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Single-threaded, like `app migrate`, so the reference programs are measured alike.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("refinery-up") => runtime.block_on(refinery_up(Path::new(&args[1]), &args[2])),
        Some("bare") => runtime.block_on(bare(&args[1])),
        Some("generate") => generate(Path::new(&args[1]), args[2].parse()?),
        _ => runtime.block_on(bench(args.iter().any(|a| a == "--bench"))),
    }
}

/// Writes N migrations like the ones measured in issue #7: a table, an index, ten rows.
fn generate(dir: &Path, n: i64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for v in 1..=n {
        std::fs::write(
            dir.join(format!("V{v}__bench_t{v}.sql")),
            format!(
                "CREATE TABLE bench_t{v} (id bigserial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());\n\
                 CREATE INDEX bench_t{v}_name ON bench_t{v} (name);\n\
                 INSERT INTO bench_t{v} (name) SELECT 'n' || g FROM generate_series(1, 10) g;\n"
            ),
        )?;
    }
    Ok(())
}

/// Plain refinery, as a team without this project would run it.
async fn refinery_up(dir: &Path, url: &str) -> anyhow::Result<()> {
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let migrations = refinery::load_sql_migrations(dir)?;
    refinery::Runner::new(&migrations)
        .run_async(&mut client)
        .await?;
    Ok(())
}

/// The floor of a boot: connect, `SELECT 1`, exit.
async fn bare(url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.simple_query("SELECT 1").await?;
    Ok(())
}

/// `url` with `sslmode` set to `mode`, whatever query it already has.
fn with_sslmode(url: &str, mode: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let setting = format!("sslmode={mode}");
    let pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("sslmode="))
        .chain([setting.as_str()])
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// How a connection made as `app` makes it with `url` is encrypted (protocol and cipher), or
/// `None` when it is not.
async fn tls_in_use(url: &str) -> anyhow::Result<Option<String>> {
    let config: pgbaked::DatabaseConfig = url.parse()?;
    let pool = pgbaked::pool(&config, 1)?;
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT ssl, coalesce(version, ''), coalesce(cipher, '') \
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row
        .get::<_, bool>(0)
        .then(|| format!("{} {}", row.get::<_, String>(1), row.get::<_, String>(2))))
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    Stats {
        median,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    }
}

fn time_command(command: &mut Command) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    // The program only: its arguments and environment hold the database URL.
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        command.get_program().to_string_lossy(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(elapsed)
}

/// Peak RSS in KiB of a command, from `/usr/bin/time -v`.
fn peak_rss_kib(program: &Path, args: &[&str], url: &str) -> anyhow::Result<u64> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(program)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .ok_or_else(|| anyhow::anyhow!("no RSS in /usr/bin/time output"))?;
    Ok(line.rsplit(':').next().unwrap_or("0").trim().parse()?)
}

struct Prepared {
    n: i64,
    app: PathBuf,
    sql: PathBuf,
}

fn prepared() -> Vec<Prepared> {
    [50, 300]
        .into_iter()
        .filter_map(|n| {
            let app = std::env::var_os(format!("APP_BENCH_APP_{n}"))?;
            let sql = std::env::var_os(format!("APP_BENCH_SQL_{n}"))?;
            Some(Prepared {
                n,
                app: app.into(),
                sql: sql.into(),
            })
        })
        .collect()
}

fn psql(url: &str, file: &Path, single_transaction: bool) -> Command {
    let mut command = Command::new("psql");
    command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]);
    if single_transaction {
        command.arg("-1");
    }
    command.arg("-f").arg(file).arg("-d").arg(url);
    command
}

/// All files of a set concatenated, bare (for `psql -1`) or each in its own transaction.
fn scripts(sql: &Path, out: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sql)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort_by_key(|p| {
        p.file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f[1..].split("__").next().map(str::to_string))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    });
    let (mut all, mut per_tx) = (String::new(), String::new());
    for file in files {
        let text = std::fs::read_to_string(file)?;
        all.push_str(&text);
        all.push('\n');
        let _ = write!(per_tx, "BEGIN;\n{text}\nCOMMIT;\n");
    }
    std::fs::create_dir_all(out)?;
    let (a, b) = (out.join("all.sql"), out.join("per_tx.sql"));
    std::fs::write(&a, all)?;
    std::fs::write(&b, per_tx)?;
    Ok((a, b))
}

async fn bench(full: bool) -> anyhow::Result<()> {
    let rounds = if full { 9 } else { 1 };
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let me = std::env::current_exe()?;
    let mut report = String::new();
    let mut apply_medians: BTreeMap<&'static str, Vec<(i64, f64)>> = BTreeMap::new();

    // 1. Apply N migrations into an empty database, four ways, then --grouped.
    for set in prepared() {
        let (all, per_tx) = scripts(&set.sql, &out_dir.join(format!("n{}", set.n)))?;
        let sql_dir = set.sql.to_string_lossy().to_string();
        let mut samples: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for round in 0..rounds {
            let methods: [&'static str; 5] = [
                "app migrate up",
                "refinery",
                "psql -1",
                "psql, a transaction per file",
                "app migrate up --grouped",
            ];
            // Rotate the order each round, so no method always runs on a warmer server.
            for k in 0..methods.len() {
                let method = methods[(k + round) % methods.len()];
                let db = TestDb::empty().await?;
                let url = db.url();
                let ms = match method {
                    "app migrate up" => time_command(
                        Command::new(&set.app)
                            .args(["migrate", "up"])
                            .env("DATABASE_URL", url)
                            .env("RUST_LOG", "warn"),
                    )?,
                    "app migrate up --grouped" => time_command(
                        Command::new(&set.app)
                            .args(["migrate", "up", "--grouped"])
                            .env("DATABASE_URL", url)
                            .env("RUST_LOG", "warn"),
                    )?,
                    "refinery" => {
                        time_command(Command::new(&me).args(["refinery-up", &sql_dir, url]))?
                    }
                    "psql -1" => time_command(&mut psql(url, &all, true))?,
                    _ => time_command(&mut psql(url, &per_tx, false))?,
                };
                samples.entry(method).or_default().push(ms);
            }
        }
        let limit = stats(&samples["psql -1"]).median;
        let _ = writeln!(
            report,
            "\n## apply n={} ({rounds} rounds, ms, ratio to psql -1)",
            set.n
        );
        let _ = writeln!(
            report,
            "| method | median | min–max | × psql -1 |\n|---|---|---|---|"
        );
        for (method, values) in &samples {
            let s = stats(values);
            let _ = writeln!(
                report,
                "| {method} | {:.1} | {:.1}–{:.1} | {:.3} |",
                s.median,
                s.min,
                s.max,
                s.median / limit
            );
            apply_medians
                .entry(method)
                .or_default()
                .push((set.n, s.median));
        }
        print!("{}", std::mem::take(&mut report));
    }

    // 2. No-op boot, whole process: nothing pending.
    let head = TestDb::new(app::MIGRATIONS).await?;
    let url = head.url().to_string();
    let app_bin = PathBuf::from(env!("CARGO_BIN_EXE_app"));
    // refinery reads U files as its "unversioned" migrations, so it gets the V files only.
    let sql_dir = out_dir.join("sql-v-only");
    std::fs::create_dir_all(&sql_dir)?;
    for entry in std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql"))? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('V'))
        {
            std::fs::copy(&path, sql_dir.join(path.file_name().unwrap_or_default()))?;
        }
    }
    let boot_rounds = if full { 31 } else { 2 };
    let mut boot: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for round in 0..boot_rounds {
        let methods: [&'static str; 5] = [
            "psql -X -c 'select 1'",
            "app migrate up (no-op)",
            "app migrate up (no-op, sslmode=disable)",
            "refinery (no-op)",
            "bare tokio-postgres connect + SELECT 1",
        ];
        for k in 0..methods.len() {
            let method = methods[(k + round) % methods.len()];
            let ms = match method {
                "psql -X -c 'select 1'" => time_command(
                    Command::new("psql").args(["-X", "-q", "-c", "select 1", "-d", &url]),
                )?,
                "app migrate up (no-op)" => time_command(
                    Command::new(&app_bin)
                        .args(["migrate", "up"])
                        .env("DATABASE_URL", &url)
                        .env("RUST_LOG", "warn"),
                )?,
                "app migrate up (no-op, sslmode=disable)" => time_command(
                    Command::new(&app_bin)
                        .args(["migrate", "up"])
                        .env("DATABASE_URL", with_sslmode(&url, "disable"))
                        .env("RUST_LOG", "warn"),
                )?,
                "refinery (no-op)" => time_command(Command::new(&me).args([
                    "refinery-up",
                    &sql_dir.to_string_lossy(),
                    &url,
                ]))?,
                _ => time_command(Command::new(&me).args(["bare", &url]))?,
            };
            boot.entry(method).or_default().push(ms);
        }
    }
    print!("{}", std::mem::take(&mut report));
    let psql_boot = stats(&boot["psql -X -c 'select 1'"]).median;
    let _ = writeln!(
        report,
        "\n## no-op boot, whole process ({boot_rounds} rounds, ms, ratio to psql)"
    );
    let _ = writeln!(
        report,
        "| program | median | min–max | × psql |\n|---|---|---|---|"
    );
    for (method, values) in &boot {
        let s = stats(values);
        let _ = writeln!(
            report,
            "| {method} | {:.2} | {:.2}–{:.2} | {:.2} |",
            s.median,
            s.min,
            s.max,
            s.median / psql_boot
        );
    }

    // The default-sslmode row is a TLS figure only if the server offers TLS (and the URL does
    // not turn it off): say which it measured.
    let _ = match tls_in_use(&url).await? {
        Some(how) => writeln!(
            report,
            "\n`app migrate up (no-op)` negotiated TLS with the server: {how}"
        ),
        None => writeln!(
            report,
            "\n`app migrate up (no-op)` did **not** negotiate TLS (the server offers none, or the \
             URL disables it): its row is a plaintext boot"
        ),
    };

    // 3. Round trips of the no-op check, lock included, counted by a proxy.
    let trips = count_round_trips(&head).await?;
    let _ = writeln!(
        report,
        "\n## round trips of a no-op `up`, lock included\n{trips} (client flights after the connection is set up)"
    );

    // 4. build.rs scanning and rendering 1000 files.
    let scan = scan_1000(&out_dir.join("scan1000"), if full { 21 } else { 3 })?;
    let _ = writeln!(
        report,
        "\n## build.rs scan + render of 1000 files\nmedian {:.2} ms (min–max {:.2}–{:.2})",
        scan.median, scan.min, scan.max
    );

    // 5. Peak memory applying N=300.
    if let Some(set) = prepared().into_iter().find(|s| s.n == 300) {
        let mut rss = Vec::new();
        for (name, program, args) in [
            (
                "app migrate up",
                set.app.clone(),
                vec!["migrate".to_string(), "up".to_string()],
            ),
            (
                "refinery",
                me.clone(),
                vec![
                    "refinery-up".to_string(),
                    set.sql.to_string_lossy().to_string(),
                ],
            ),
        ] {
            let db = TestDb::empty().await?;
            let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
            if name == "refinery" {
                args.push(db.url());
            }
            rss.push((name, peak_rss_kib(&program, &args, db.url())?));
        }
        let db = TestDb::empty().await?;
        rss.push((
            "bare tokio-postgres connect + SELECT 1",
            peak_rss_kib(&me, &["bare", db.url()], db.url())?,
        ));
        let _ = writeln!(
            report,
            "\n## peak RSS applying n=300 (/usr/bin/time -v)\n| program | MiB |\n|---|---|"
        );
        for (name, kib) in rss {
            let _ = writeln!(report, "| {name} | {:.1} |", kib as f64 / 1024.0);
        }
    }

    println!("{report}");
    if full && !apply_medians.is_empty() {
        let svg = plot(&apply_medians);
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/apply.svg");
        std::fs::write(&path, svg)?;
        println!("plot written to {}", path.display());
    }
    Ok(())
}

/// A TCP proxy in front of the server that counts client flights: a flight is client data
/// sent after the server has answered, so pipelined messages count once.
async fn count_round_trips(db: &TestDb) -> anyhow::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_port = listener.local_addr()?.port();
    let upstream_port = db
        .config()
        .pg()
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432);
    let flights = Arc::new(AtomicU64::new(0));
    let server_spoke = Arc::new(AtomicBool::new(true));
    {
        let (flights, server_spoke) = (flights.clone(), server_spoke.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let (f, s) = (flights.clone(), server_spoke.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        if s.swap(false, Ordering::SeqCst) {
                            f.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
                let s = server_spoke.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        s.store(true, Ordering::SeqCst);
                    }
                });
            }
        });
    }
    let url = format!(
        "postgres://postgres@127.0.0.1:{proxy_port}/{}?sslmode=disable",
        db.name()
    );
    let config: pgbaked::DatabaseConfig = url.parse()?;
    let pool = pgbaked::pool(&config, 1)?;
    drop(pool.get().await?); // connection set-up is not part of the check
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = flights.load(Ordering::SeqCst);
    let migrator = Migrator::new(
        Migration::from_embedded_set(app::MIGRATIONS)?,
        Options::default(),
    );
    let report = migrator.up(&pool, &Rev::Head, &mut |_| {}).await?;
    anyhow::ensure!(
        report.steps.is_empty(),
        "the database was expected to be at head"
    );
    Ok(flights.load(Ordering::SeqCst) - before)
}

fn scan_1000(dir: &Path, rounds: usize) -> anyhow::Result<Stats> {
    let sql = dir.join("sql");
    if !sql.join("V1000__bench_t1000.sql").is_file() {
        generate(&sql, 1000)?;
    }
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        // Scan, check and render, written only when changed: the build script's own work
        // without the SQL parser.
        let lines = pgbaked_build::Embed::new(&sql)
            .lint(pgbaked_build::Lint::Off)
            .lines(dir, dir);
        anyhow::ensure!(
            !lines.iter().any(|l| l.starts_with("cargo::error")),
            "{lines:?}"
        );
        std::hint::black_box(lines);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(stats(&samples))
}

/// A line per tool of apply time against N, as SVG.
fn plot(series: &BTreeMap<&'static str, Vec<(i64, f64)>>) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 420.0, 70.0, 50.0, 30.0, 250.0);
    let max_n = 300.0;
    let max_ms = series
        .values()
        .flatten()
        .map(|(_, ms)| *ms)
        .fold(1.0, f64::max)
        * 1.1;
    let x = |n: f64| left + (n / max_n) * (w - left - right);
    let y = |ms: f64| h - bottom - (ms / max_ms) * (h - bottom - top);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"18\" font-size=\"14\">Applying N generated migrations to an empty database (median ms)</text>\n\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for n in [0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0] {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
            x(n),
            h - bottom + 16.0
        );
    }
    for i in 0..=5 {
        let ms = max_ms * f64::from(i) / 5.0;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{ms:.0}</text>",
            left - 6.0,
            y(ms) + 4.0
        );
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#ddd\"/>",
            y(ms),
            w - right
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">N (migrations)</text>",
        (left + w - right) / 2.0,
        h - 12.0
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let path: Vec<String> = std::iter::once((0, 0.0))
            .chain(points.iter().copied())
            .map(|(n, ms)| format!("{:.1},{:.1}", x(n as f64), y(ms)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for (n, ms) in points {
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                x(*n as f64),
                y(*ms)
            );
        }
        let ly = top + 20.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/>",
            w - right + 15.0,
            w - right + 35.0
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\">{name}</text>",
            w - right + 40.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
