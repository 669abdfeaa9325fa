//! The scenario file ([concepts](concepts.md)): its serde model, defaults and validation.
//!
//! Loading is two passes. serde + toml reject syntax errors, unknown keys and values of
//! the wrong type, with the position toml reports. [`Scenario::validate`] then checks
//! what a type cannot say (ranges, names that must exist, contradictions) and points
//! at the offending value through its key path, located in the raw text by `toml_edit`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The name of the node that submits business transactions; faults cannot target it.
pub const CLIENT: &str = "client";
/// The default name of the orchestrator / 2PC coordinator / shared-database app node.
pub const COORDINATOR: &str = "coordinator";
/// The one database node of the shared-database pattern.
pub const DATABASE: &str = "database";
/// The API-composition gateway node.
pub const GATEWAY: &str = "gateway";

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; only 1 exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Human name, shown in reports.
    pub name: String,
    /// What to look at; shown in the TUI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default seed (the CLI's `--seed` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Virtual-time limit of the run.
    #[serde(default = "default_duration_ms")]
    pub duration_ms: u64,
    /// Network settings for every link.
    #[serde(default)]
    pub network: Network,
    /// The services, each with a private store.
    #[serde(rename = "service", default)]
    pub services: Vec<Service>,
    /// Business transactions across services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Write>,
    /// Queries that join across services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Read>,
    /// The fault schedule.
    #[serde(rename = "fault", default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// What this scenario demonstrates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Bounds that make a runaway scenario end with a report that says why.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// Bounds of `sovlab explore` for this scenario (its flags override them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore: Option<ExploreBounds>,
    /// A recorded execution of the explorer: the run follows these choices instead of
    /// drawing chance (docs/reference/explore.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// Service time of nodes that are not services (`database`, the coordinator, a
    /// view, the gateway), by node name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<String, Serving>,
}

/// How a node serves messages: a mean service time, its distribution, and servers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serving {
    /// Mean time to serve one message, in virtual ms (0: instant).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub service_time_ms: f64,
    /// How service times are distributed around the mean.
    #[serde(default, skip_serializing_if = "ServiceDist::is_fixed")]
    pub service_dist: ServiceDist,
    /// Servers: how many messages are served at once.
    #[serde(default = "default_workers", skip_serializing_if = "is_one")]
    pub workers: u32,
}

impl Default for Serving {
    fn default() -> Self {
        Serving {
            service_time_ms: 0.0,
            service_dist: ServiceDist::Fixed,
            workers: 1,
        }
    }
}

impl Serving {
    /// Does this node take time to serve a message at all?
    pub fn timed(&self) -> bool {
        self.service_time_ms > 0.0
    }
}

/// The distribution of a node's service time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceDist {
    /// Always the mean.
    #[default]
    Fixed,
    /// Exponential with that mean (memoryless: the M of M/M/1).
    Exponential,
    /// Uniform on [0, 2 * mean].
    Uniform,
}

impl ServiceDist {
    fn is_fixed(&self) -> bool {
        *self == ServiceDist::Fixed
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ServiceDist::Fixed => "fixed",
            ServiceDist::Exponential => "exponential",
            ServiceDist::Uniform => "uniform",
        }
    }
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}
fn default_workers() -> u32 {
    1
}
fn is_one(x: &u32) -> bool {
    *x == 1
}

/// The `[explore]` section: bounds of an exhaustive exploration (docs/reference/explore.md).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExploreBounds {
    /// Most crashes in one execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_crashes: Option<u32>,
    /// The nodes that may crash; default every node but the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashable: Option<Vec<String>>,
    /// A crashed node restarts this many ms later; absent: it stays down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_ms: Option<u64>,
    /// Most messages dropped by choice in one execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drops: Option<u32>,
    /// Most messages duplicated by choice in one execution (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duplicates: Option<u32>,
    /// Most steps in one execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Most executions in one exploration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_executions: Option<u64>,
    /// Invariants that must hold in every execution (default: `[expect] holds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<Vec<String>>,
    /// Invariants that must break in at least one execution (default: `[expect]
    /// violated`): `[expect]` is what one run shows, this what some execution does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violated: Option<Vec<String>>,
}

