//! What a run is told (its options) and what it reports (each step, with what it did).

use super::*;

/// How the migrator runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The history table; refinery's by default.
    pub table: String,
    /// How long to wait for another process's migration lock.
    pub lock_wait: Duration,
    /// Run the whole plan in one transaction instead of one per migration.
    pub grouped: bool,
    /// Refuse to run when the database holds versions this binary does not know.
    pub strict: bool,
    /// `lock_timeout` inside each migration's transaction, so that a migration queued behind
    /// a long transaction fails instead of stalling every query queued behind it. `None`
    /// sends nothing, leaving the role's or database's own setting in force.
    pub lock_timeout: Option<Duration>,
    /// `lock_timeout` around a `-- no-transaction` script. `None` (the default) sends nothing:
    /// `CREATE INDEX CONCURRENTLY` waits, through the lock manager, for every transaction
    /// older than itself, so a default bound would fail it on any busy database. Only a bound
    /// the user chose belongs here.
    pub no_transaction_lock_timeout: Option<Duration>,
    /// `statement_timeout` inside each migration, `-- no-transaction` ones included. `None`
    /// sends nothing.
    pub statement_timeout: Option<Duration>,
    /// How many times a migration whose transaction hit `lock_timeout` is run again, after a
    /// backoff (1 s, 2 s, 4 s, … with jitter): nothing of it had committed, and live traffic
    /// that held the lock has usually moved on. 0: fail at the first timeout.
    pub lock_retries: u32,
    /// How cancel requests reach the server (TLS when the server requires it).
    pub cancel_tls: CancelTls,
    /// Hold back `-- contract` migrations while a replica of an older release of this
    /// service is connected: the service's name, whose replicas name their connections
    /// `NAME head=VERSION (…)` ([`release_application_name`]). `None`: apply them.
    pub contract_guard: Option<String>,
    /// Log each step at debug rather than info: a run on a scratch database (a replay, a
    /// template, autogenerate's check) changes nothing of the user's, and its lines would
    /// read as if it did.
    pub quiet: bool,
    /// Revert `-- contract` steps that deleted data (`migrate down --allow-data-loss`): their
    /// undo brings the schema back without the data. Refused by default.
    pub allow_data_loss: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            table: DEFAULT_TABLE.to_string(),
            lock_wait: Duration::from_secs(60),
            grouped: false,
            strict: false,
            // Short, so the queries queued behind a waiting ALTER wait no longer than this;
            // retried (`lock_retries`) rather than failed at once.
            lock_timeout: Some(Duration::from_secs(3)),
            no_transaction_lock_timeout: None,
            statement_timeout: None,
            lock_retries: 5,
            cancel_tls: CancelTls::default(),
            contract_guard: None,
            quiet: false,
            allow_data_loss: false,
        }
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The `V` file ran.
    Applied,
    /// The `U` file ran.
    Reverted,
    /// A history row was written by `stamp` without running SQL.
    Stamped,
    /// A history row was removed by `stamp` without running SQL.
    Unstamped,
    /// A history row's checksum was re-recorded.
    Repaired,
    /// The mark of an unfinished `-- no-transaction` script was cleared by `repair`.
    Cleared,
}

impl Action {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Applied => "applied",
            Action::Reverted => "reverted",
            Action::Stamped => "stamped",
            Action::Unstamped => "unstamped",
            Action::Repaired => "repaired",
            Action::Cleared => "cleared",
        }
    }
}

/// One finished step of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// What happened; `direction` in JSON, as before there were other actions than the two.
    #[serde(rename = "direction")]
    pub action: Action,
    /// The version.
    pub version: i64,
    /// The description.
    pub name: String,
    /// How long the step took, commit included.
    pub elapsed_ms: u64,
    /// For a repair: the checksum recorded before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_checksum: Option<String>,
    /// For a repair: the checksum recorded now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_checksum: Option<String>,
    /// How many times the migration was run again after a lock timeout rolled it back.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Every finished step, in order.
    pub steps: Vec<Step>,
    /// The version before the run, or `None` at base.
    pub from: Option<i64>,
    /// The version after the run, or `None` at base.
    pub to: Option<i64>,
    /// Versions in the database that this binary does not know.
    pub unknown: Vec<i64>,
    /// Pending versions held back: a `-- contract` migration, and those after it, while a
    /// replica of an older release is connected (see [`Options::contract_guard`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<i64>,
}
