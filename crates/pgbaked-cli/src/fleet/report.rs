//! What a fleet run prints: each target's line, the table, the histories, the summary, and
//! the progress bar with the log lines written around it.

use super::*;

/// One target's result, on its line.
pub(super) fn describe(o: &Outcome) -> String {
    let version = crate::output::version_text;
    let elapsed = o.elapsed.as_millis();
    match o.state {
        "migrated" | "reverted" => format!(
            "{} {} -> {} ({} step{}, {elapsed} ms)",
            o.state,
            version(o.from),
            version(o.to),
            o.steps.len(),
            if o.steps.len() == 1 { "" } else { "s" }
        ),
        "up_to_date" => format!("already at {}", version(o.to)),
        _ => {
            let committed = if o.steps.is_empty() {
                String::new()
            } else {
                format!(" ({} step(s) committed before)", o.steps.len())
            };
            format!(
                "{}: {}{committed}",
                o.state.replace('_', " "),
                o.error.as_deref().unwrap_or("")
            )
        }
    }
}

/// The fleet status table of `current`, `check` and `history`.
pub(super) fn print_table(names: &[String], outcomes: &[Outcome], width: usize) {
    let width = width.max(6);
    out!(
        "{:<width$}  {:<7}  {:>7}  STATE",
        "TARGET",
        "CURRENT",
        "PENDING"
    );
    for (name, o) in names.iter().zip(outcomes) {
        let current = match o.state {
            "failed" | "unreachable" | "not_started" => "-".to_string(),
            _ => crate::output::version_text(o.to),
        };
        let pending = o.pending.map_or("-".to_string(), |p| p.to_string());
        let error = o
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        out!(
            "{name:<width$}  {current:<7}  {pending:>7}  {}{error}",
            o.state.replace('_', " ")
        );
    }
}

/// `history --targets`: each target's versions, runs of one state together
/// (`V1–V12 applied, V13 pending`), where `current` shows only where each stands.
pub(super) fn print_histories(names: &[String], outcomes: &[Outcome], width: usize) {
    let width = width.max(6);
    out!("{:<width$}  HISTORY", "TARGET");
    for (name, o) in names.iter().zip(outcomes) {
        if let Some(error) = &o.error {
            out!(
                "{name:<width$}  {}: {}",
                o.state.replace('_', " "),
                error.lines().next().unwrap_or("")
            );
            continue;
        }
        let mut runs: Vec<(i64, i64, &str)> = Vec::new();
        for &(version, state) in &o.versions {
            match runs.last_mut() {
                Some((_, last, s)) if *s == state => *last = version,
                _ => runs.push((version, version, state)),
            }
        }
        let text: Vec<String> = runs
            .iter()
            .map(|(first, last, state)| {
                if first == last {
                    format!("V{first} {state}")
                } else {
                    format!("V{first}–V{last} {state}")
                }
            })
            .collect();
        let text = if text.is_empty() {
            "base (no migrations)".to_string()
        } else {
            text.join(", ")
        };
        out!("{name:<width$}  {text}");
    }
}

/// How many targets ended in each state, in a fixed order.
pub(super) fn counts(outcomes: &[Outcome]) -> Vec<(String, serde_json::Value)> {
    const ORDER: [&str; 10] = [
        "migrated",
        "reverted",
        "up_to_date",
        "in_sync",
        "pending",
        "edited",
        "unknown",
        "failed",
        "unreachable",
        "not_started",
    ];
    let mut counts: Vec<(String, serde_json::Value)> = ORDER
        .iter()
        .map(|state| (state, outcomes.iter().filter(|o| o.state == *state).count()))
        .filter(|(state, n)| *n > 0 || **state == "failed")
        .map(|(state, n)| (state.to_string(), json!(n)))
        .collect();
    counts.push(("total".into(), json!(outcomes.len())));
    counts
}

/// `200 targets: 187 migrated, 12 already at head, 1 failed (tenant_17: …)`.
pub(super) fn summary(names: &[String], outcomes: &[Outcome], work: Work) -> String {
    let mut parts = Vec::new();
    for (state, n) in counts(outcomes) {
        if state == "total" || n == 0 {
            continue;
        }
        let label = match state.as_str() {
            "up_to_date" if work == Work::Up => "already at head".to_string(),
            "up_to_date" => "already there".to_string(),
            "not_started" => "not started".to_string(),
            other => other.replace('_', " "),
        };
        let mut part = format!("{n} {label}");
        if matches!(state.as_str(), "failed" | "unreachable") {
            let failed: Vec<(&String, &Outcome)> = names
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| o.state == state)
                .collect();
            let detail = match failed.as_slice() {
                // The error's first line: its caret and detail are in the target's own line.
                [(name, o)] => format!(
                    "{name}: {}",
                    o.error
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                ),
                many => {
                    let mut listed: Vec<&str> =
                        many.iter().take(3).map(|(n, _)| n.as_str()).collect();
                    if many.len() > 3 {
                        listed.push("…");
                    }
                    listed.join(", ")
                }
            };
            part.push_str(&format!(" ({detail})"));
        }
        parts.push(part);
    }
    let total = outcomes.len();
    let noun = if total == 1 { "target" } else { "targets" };
    format!("{total} {noun}: {}", parts.join(", "))
}

/// The bar being drawn, if any: [`LogWriter`] writes log lines around it.
static DRAWN: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Where a service's log lines go: stderr, written around the fleet's progress bar while one
/// is drawn, so that a log line neither breaks the bar nor is overwritten by it. Give it to
/// the subscriber: `tracing_subscriber::fmt().with_writer(pgbaked_cli::log_writer)`.
pub fn log_writer() -> LogWriter {
    LogWriter
}

/// See [`log_writer`].
#[derive(Debug)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let drawn = DRAWN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match drawn {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// On a terminal, a bar on stderr: done/total, failures so far, the slowest target in flight.
/// Elsewhere nothing: each target's line, and the summary, are on stdout.
pub(super) struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub(super) fn new(total: usize) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} targets  {msg}")
            {
                bar.set_style(style);
            }
            *DRAWN.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Progress { bar }
    }

    pub(super) fn advance(&self, failures: usize) {
        self.bar.inc(1);
        if failures > 0 {
            self.bar.set_message(format!("{failures} failed"));
        }
    }

    pub(super) fn slowest(&self, slowest: Option<(String, Duration)>, failures: usize) {
        let failed = if failures > 0 {
            format!("{failures} failed  ")
        } else {
            String::new()
        };
        let slowest = slowest
            .map(|(name, d)| format!("slowest: {name} ({:.1} s)", d.as_secs_f64()))
            .unwrap_or_default();
        self.bar.set_message(format!("{failed}{slowest}"));
    }

    /// A result line on stdout, with the bar out of the way.
    pub(super) fn println(&self, line: &str) {
        self.bar.suspend(|| out!("{line}"));
    }

    pub(super) fn finish(&self) {
        DRAWN.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.bar.finish_and_clear();
    }
}