/// The `[replay]` section: one execution of the explorer, as its list of choices.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// At each choice point, in order, which option was taken (0 is the first).
    pub choices: Vec<u32>,
    /// The drop bound the execution was explored under (it decides which fates a
    /// message may have, so the replay needs it to count options alike).
    #[serde(default)]
    pub max_drops: u32,
    /// The duplicate bound it was explored under.
    #[serde(default)]
    pub max_duplicates: u32,
}

fn default_duration_ms() -> u64 {
    10_000
}

/// Network settings for every link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Probability a message is dropped, 0..=1.
    #[serde(default)]
    pub loss: f64,
    /// Probability a delivered message arrives twice, 0..=1.
    #[serde(default)]
    pub duplicate: f64,
    /// Uniform one-way latency range `[min, max]` in ms.
    #[serde(default = "default_latency_ms")]
    pub latency_ms: [u64; 2],
}

fn default_latency_ms() -> [u64; 2] {
    [1, 10]
}

impl Default for Network {
    fn default() -> Self {
        Network {
            loss: 0.0,
            duplicate: 0.0,
            latency_ms: default_latency_ms(),
        }
    }
}

/// One service and its private store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `[a-z][a-z0-9-]*`, unique.
    pub name: String,
    /// The kind of its store.
    #[serde(default)]
    pub store: StoreKind,
    /// Units of this service's resource.
    #[serde(default = "default_capacity")]
    pub capacity: i64,
    /// Overrides `[write].idempotent` for this service (saga).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// Overrides `[write].publish` for what this service publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<Publish>,
    /// Mean time to serve one message, in virtual ms (0: instant).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub service_time_ms: f64,
    /// How service times are distributed around the mean.
    #[serde(default, skip_serializing_if = "ServiceDist::is_fixed")]
    pub service_dist: ServiceDist,
    /// Servers: how many messages are served at once.
    #[serde(default = "default_workers", skip_serializing_if = "is_one")]
    pub workers: u32,
    /// Hot rows: a transaction's step here uses one of this many rows (none: no
    /// row contention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u32>,
}

impl Service {
    /// How this service's node serves messages.
    pub fn serving(&self) -> Serving {
        Serving {
            service_time_ms: self.service_time_ms,
            service_dist: self.service_dist,
            workers: self.workers,
        }
    }
}

fn default_capacity() -> i64 {
    1_000_000
}

/// The four kinds of store a service may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// Tables of rows.
    #[default]
    Relational,
    /// JSON documents by id.
    Document,
    /// Versioned keys.
    KeyValue,
    /// An append-only log; state is its fold.
    EventLog,
}

impl StoreKind {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Relational => "relational",
            StoreKind::Document => "document",
            StoreKind::KeyValue => "key-value",
            StoreKind::EventLog => "event-log",
        }
    }
}

/// The write protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// A saga: local transactions with compensations.
    Saga,
    /// Two-phase commit with a coordinator.
    TwoPhaseCommit,
    /// One database node holds every service's data.
    SharedDatabase,
    /// Try-confirm-cancel: reserve at every participant, then confirm or cancel.
    TryConfirmCancel,
}

impl Protocol {
    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Saga => "saga",
            Protocol::TwoPhaseCommit => "two-phase-commit",
            Protocol::SharedDatabase => "shared-database",
            Protocol::TryConfirmCancel => "try-confirm-cancel",
        }
    }
}

/// How a saga is coordinated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coordination {
    /// An orchestrator drives the steps.
    #[default]
    Orchestration,
    /// Each service reacts to the previous one's event.
    Choreography,
}

/// How a saga's orchestrator and services send what they did, and how every source
/// publishes its changes to a CQRS view (any protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Publish {
    /// Written in the same local transaction, relayed from the store.
    #[default]
    Outbox,
    /// Sent after the commit, from memory (the dual write).
    Direct,
    /// Event sourcing (event-log stores only): the log of events is the state, and a
    /// relay tails that same log and publishes its events; no outbox rows, no dual
    /// write.
    EventSourcing,
}

/// What a saga does about its lost isolation (Garcia-Molina & Salem; Richardson, section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Countermeasure {
    /// Nothing: other sagas see (and decide on) units of sagas that may still abort.
    #[default]
    None,
    /// A step's units stay pending until its saga commits or compensates; another
    /// saga that would need them waits for the outcome, up to `timeout_ms`.
    SemanticLock,
    /// The steps run in an order in which units of scarce resources, once taken, are
    /// never given back: refusable steps first, scarce ones last.
    PessimisticView,
}

impl Countermeasure {
    fn is_none(&self) -> bool {
        *self == Countermeasure::None
    }
}

/// How an orchestrator runs the compensations of a failed saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compensation {
    /// One at a time, in reverse order: a compensation that is never answered holds
    /// up the ones before it.
    #[default]
    Sequential,
    /// All at once: every completed step is undone without waiting for the others.
    Parallel,
}

impl Compensation {
    fn is_sequential(&self) -> bool {
        *self == Compensation::Sequential
    }
}

/// Resending of unanswered forward commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Give a forward command up after this many sends; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Resend interval.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

fn default_backoff_ms() -> u64 {
    20
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: None,
            backoff_ms: default_backoff_ms(),
        }
    }
}

/// One step of a business transaction: one local transaction at one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The service that runs this step.
    pub service: String,
    /// Units of the service's resource taken.
    #[serde(default = "default_amount")]
    pub amount: i64,
    /// Probability the business rule rejects the step.
    #[serde(default)]
    pub reject: f64,
    /// Saga: compensatable, the pivot, or retriable.
    #[serde(default, skip_serializing_if = "StepKind::is_compensatable")]
    pub kind: StepKind,
}

/// The kind of a saga step (Garcia-Molina & Salem; Richardson, section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Undone by a compensation when a later step fails.
    #[default]
    Compensatable,
    /// The go / no-go step: before it commits the saga may still compensate, after it
    /// the saga only goes forward.
    Pivot,
    /// After the pivot: cannot be refused, resent until it succeeds, never compensated.
    Retriable,
}

impl StepKind {
    fn is_compensatable(&self) -> bool {
        *self == StepKind::Compensatable
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Compensatable => "compensatable",
            StepKind::Pivot => "pivot",
            StepKind::Retriable => "retriable",
        }
    }
}

fn default_amount() -> i64 {
    1
}

/// The `[write]` section: business transactions across services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Write {
    /// Which protocol keeps the steps consistent.
    pub protocol: Protocol,
    /// How many business transactions.
    #[serde(default = "default_transactions")]
    pub transactions: u32,
    /// How many in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Gap between starts.
    #[serde(default)]
    pub interval_ms: u64,
    /// The node running the orchestrator / coordinator; default a dedicated node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Saga: orchestration or choreography.
    #[serde(default)]
    pub coordination: Coordination,
    /// Outbox or direct publishing: a saga's commands and events, and (any protocol)
    /// the changes sent to a CQRS view.
    #[serde(default)]
    pub publish: Publish,
    /// Saga: do services de-duplicate commands and events?
    #[serde(default = "default_true")]
    pub idempotent: bool,
    /// Resending of unanswered commands.
    #[serde(default)]
    pub retry: Retry,
    /// 2PC vote / decision timeout; shared-database statement timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// 2PC: the coordinator logs its decision durably.
    #[serde(default = "default_true")]
    pub coordinator_log: bool,
    /// `publish = "direct"`: how long after its commit a published message leaves
    /// (the dual-write window a crash can fall into).
    #[serde(
        default = "default_dual_write_gap_ms",
        skip_serializing_if = "is_default_dual_write_gap_ms"
    )]
    pub dual_write_gap_ms: u64,
    /// Saga: the countermeasure against lost isolation.
    #[serde(default, skip_serializing_if = "Countermeasure::is_none")]
    pub countermeasure: Countermeasure,
    /// Saga orchestration: compensations one by one in reverse, or all at once.
    #[serde(default, skip_serializing_if = "Compensation::is_sequential")]
    pub compensation: Compensation,
    /// Open loop: transactions start as a Poisson process of this rate per virtual
    /// second (instead of `concurrency` / `interval_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate_per_s: Option<f64>,
    /// A transaction is available when the client hears its outcome within this many ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Try-confirm-cancel: how long a participant keeps a reservation that was neither
    /// confirmed nor cancelled before it releases it alone.
    #[serde(
        default = "default_reservation_ms",
        skip_serializing_if = "is_default_reservation_ms"
    )]
    pub reservation_ms: u64,
    /// Try-confirm-cancel: each participant records (transaction, step, state), so an
    /// empty rollback, a suspended try and a repeated confirm or cancel are harmless.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub tcc_fence: bool,
}

fn default_transactions() -> u32 {
    10
}
fn default_concurrency() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    100
}
fn default_dual_write_gap_ms() -> u64 {
    1
}
fn is_default_dual_write_gap_ms(ms: &u64) -> bool {
    *ms == default_dual_write_gap_ms()
}
fn default_reservation_ms() -> u64 {
    200
}
fn is_default_reservation_ms(ms: &u64) -> bool {
    *ms == default_reservation_ms()
}
fn is_true(b: &bool) -> bool {
    *b
}

impl Write {
    /// The node that coordinates, by name.
    pub fn coordinator_name(&self) -> &str {
        self.coordinator.as_deref().unwrap_or(COORDINATOR)
    }
}

/// The read methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMethod {
    /// A gateway asks every source and joins the answers.
    ApiComposition,
    /// A view node keeps a denormalized copy fed by events.
    CqrsView,
}

impl ReadMethod {
    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            ReadMethod::ApiComposition => "api-composition",
            ReadMethod::CqrsView => "cqrs-view",
        }
    }
}

/// The `[read]` section: queries that join across services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Read {
    /// API composition or a CQRS view.
    pub method: ReadMethod,
    /// How many queries.
    #[serde(default = "default_queries")]
    pub queries: u32,
    /// Gap between queries.
    #[serde(default = "default_read_interval_ms")]
    pub interval_ms: u64,
    /// The services read; default every service.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Per-source call timeout (api-composition).
    #[serde(default = "default_read_timeout_ms")]
    pub timeout_ms: u64,
    /// Name of the view node (cqrs-view).
    #[serde(default = "default_view")]
    pub view: String,
    /// Open loop: queries start as a Poisson process of this rate per virtual second
    /// (instead of `interval_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate_per_s: Option<f64>,
}

fn default_queries() -> u32 {
    10
}
fn default_read_interval_ms() -> u64 {
    10
}
fn default_read_timeout_ms() -> u64 {
    50
}
fn default_view() -> String {
    "view".to_string()
}

/// One scheduled fault. Exactly one of `crash`, `partition`, `loss` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When the fault starts, in virtual ms (unused, and 0, when `after` places it).
    #[serde(default)]
    pub at_ms: u64,
    /// Placed at a protocol step instead of a time: the fault fires right after the
    /// handler that recorded the trigger's event ([`After`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
    /// Crash this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<String>,
    /// Restart the crashed node this many ms after the crash; absent: it stays down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_ms: Option<u64>,
    /// Split the nodes into groups that cannot reach each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<Vec<String>>>,
    /// When the partition heals (absolute virtual ms); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_ms: Option<u64>,
    /// Drop messages with this probability during the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// End of the loss window (absolute virtual ms); absent: the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// Restrict the loss window to the link between these two nodes (both directions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<[String; 2]>,
    /// How long a partition or loss window lasts, from its start (instead of the
    /// absolute `heal_ms` / `until_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<u64>,
}

/// A trigger: the `count`-th event of trace kind `event` recorded at `node` (with a
/// message of kind `msg` and about transaction `txn`, when those are given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// The node where the event is recorded (for a send, drop or duplicate: the sender).
    pub node: String,
    /// A trace `kind`: "deliver", "send", "vote", "commit", ...
    pub event: String,
    /// Only events carrying a message of this kind ("vote", "do", ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// Only events about this business transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<u32>,
    /// Which matching event fires it: the first by default.
    #[serde(default = "default_count")]
    pub count: u32,
}

fn default_count() -> u32 {
    1
}

/// What kind of fault a [`Fault`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind<'a> {
    /// A node crash, with its restart delay.
    Crash {
        /// Node name.
        node: &'a str,
        /// Restart after this many ms.
        restart_ms: Option<u64>,
    },
    /// A partition, with its absolute heal time.
    Partition {
        /// The groups.
        groups: &'a [Vec<String>],
        /// Heal at this virtual ms.
        heal_ms: Option<u64>,
    },
    /// A loss window.
    Loss {
        /// Drop probability.
        p: f64,
        /// Window end.
        until_ms: Option<u64>,
        /// Only this link.
        link: Option<&'a [String; 2]>,
    },
}

impl Fault {
    /// The absolute end a `for_ms` duration gives: `at_ms + for_ms`.
    fn end_by_duration(&self) -> Option<u64> {
        self.for_ms.map(|d| self.at_ms.saturating_add(d))
    }

    /// The same fault with a `for_ms` duration written as the absolute `heal_ms` /
    /// `until_ms` it means (what shrink edits). A triggered fault keeps `for_ms`: its
    /// start is not a time, so its end can only be relative.
    pub fn with_absolute_end(mut self) -> Fault {
        if self.after.is_some() {
            return self;
        }
        if let Some(end) = self.end_by_duration() {
            if self.partition.is_some() && self.heal_ms.is_none() {
                self.heal_ms = Some(end);
            }
            if self.loss.is_some() && self.until_ms.is_none() {
                self.until_ms = Some(end);
            }
            self.for_ms = None;
        }
        self
    }

    /// Is it placed by a trigger (`after`) rather than at a time?
    pub fn is_triggered(&self) -> bool {
        self.after.is_some()
    }

    /// The kind of this fault; `None` when zero or several kinds are set (a validation error).
    pub fn kind(&self) -> Option<FaultKind<'_>> {
        match (&self.crash, &self.partition, self.loss) {
            (Some(node), None, None) => Some(FaultKind::Crash {
                node,
                restart_ms: self.restart_ms,
            }),
            (None, Some(groups), None) => Some(FaultKind::Partition {
                groups,
                heal_ms: self.heal_ms.or(self.end_by_duration()),
            }),
            (None, None, Some(p)) => Some(FaultKind::Loss {
                p,
                until_ms: self.until_ms.or(self.end_by_duration()),
                link: self.link.as_ref(),
            }),
            _ => None,
        }
    }
}

/// The names of the invariants (docs/concepts.md).
pub const INVARIANTS: [&str; 7] = [
    "atomicity",
    "conservation",
    "agreement",
    "termination",
    "isolation",
    "convergence",
    "consistent-reads",
];

/// What a scenario demonstrates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Invariants that must hold.
    #[serde(default)]
    pub holds: Vec<String>,
    /// Invariants that must be broken.
    #[serde(default)]
    pub violated: Vec<String>,
    /// Invariants broken on at least one seed of a sweep (a single run does not judge
    /// them): the story of a scenario whose break depends on the seed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sometimes: Vec<String>,
}

/// Bounds on a run. A run that reaches one ends early and its report says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most trace events in one run.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Most nodes in one scenario.
    #[serde(default = "default_max_nodes")]
    pub max_nodes: u32,
    /// Most business transactions (and queries) in one scenario.
    #[serde(default = "default_max_transactions")]
    pub max_transactions: u32,
    /// Largest `duration_ms`.
    #[serde(default = "default_max_duration_ms")]
    pub max_duration_ms: u64,
}

fn default_max_events() -> u64 {
    5_000_000
}
fn default_max_nodes() -> u32 {
    64
}
fn default_max_transactions() -> u32 {
    1_000_000
}
fn default_max_duration_ms() -> u64 {
    3_600_000
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: default_max_events(),
            max_nodes: default_max_nodes(),
            max_transactions: default_max_transactions(),
            max_duration_ms: default_max_duration_ms(),
        }
    }
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Limits::default()
    }
}

/// Replacements for `[limits]` (from the command line), applied before validation
/// so that they can raise a limit the file would otherwise break.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Replaces `max_events`.
    pub max_events: Option<u64>,
    /// Replaces `max_nodes`.
    pub max_nodes: Option<u32>,
    /// Replaces `max_transactions`.
    pub max_transactions: Option<u32>,
    /// Replaces `max_duration_ms`.
    pub max_duration_ms: Option<u64>,
}

impl LimitOverrides {
    /// Writes the overrides into `limits`.
    pub fn apply(&self, limits: &mut Limits) {
        if let Some(v) = self.max_events {
            limits.max_events = v;
        }
        if let Some(v) = self.max_nodes {
            limits.max_nodes = v;
        }
        if let Some(v) = self.max_transactions {
            limits.max_transactions = v;
        }
        if let Some(v) = self.max_duration_ms {
            limits.max_duration_ms = v;
        }
    }
}

/// `[write]` keys that mean something under one protocol only, with that protocol.
pub const PROTOCOL_KEYS: [(&str, Protocol); 4] = [
    ("coordinator_log", Protocol::TwoPhaseCommit),
    ("coordination", Protocol::Saga),
    ("reservation_ms", Protocol::TryConfirmCancel),
    ("tcc_fence", Protocol::TryConfirmCancel),
];

/// `text` without the `[write]` keys that do not apply to its protocol. Older sovlab
/// versions wrote every key into a trace's scenario; a loader drops the inapplicable
/// ones instead of refusing the trace. Text that does not parse is returned unchanged
/// (the parser then reports it).
pub fn without_inapplicable_keys(text: &str) -> String {
    let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
        return text.to_string();
    };
    let Some(w) = doc.get_mut("write").and_then(|i| i.as_table_like_mut()) else {
        return text.to_string();
    };
    // No protocol: nothing is known not to apply (the parser reports the omission).
    let Some(protocol) = w
        .get("protocol")
        .and_then(|v| v.as_str())
        .map(str::to_string)
    else {
        return text.to_string();
    };
    let mut changed = false;
    for (key, needs) in PROTOCOL_KEYS {
        if protocol != needs.name() && w.remove(key).is_some() {
            changed = true;
        }
    }
    if changed {
        doc.to_string()
    } else {
        text.to_string()
    }
}

/// A scenario that could not be loaded: where, what, and a hint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The file (or a label such as `<string>`).
    pub file: String,
    /// Byte range of the offending text in the file, when known.
    pub span: Option<std::ops::Range<usize>>,
    /// 1-based line, when known (0: the error is about the file as a whole).
    pub line: usize,
    /// 1-based column, when known.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// How to fix it, when there is a likely fix.
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// One step of a key path into the TOML document, to locate an error.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    /// A table key.
    Key(&'static str),
    /// A table key known only at run time (a node name under `[nodes]`).
    Name(String),
    /// An array index.
    Index(usize),
}

impl PathPart {
    /// The key this part names, if it is a key.
    pub fn key(&self) -> Option<&str> {
        match self {
            PathPart::Key(k) => Some(k),
            PathPart::Name(k) => Some(k),
            PathPart::Index(_) => None,
        }
    }
}

/// A semantic problem found by [`Scenario::validate`], located by key path.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where the offending value is.
    pub path: Vec<PathPart>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &LimitOverrides::default())
    }

    /// [`Scenario::load`] with `[limits]` overridden before validation.
    pub fn load_with(path: &Path, overrides: &LimitOverrides) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| ScenarioError {
            file: file.clone(),
            span: None,
            line: 0,
            column: 0,
            message: format!("cannot read the file: {e}"),
            hint: None,
        })?;
        let text = String::from_utf8(text).map_err(|e| {
            let (line, column) = line_col(
                &String::from_utf8_lossy(e.as_bytes()),
                e.utf8_error().valid_up_to(),
            );
            let at = e.utf8_error().valid_up_to();
            ScenarioError {
                file: file.clone(),
                span: Some(at..at + 1),
                line,
                column,
                message: "the file is not valid UTF-8".into(),
                hint: Some("scenario files are UTF-8 text (TOML)".into()),
            }
        })?;
        Scenario::parse_with(&text, &file, overrides)
    }

    /// Parses and validates scenario text; `file` labels errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(text, file, &LimitOverrides::default())
    }

    /// [`Scenario::parse`] with `[limits]` overridden before validation.
    pub fn parse_with(
        text: &str,
        file: &str,
        overrides: &LimitOverrides,
    ) -> Result<Scenario, ScenarioError> {
        Scenario::diagnose(text, file, overrides)
            .map_err(|errors| errors.into_iter().next().expect("at least one error"))
    }

    /// Like [`Scenario::parse_with`], but every error, in file order: a file TOML
    /// rejects has one (the parser stops there); else every type error and every
    /// semantic problem the rest of the file shows.
    pub fn diagnose(
        text: &str,
        file: &str,
        overrides: &LimitOverrides,
    ) -> Result<Scenario, Vec<ScenarioError>> {
        let error = |span: Option<std::ops::Range<usize>>, message: String, hint| {
            let (line, column) = line_col(text, span.as_ref().map_or(0, |s| s.start));
            ScenarioError {
                file: file.to_string(),
                span,
                line,
                column,
                message,
                hint,
            }
        };
        // Every type error: the deserializer stops at one, so its key is blanked out
        // and the text read again (type_errors.rs); a field missing only because it was
        // blanked is no error of the file, and ends the search.
        let mut type_errors = vec![];
        let mut blanked_keys: Vec<String> = vec![];
        let mut blanked: Vec<std::ops::Range<usize>> = vec![];
        let mut read = text.to_string();
        let mut scenario: Scenario = loop {
            let e = match toml::from_str::<Scenario>(&read) {
                Ok(s) => break s,
                Err(e) => e,
            };
            let raw = e.message().trim().to_string();
            let caused = raw
                .strip_prefix("missing field `")
                .and_then(|r| r.split('`').next())
                .is_some_and(|f| blanked_keys.iter().any(|k| k == f));
            if caused {
                return Err(type_errors);
            }
            let hint = crate::scenario_hints::hint_for_serde_error(&raw);
            let message = crate::scenario_hints::in_plain_words(&raw);
            type_errors.push(error(e.span(), message, hint));
            let next = e
                .span()
                .and_then(|s| crate::type_errors::blank_range(&read, &s));
            match next {
                Some((r, key)) if type_errors.len() < 100 && !r.is_empty() => {
                    read = crate::type_errors::blank(&read, &r);
                    blanked_keys.push(key);
                    blanked.push(r);
                }
                _ => return Err(type_errors),
            }
        };
        overrides.apply(&mut scenario.limits);
        let problems = crate::scenario_validate::validate_text(&scenario, text);
        if !type_errors.is_empty() {
            // What else is wrong, as far as the rest of the file tells; a problem of a
            // blanked key would only repeat its type error.
            let mut errors: Vec<ScenarioError> = problems
                .into_iter()
                .map(|p| (locate_span(text, &p.path), p))
                .filter(|(span, _)| {
                    let hit = |b: &std::ops::Range<usize>, s: &std::ops::Range<usize>| {
                        s.start < b.end && b.start < s.end.max(s.start + 1)
                    };
                    !span
                        .as_ref()
                        .is_some_and(|s| blanked.iter().any(|b| hit(b, s)))
                })
                .map(|(span, p)| error(span, p.message, p.hint))
                .chain(type_errors)
                .collect();
            errors.sort_by_key(|e| (e.line, e.column));
            return Err(errors);
        }
        if problems.is_empty() {
            // The countermeasure reorders the steps once the file is known to be valid.
            if let Some(w) = &mut scenario.write {
                if w.countermeasure == Countermeasure::PessimisticView {
                    let order = crate::patterns::saga::pessimistic_order(&scenario.services, w);
                    w.steps = order.into_iter().map(|i| w.steps[i].clone()).collect();
                }
            }
            return Ok(scenario);
        }
        let mut errors: Vec<ScenarioError> = problems
            .into_iter()
            .map(|p| error(locate_span(text, &p.path), p.message, p.hint))
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        Err(errors)
    }

    /// Renders the scenario back to TOML (used by `shrink` and what-if forks).
    /// Keys that do not apply to the protocol are left out (the model always has them),
    /// so the text parses back.
    pub fn to_toml(&self) -> String {
        let text = toml::to_string(self).expect("a scenario always serializes");
        if self.write.is_none() && !self.faults.iter().any(Fault::is_triggered) {
            return text;
        }
        let mut doc: toml_edit::DocumentMut = text.parse().expect("toml writes valid TOML");
        triggers_inline(&mut doc);
        let Some(w) = &self.write else {
            return doc.to_string();
        };
        if let Some(t) = doc.get_mut("write").and_then(|i| i.as_table_like_mut()) {
            for (key, needs) in PROTOCOL_KEYS {
                if w.protocol != needs {
                    t.remove(key);
                }
            }
            // An open loop excludes the closed loop's keys (their defaults included).
            if w.arrival_rate_per_s.is_some() {
                t.remove("concurrency");
                t.remove("interval_ms");
            }
        }
        doc.to_string()
    }

    /// The seed to run with: the CLI's, else the file's, else 0.
    pub fn seed_or(&self, cli: Option<u64>) -> u64 {
        cli.or(self.seed).unwrap_or(0)
    }

    /// Every node name a fault may target in this scenario, in a stable order.
    pub fn fault_targets(&self) -> Vec<String> {
        let mut names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        if let Some(w) = &self.write {
            if w.coordination != Coordination::Choreography || w.protocol != Protocol::Saga {
                names.push(w.coordinator_name().to_string());
            }
            if w.protocol == Protocol::SharedDatabase {
                names.push(DATABASE.to_string());
            }
        }
        if let Some(r) = &self.read {
            match r.method {
                ReadMethod::ApiComposition => names.push(GATEWAY.to_string()),
                ReadMethod::CqrsView => names.push(r.view.clone()),
            }
        }
        let mut seen = BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    /// How service `service` (index in `services`) publishes: its own `publish`, else
    /// `[write].publish`.
    pub fn publish_of(&self, service: usize) -> Publish {
        self.services[service]
            .publish
            .or(self.write.as_ref().map(|w| w.publish))
            .unwrap_or_default()
    }

    /// Does service `service` de-duplicate: its own `idempotent`, else
    /// `[write].idempotent`.
    pub fn idempotent_of(&self, service: usize) -> bool {
        self.services[service]
            .idempotent
            .or(self.write.as_ref().map(|w| w.idempotent))
            .unwrap_or(true)
    }

    /// How the node named `node` serves messages: a service's own keys (not under the
    /// shared database, where its steps are the database's work), else `[nodes.NAME]`.
    pub fn serving_of(&self, node: &str) -> Serving {
        let shared = self.write.as_ref().map(|w| w.protocol) == Some(Protocol::SharedDatabase);
        match self.services.iter().find(|s| s.name == node) {
            Some(svc) if !shared => svc.serving(),
            _ => self.nodes.get(node).copied().unwrap_or_default(),
        }
    }

    /// Does any node of this scenario take time to serve a message?
    pub fn has_service_time(&self) -> bool {
        self.services.iter().any(|s| s.service_time_ms > 0.0)
            || self.nodes.values().any(Serving::timed)
    }

    /// Every semantic problem, in file order as far as practical.
    pub fn validate(&self) -> Vec<Problem> {
        crate::scenario_validate::validate(self)
    }
}

/// Writes each `[[fault]]`'s `after` as one inline table, as a user would, and drops
/// the `at_ms` it does not use.
fn triggers_inline(doc: &mut toml_edit::DocumentMut) {
    let Some(faults) = doc
        .get_mut("fault")
        .and_then(|i| i.as_array_of_tables_mut())
    else {
        return;
    };
    for t in faults.iter_mut() {
        let Some(after) = t.remove("after") else {
            continue;
        };
        t.remove("at_ms");
        let inline = match after {
            toml_edit::Item::Table(table) => {
                toml_edit::Item::Value(toml_edit::Value::InlineTable(table.into_inline_table()))
            }
            other => other,
        };
        // First, where at_ms stood: a trigger is read as "when".
        t.insert("after", inline);
        t.sort_values_by(|a, _, b, _| (b.get() == "after").cmp(&(a.get() == "after")));
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Byte offset of the value at `path` in the raw TOML text, or of its nearest parent.
pub fn locate(text: &str, path: &[PathPart]) -> Option<usize> {
    locate_span(text, path).map(|s| s.start)
}

/// Byte range of the value at `path` in the raw TOML text, or of its nearest parent.
pub fn locate_span(text: &str, path: &[PathPart]) -> Option<std::ops::Range<usize>> {
    use toml_edit::{Item, Table, Value};
    /// A place in the document: items, tables of arrays of tables, and inline values.
    #[derive(Clone, Copy)]
    enum At<'a> {
        Item(&'a Item),
        Table(&'a Table),
        Value(&'a Value),
    }
    type Span = Option<std::ops::Range<usize>>;
    fn step<'a>(at: At<'a>, part: &PathPart) -> Option<(At<'a>, Span)> {
        match (at, part) {
            (At::Item(Item::Table(t)) | At::Table(t), PathPart::Key(_) | PathPart::Name(_)) => {
                let (key, item) = t.get_key_value(part.key()?)?;
                // Point at the value when it has a place of its own, else at the key.
                let span = item.span().or_else(|| key.span());
                Some((At::Item(item), span))
            }
            (At::Item(Item::ArrayOfTables(a)), PathPart::Index(i)) => {
                let t = a.get(*i)?;
                Some((At::Table(t), t.span()))
            }
            (At::Item(Item::Value(v)) | At::Value(v), part) => {
                let next = match (v, part) {
                    (Value::InlineTable(t), PathPart::Key(_) | PathPart::Name(_)) => {
                        t.get(part.key()?)?
                    }
                    (Value::Array(a), PathPart::Index(i)) => a.get(*i)?,
                    _ => return None,
                };
                Some((At::Value(next), next.span()))
            }
            _ => None,
        }
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut at = At::Item(doc.as_item());
    let mut best = None;
    for part in path {
        match step(at, part) {
            Some((next, span)) => {
                best = span.or(best);
                at = next;
            }
            None => break,
        }
    }
    best
}
