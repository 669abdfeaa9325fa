//! Semantic checks of a parsed scenario: what the types cannot say.

use crate::msg::MsgKind;
use crate::scenario::{
    Fault, FaultKind, PathPart, Problem, Protocol, Publish, ReadMethod, Scenario, StoreKind,
    CLIENT, INVARIANTS,
};
use crate::scenario_hints::did_you_mean;
use crate::trace::{EVENT_KINDS, MSG_EVENT_KINDS};
use std::collections::BTreeSet;

use PathPart::{Index, Key};

/// The most nodes any scenario may have, whatever its `[limits]`: node indices are
/// 16-bit and every node needs an address of its own in the simulated network.
pub const MAX_NODES: u32 = 4096;

/// The longest interval, backoff or timeout: an hour, like the longest latency.
/// (Protocols count time in microseconds; this keeps every product in range.)
pub const MAX_PERIOD_MS: u64 = 3_600_000;

/// Every semantic problem of `s`.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut v = Validator { out: Vec::new() };
    v.top(s);
    v.out
}

/// Every problem of `s` parsed from `text`: [`validate`]'s, and keys the file sets
/// that do not apply.
pub fn validate_text(s: &Scenario, text: &str) -> Vec<Problem> {
    let mut v = Validator { out: validate(s) };
    v.keys_that_do_not_apply(s, text);
    v.fault_placement(s, text);
    v.out
}

struct Validator {
    out: Vec<Problem>,
}

impl Validator {
    fn problem(&mut self, path: Vec<PathPart>, message: impl Into<String>, hint: Option<String>) {
        self.out.push(Problem {
            path,
            message: message.into(),
            hint,
        });
    }

    /// A window ends one way: `for_ms` (relative) or the absolute `end` key, not both.
    fn one_end(&mut self, f: &Fault, i: usize, end: &'static str, has_end: bool) {
        if f.for_ms.is_some() && has_end {
            self.problem(
                vec![Key("fault"), Index(i), Key("for_ms")],
                format!("for_ms and {end} both end this fault"),
                Some(format!(
                    "keep one: for_ms is a duration from at_ms, {end} an absolute time"
                )),
            );
        }
    }

    fn probability(&mut self, path: Vec<PathPart>, what: &str, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            self.problem(
                path,
                format!("{what} must be a probability between 0 and 1, found {p}"),
                Some("write it as a fraction: 0.05 means 5 %".into()),
            );
        }
    }

    fn top(&mut self, s: &Scenario) {
        if let Some(version) = s.version {
            if version != 1 {
                self.problem(
                    vec![Key("version")],
                    format!("unsupported scenario format version {version}"),
                    Some("this sovlab reads version = 1".into()),
                );
            }
        }
        if s.name.trim().is_empty() {
            self.problem(vec![Key("name")], "name must not be empty", None);
        }
        if s.duration_ms == 0 {
            self.problem(
                vec![Key("duration_ms")],
                "duration_ms must be at least 1",
                None,
            );
        }
        if s.duration_ms > s.limits.max_duration_ms {
            self.problem(
                vec![Key("duration_ms")],
                format!(
                    "duration_ms {} is above the limit of {} ms",
                    s.duration_ms, s.limits.max_duration_ms
                ),
                Some("raise [limits] max_duration_ms if you mean it".into()),
            );
        }
        self.probability(vec![Key("network"), Key("loss")], "loss", s.network.loss);
        self.probability(
            vec![Key("network"), Key("duplicate")],
            "duplicate",
            s.network.duplicate,
        );
        let [lo, hi] = s.network.latency_ms;
        if lo > hi {
            self.problem(
                vec![Key("network"), Key("latency_ms")],
                format!("latency_ms must be [min, max] with min <= max, found [{lo}, {hi}]"),
                Some(format!("did you mean [{hi}, {lo}]?")),
            );
        }
        if hi > 3_600_000 {
            self.problem(
                vec![Key("network"), Key("latency_ms")],
                "latency_ms above one hour is not supported",
                None,
            );
        }
        self.services(s);
        let nodes = s.fault_targets();
        if (nodes.len() as u64 + 1) > u64::from(s.limits.max_nodes) {
            self.problem(
                vec![Key("service")],
                format!(
                    "the scenario has {} nodes, above the limit of {}",
                    nodes.len() + 1,
                    s.limits.max_nodes
                ),
                Some("raise [limits] max_nodes if you mean it".into()),
            );
        }
        self.limits(s);
        self.nodes(s);
        self.write(s);
        self.read(s);
        self.faults(s, &nodes);
        self.explore(s, &nodes);
        self.expect(s);
    }

    fn period(&mut self, path: Vec<PathPart>, what: &str, ms: u64) {
        if ms > MAX_PERIOD_MS {
            self.problem(
                path,
                format!("{what} must be at most {MAX_PERIOD_MS} ms (an hour), found {ms}"),
                None,
            );
        }
    }

    fn limits(&mut self, s: &Scenario) {
        if s.limits.max_events == 0 {
            self.problem(
                vec![Key("limits"), Key("max_events")],
                "max_events must be at least 1",
                None,
            );
        }
        if s.limits.max_nodes > MAX_NODES {
            self.problem(
                vec![Key("limits"), Key("max_nodes")],
                format!(
                    "max_nodes {} is above what the lab can simulate ({MAX_NODES} nodes)",
                    s.limits.max_nodes
                ),
                None,
            );
        }
    }

    fn services(&mut self, s: &Scenario) {
        if s.services.is_empty() {
            self.problem(
                vec![],
                "a scenario needs at least one [[service]]",
                Some("add [[service]] with name = \"orders\"".into()),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, svc) in s.services.iter().enumerate() {
            let path = || vec![Key("service"), Index(i), Key("name")];
            if !valid_name(&svc.name) {
                self.problem(
                    path(),
                    format!("service name {:?} must match [a-z][a-z0-9-]*", svc.name),
                    Some(
                        "use lower-case letters, digits and dashes, starting with a letter".into(),
                    ),
                );
            } else if reserved(&svc.name) {
                self.problem(
                    path(),
                    format!(
                        "service name {:?} is reserved for a node of the lab",
                        svc.name
                    ),
                    Some("choose another name".into()),
                );
            }
            if !seen.insert(svc.name.as_str()) {
                self.problem(
                    path(),
                    format!("service {:?} is defined twice", svc.name),
                    Some("service names are unique".into()),
                );
            }
            if svc.capacity < 0 {
                self.problem(
                    vec![Key("service"), Index(i), Key("capacity")],
                    format!("capacity must be 0 or more, found {}", svc.capacity),
                    None,
                );
            }
            self.service_overrides(s, i);
            self.event_sourcing(s, i);
            let at = |k| vec![Key("service"), Index(i), Key(k)];
            self.serving(&svc.serving(), at);
            if svc.keys == Some(0) {
                self.problem(
                    at("keys"),
                    "keys must be at least 1",
                    Some("keys = 1 is one hot row every transaction contends for; leave it out for no contention".into()),
                );
            }
        }
    }

    /// The service-time keys of one node; `at` gives the path of a key.
    fn serving(
        &mut self,
        sv: &crate::scenario::Serving,
        at: impl Fn(&'static str) -> Vec<PathPart>,
    ) {
        let t = sv.service_time_ms;
        if !t.is_finite() || t < 0.0 || t > MAX_PERIOD_MS as f64 {
            self.problem(
                at("service_time_ms"),
                format!("service_time_ms must be between 0 and {MAX_PERIOD_MS} ms, found {t}"),
                Some("it is the mean time one message takes, e.g. 2.5; 0 means instant".into()),
            );
        }
        if sv.workers == 0 || sv.workers > 10_000 {
            self.problem(
                at("workers"),
                format!("workers must be between 1 and 10000, found {}", sv.workers),
                Some("workers is how many messages the node serves at once".into()),
            );
        }
    }

    /// `[nodes.NAME]`: only nodes of the lab that are not services.
    fn nodes(&mut self, s: &Scenario) {
        if s.nodes.is_empty() {
            return;
        }
        let valid = node_table_names(s);
        for (name, sv) in &s.nodes {
            let at = |k: &'static str| vec![Key("nodes"), PathPart::Name(name.clone()), Key(k)];
            if !valid.iter().any(|v| v == name) {
                let names: Vec<&str> = valid.iter().map(String::as_str).collect();
                let service = s.services.iter().any(|x| &x.name == name);
                let hint = if service {
                    format!(
                        "{name:?} is a service: put service_time_ms and workers in its [[service]]"
                    )
                } else {
                    let close = did_you_mean(name, &names)
                        .map(|n| format!("did you mean {n:?}? "))
                        .unwrap_or_default();
                    format!("{close}[nodes.NAME] takes: {}", names.join(", "))
                };
                self.problem(
                    vec![Key("nodes"), PathPart::Name(name.clone())],
                    format!("unknown node {name:?} under [nodes]"),
                    Some(hint),
                );
                continue;
            }
            self.serving(sv, at);
        }
    }

    /// A service's `idempotent` / `publish` override only means something where the
    /// scenario has what it overrides.
    fn service_overrides(&mut self, s: &Scenario, i: usize) {
        let svc = &s.services[i];
        let saga = s.write.as_ref().map(|w| w.protocol) == Some(Protocol::Saga);
        if svc.idempotent.is_some() && !saga {
            self.problem(
                vec![Key("service"), Index(i), Key("idempotent")],
                format!(
                    "idempotent on service {:?} applies to sagas only (the [write] protocol is not \"saga\")",
                    svc.name
                ),
                Some("remove it, or set [write] protocol = \"saga\"".into()),
            );
        }
        let view = s.read.as_ref().map(|r| r.method) == Some(ReadMethod::CqrsView);
        if svc.publish.is_some() && !saga && !view {
            self.problem(
                vec![Key("service"), Index(i), Key("publish")],
                format!(
                    "publish on service {:?} has nothing to publish: it applies to a saga's \
                     messages and to changes sent to a CQRS view",
                    svc.name
                ),
                Some(
                    "remove it, or use protocol = \"saga\" or [read] method = \"cqrs-view\"".into(),
                ),
            );
        }
    }

    /// `publish = "event-sourcing"` needs an event-log store: the log is both the
    /// service's state and what its relay publishes from.
    fn event_sourcing(&mut self, s: &Scenario, i: usize) {
        let svc = &s.services[i];
        if s.publish_of(i) != Publish::EventSourcing || svc.store == StoreKind::EventLog {
            return;
        }
        let steps = s.write.as_ref().map_or(&[][..], |w| &w.steps[..]);
        let runs_a_step = steps.iter().any(|st| st.service == svc.name);
        if svc.publish.is_none() && !runs_a_step {
            return;
        }
        let path = if svc.publish.is_some() {
            vec![Key("service"), Index(i), Key("publish")]
        } else {
            vec![Key("write"), Key("publish")]
        };
        self.problem(
            path,
            format!(
                "publish = \"event-sourcing\" needs an event-log store, but service {:?} has \
                 store = \"{}\"",
                svc.name,
                svc.store.name()
            ),
            Some(format!(
                "set store = \"event-log\" on service {:?}, or publish = \"outbox\" (the same \
                 guarantee with a table of its own)",
                svc.name
            )),
        );
    }

    fn service_ref(&mut self, s: &Scenario, path: Vec<PathPart>, name: &str) -> bool {
        if s.services.iter().any(|x| x.name == name) {
            return true;
        }
        let names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
        let hint = did_you_mean(name, &names)
            .map(|n| format!("did you mean {n:?}?"))
            .or_else(|| Some(format!("the services are: {}", names.join(", "))));
        self.problem(path, format!("unknown service {name:?}"), hint);
        false
    }

    fn write(&mut self, s: &Scenario) {
        let Some(w) = &s.write else { return };
        if w.steps.is_empty() {
            self.problem(
                vec![Key("write"), Key("steps")],
                "steps must name at least one step",
                Some("steps = [{ service = \"orders\" }]".into()),
            );
        }
        if w.steps.len() > 200 {
            self.problem(
                vec![Key("write"), Key("steps")],
                "at most 200 steps per business transaction",
                None,
            );
        }
        for (i, step) in w.steps.iter().enumerate() {
            let p = |k| vec![Key("write"), Key("steps"), Index(i), Key(k)];
            self.service_ref(s, p("service"), &step.service);
            if step.amount < 0 {
                self.problem(
                    p("amount"),
                    format!("amount must be 0 or more, found {}", step.amount),
                    None,
                );
            }
            self.probability(p("reject"), "reject", step.reject);
        }
        let mut seen = BTreeSet::new();
        for (i, step) in w.steps.iter().enumerate() {
            if !seen.insert(step.service.as_str()) {
                self.problem(
                    vec![Key("write"), Key("steps"), Index(i), Key("service")],
                    format!(
                        "service {:?} appears in two steps; each service runs one step of a transaction",
                        step.service
                    ),
                    Some("merge the two steps into one with the sum of their amounts".into()),
                );
            }
        }
        if w.concurrency == 0 {
            self.problem(
                vec![Key("write"), Key("concurrency")],
                "concurrency must be at least 1",
                None,
            );
        }
        if let Some(rate) = w.arrival_rate_per_s {
            self.rate(vec![Key("write"), Key("arrival_rate_per_s")], rate);
            for (key, set) in [
                ("concurrency", w.concurrency != 1),
                ("interval_ms", w.interval_ms != 0),
            ] {
                if set {
                    self.open_loop_conflict("write", key);
                }
            }
        }
        if let Some(d) = w.deadline_ms {
            if d == 0 {
                self.problem(
                    vec![Key("write"), Key("deadline_ms")],
                    "deadline_ms must be at least 1",
                    None,
                );
            }
            self.period(vec![Key("write"), Key("deadline_ms")], "deadline_ms", d);
        }
        if w.transactions > s.limits.max_transactions {
            self.problem(
                vec![Key("write"), Key("transactions")],
                format!(
                    "{} transactions is above the limit of {}",
                    w.transactions, s.limits.max_transactions
                ),
                Some("raise [limits] max_transactions if you mean it".into()),
            );
        }
        self.period(
            vec![Key("write"), Key("interval_ms")],
            "interval_ms",
            w.interval_ms,
        );
        self.period(
            vec![Key("write"), Key("retry"), Key("backoff_ms")],
            "backoff_ms",
            w.retry.backoff_ms,
        );
        self.period(
            vec![Key("write"), Key("timeout_ms")],
            "timeout_ms",
            w.timeout_ms,
        );
        self.countermeasure(w);
        self.step_kinds(s, w);
        if w.compensation != crate::scenario::Compensation::Sequential
            && (w.protocol != Protocol::Saga
                || w.coordination == crate::scenario::Coordination::Choreography)
        {
            self.problem(
                vec![Key("write"), Key("compensation")],
                "compensation applies to orchestrated sagas only",
                Some("a choreography compensates back along the chain; remove it".into()),
            );
        }
        self.period(
            vec![Key("write"), Key("dual_write_gap_ms")],
            "dual_write_gap_ms",
            w.dual_write_gap_ms,
        );
        // Like every period: bounded, so its microseconds cannot overflow.
        self.period(
            vec![Key("write"), Key("reservation_ms")],
            "reservation_ms",
            w.reservation_ms,
        );
        if w.retry.backoff_ms == 0 {
            self.problem(
                vec![Key("write"), Key("retry"), Key("backoff_ms")],
                "backoff_ms must be at least 1",
                None,
            );
        }
        if w.retry.attempts == Some(0) {
            self.problem(
                vec![Key("write"), Key("retry"), Key("attempts")],
                "attempts must be at least 1 (the first send counts)",
                Some("leave attempts out to resend forever".into()),
            );
        }
        if w.timeout_ms == 0 {
            self.problem(
                vec![Key("write"), Key("timeout_ms")],
                "timeout_ms must be at least 1",
                None,
            );
        }
        if let Some(c) = &w.coordinator {
            let ok = valid_name(c) && c != CLIENT;
            if !ok {
                self.problem(
                    vec![Key("write"), Key("coordinator")],
                    format!(
                        "coordinator {c:?} must be a node name [a-z][a-z0-9-]*, not \"client\""
                    ),
                    None,
                );
            } else if w.protocol == Protocol::SharedDatabase && c == crate::scenario::DATABASE {
                self.problem(
                    vec![Key("write"), Key("coordinator")],
                    "the shared-database app cannot run on the database node itself",
                    None,
                );
            }
        }
    }

    /// A countermeasure is a saga's; the semantic lock needs the orchestrator's word
    /// that a saga committed.
    fn countermeasure(&mut self, w: &crate::scenario::Write) {
        use crate::scenario::{Coordination, Countermeasure};
        if w.countermeasure == Countermeasure::None {
            return;
        }
        let path = || vec![Key("write"), Key("countermeasure")];
        if w.protocol != Protocol::Saga {
            self.problem(
                path(),
                format!(
                    "countermeasure applies to sagas only, not to {:?}",
                    w.protocol.name()
                ),
                Some(
                    "two-phase commit and the shared database keep isolation by locking; remove it"
                        .into(),
                ),
            );
        } else if w.countermeasure == Countermeasure::SemanticLock
            && w.coordination == Coordination::Choreography
        {
            self.problem(
                path(),
                "countermeasure = \"semantic-lock\" needs coordination = \"orchestration\": \
                 the orchestrator tells each service when its saga committed",
                Some("use coordination = \"orchestration\", or countermeasure = \"pessimistic-view\"".into()),
            );
        }
    }

    /// Step kinds (saga only): compensatable steps, then at most one pivot, then
    /// retriable steps, which can never be refused.
    fn step_kinds(&mut self, s: &Scenario, w: &crate::scenario::Write) {
        use crate::scenario::StepKind;
        let mut last = StepKind::Compensatable;
        for (i, step) in w.steps.iter().enumerate() {
            let p = |k| vec![Key("write"), Key("steps"), Index(i), Key(k)];
            let kind = step.kind;
            if kind != StepKind::Compensatable && w.protocol != Protocol::Saga {
                self.problem(
                    p("kind"),
                    format!("kind = {:?} applies to saga steps only", kind.name()),
                    Some("remove it, or set [write] protocol = \"saga\"".into()),
                );
                continue;
            }
            if kind != StepKind::Compensatable
                && w.countermeasure == crate::scenario::Countermeasure::PessimisticView
            {
                self.problem(
                    p("kind"),
                    "countermeasure = \"pessimistic-view\" reorders the steps, which step kinds forbid",
                    Some("with a pivot, order the steps yourself: refusable first, scarce last".into()),
                );
            }
            match (last, kind) {
                (StepKind::Pivot, StepKind::Pivot) => self.problem(
                    p("kind"),
                    "a saga has at most one pivot step",
                    Some("the steps after the pivot are retriable: kind = \"retriable\"".into()),
                ),
                (StepKind::Pivot | StepKind::Retriable, StepKind::Compensatable) => self.problem(
                    p("service"),
                    format!(
                        "step {i} ({}) is compensatable but comes after the pivot: after the pivot a saga only goes forward",
                        step.service
                    ),
                    Some("give it kind = \"retriable\", or move it before the pivot".into()),
                ),
                (StepKind::Retriable, StepKind::Pivot) => self.problem(
                    p("kind"),
                    "the pivot comes after a retriable step; retriable steps follow the pivot",
                    Some("move the pivot before the retriable steps".into()),
                ),
                _ => {}
            }
            if kind == StepKind::Retriable {
                if step.reject > 0.0 {
                    self.problem(
                        p("reject"),
                        format!(
                            "a retriable step cannot be refused, but step {i} ({}) has reject = {}",
                            step.service, step.reject
                        ),
                        Some("set reject = 0, or make it the pivot or a compensatable step before it".into()),
                    );
                }
                let capacity = s
                    .services
                    .iter()
                    .find(|x| x.name == step.service)
                    .map_or(i64::MAX, |x| x.capacity);
                let demand = i128::from(step.amount) * i128::from(w.transactions);
                if i128::from(capacity) < demand {
                    self.problem(
                        p("amount"),
                        format!(
                            "a retriable step must always find its units: {} has capacity {capacity}, \
                             {} transactions of {} need {demand}",
                            step.service, w.transactions, step.amount
                        ),
                        Some(format!("raise {}'s capacity to at least {demand}", step.service)),
                    );
                }
            }
            last = last.max(kind);
        }
    }

    /// An arrival rate: positive and finite.
    fn rate(&mut self, path: Vec<PathPart>, rate: f64) {
        if !rate.is_finite() || rate <= 0.0 || rate > 1_000_000.0 {
            self.problem(
                path,
                format!("arrival_rate_per_s must be above 0 and at most 1000000, found {rate}"),
                Some("it is how many start per virtual second on average, e.g. 200".into()),
            );
        }
    }

    /// `key` of `[section]` set beside `arrival_rate_per_s`.
    fn open_loop_conflict(&mut self, section: &'static str, key: &'static str) {
        self.problem(
            vec![Key(section), Key(key)],
            format!("{key} and arrival_rate_per_s both set how [{section}] starts its work"),
            Some(format!(
                "keep one: arrival_rate_per_s is an open loop (Poisson starts, no limit in \
                 flight), {key} a closed one"
            )),
        );
    }

    fn read(&mut self, s: &Scenario) {
        let Some(r) = &s.read else { return };
        if let Some(rate) = r.arrival_rate_per_s {
            self.rate(vec![Key("read"), Key("arrival_rate_per_s")], rate);
        }
        for (i, src) in r.sources.iter().enumerate() {
            self.service_ref(s, vec![Key("read"), Key("sources"), Index(i)], src);
        }
        if r.queries > s.limits.max_transactions {
            self.problem(
                vec![Key("read"), Key("queries")],
                format!(
                    "{} queries is above the limit of {}",
                    r.queries, s.limits.max_transactions
                ),
                Some("raise [limits] max_transactions if you mean it".into()),
            );
        }
        self.period(
            vec![Key("read"), Key("interval_ms")],
            "interval_ms",
            r.interval_ms,
        );
        self.period(
            vec![Key("read"), Key("timeout_ms")],
            "timeout_ms",
            r.timeout_ms,
        );
        if r.timeout_ms == 0 {
            self.problem(
                vec![Key("read"), Key("timeout_ms")],
                "timeout_ms must be at least 1",
                None,
            );
        }
        if r.method == ReadMethod::CqrsView {
            if !valid_name(&r.view) || reserved(&r.view) {
                self.problem(
                    vec![Key("read"), Key("view")],
                    format!("view {:?} must be a free node name [a-z][a-z0-9-]*", r.view),
                    None,
                );
            } else if s.services.iter().any(|x| x.name == r.view) {
                self.problem(
                    vec![Key("read"), Key("view")],
                    format!("view {:?} has the name of a service", r.view),
                    Some("a read view is a node of its own; name it e.g. \"order-history\"".into()),
                );
            }
        }
        if s.write.is_none() {
            self.problem(
                vec![Key("read")],
                "[read] needs a [write] section: reads look at the business transactions",
                Some("add a [write] section with protocol and steps".into()),
            );
        }
    }

    /// An unknown node in a partition group: the hint lists every node a group may
    /// hold, the client included.
    fn partition_member(&mut self, path: Vec<PathPart>, name: &str, targets: &[&str]) {
        let mut accepted = targets.to_vec();
        accepted.push(CLIENT);
        let hint = did_you_mean(name, &accepted)
            .map(|n| {
                format!(
                    "did you mean {n:?}? (a group may hold: {})",
                    accepted.join(", ")
                )
            })
            .or_else(|| Some(format!("a group may hold: {}", accepted.join(", "))));
        self.problem(path, format!("unknown node {name:?}"), hint);
    }

    /// `[write]` keys set in the file that mean nothing under its protocol (the model
    /// fills them with defaults, so only the text tells whether the user wrote them).
    pub fn keys_that_do_not_apply(&mut self, s: &Scenario, text: &str) {
        let Some(w) = &s.write else { return };
        let Ok(doc) = toml_edit::ImDocument::parse(text) else {
            return;
        };
        // An open loop beside a closed-loop key the file sets to its default value
        // (a different value is caught by `validate`).
        for (section, rate, keys) in [
            (
                "write",
                w.arrival_rate_per_s.is_some(),
                [
                    ("concurrency", w.concurrency == 1),
                    ("interval_ms", w.interval_ms == 0),
                ],
            ),
            (
                "read",
                s.read
                    .as_ref()
                    .is_some_and(|r| r.arrival_rate_per_s.is_some()),
                [("interval_ms", true), ("interval_ms", false)],
            ),
        ] {
            let Some(t) = doc.get(section).and_then(|i| i.as_table_like()) else {
                continue;
            };
            for (key, default_valued) in keys {
                if rate && default_valued && t.contains_key(key) {
                    self.open_loop_conflict(section, key);
                }
            }
        }
        let Some(table) = doc.get("write").and_then(|i| i.as_table_like()) else {
            return;
        };
        for (key, needs) in crate::scenario::PROTOCOL_KEYS {
            if w.protocol != needs && table.contains_key(key) {
                self.problem(
                    vec![Key("write"), Key(key)],
                    format!(
                        "{key} does not apply to protocol = \"{}\"",
                        w.protocol.name()
                    ),
                    Some(format!(
                        "{key} is about {}: remove it, or set protocol = \"{}\"",
                        needs.name(),
                        needs.name()
                    )),
                );
            }
        }
    }

    /// `[explore] crashable` names nodes a fault could target.
    fn explore(&mut self, s: &Scenario, nodes: &[String]) {
        let Some(crashable) = s.explore.as_ref().and_then(|e| e.crashable.as_ref()) else {
            return;
        };
        let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
        for (i, name) in crashable.iter().enumerate() {
            let path = vec![Key("explore"), Key("crashable"), Index(i)];
            if name == CLIENT {
                self.problem(
                    path,
                    "the client cannot crash",
                    Some("the client stands for the outside world; name a service".into()),
                );
            } else if !names.contains(&name.as_str()) {
                let hint = did_you_mean(name, &names)
                    .map(|n| format!("did you mean {n:?}?"))
                    .or_else(|| Some(format!("the nodes are: {}", names.join(", "))));
                self.problem(path, format!("unknown node {name:?}"), hint);
            }
        }
    }

    /// Each `[[fault]]` is placed once: at a time (`at_ms`) or at a protocol step
    /// (`after`). `at_ms` has a default in the model, so only the text tells whether
    /// the file wrote it.
    fn fault_placement(&mut self, s: &Scenario, text: &str) {
        let Ok(doc) = toml_edit::ImDocument::parse(text) else {
            return;
        };
        let Some(tables) = doc.get("fault").and_then(|i| i.as_array_of_tables()) else {
            return;
        };
        for (i, t) in tables.iter().enumerate() {
            let (at, after) = (t.contains_key("at_ms"), t.contains_key("after"));
            if at && after {
                self.problem(
                    vec![Key("fault"), Index(i), Key("after")],
                    "at_ms and after both place this fault",
                    Some(
                        "keep one: at_ms is a time, after a protocol step (the fault fires \
                         right after the handler that recorded that event)"
                            .into(),
                    ),
                );
            } else if !at && !after && s.faults.get(i).is_some() {
                self.problem(
                    vec![Key("fault"), Index(i)],
                    "a [[fault]] needs at_ms or after",
                    Some(
                        "at_ms = 120 places it at a time; after = { node = \"coordinator\", \
                         event = \"deliver\", msg = \"vote\" } right after a protocol step"
                            .into(),
                    ),
                );
            }
        }
    }

    /// A fault's `after`: a known node, trace kind and message kind, a count from 1,
    /// and durations relative to the firing.
    fn trigger(&mut self, f: &Fault, i: usize, names: &[&str]) {
        let Some(a) = &f.after else { return };
        let p = |k| vec![Key("fault"), Index(i), Key("after"), Key(k)];
        let mut nodes = names.to_vec();
        nodes.push(CLIENT);
        if !nodes.contains(&a.node.as_str()) {
            let hint = did_you_mean(&a.node, &nodes)
                .map(|n| format!("did you mean {n:?}? (the nodes are: {})", nodes.join(", ")))
                .or_else(|| Some(format!("the nodes are: {}", nodes.join(", "))));
            self.problem(p("node"), format!("unknown node {:?}", a.node), hint);
        }
        if !EVENT_KINDS.contains(&a.event.as_str()) {
            let hint = did_you_mean(&a.event, &EVENT_KINDS)
                .map(|n| format!("did you mean {n:?}? (a trace kind)"))
                .or_else(|| Some(format!("the trace kinds are: {}", EVENT_KINDS.join(", "))));
            self.problem(
                p("event"),
                format!("unknown event kind {:?}", a.event),
                hint,
            );
        }
        if let Some(m) = &a.msg {
            let kinds: Vec<&str> = MsgKind::ALL.iter().map(|k| k.name()).collect();
            if !kinds.contains(&m.as_str()) {
                let hint = did_you_mean(m, &kinds)
                    .map(|n| format!("did you mean {n:?}?"))
                    .or_else(|| Some(format!("the message kinds are: {}", kinds.join(", "))));
                self.problem(p("msg"), format!("unknown message kind {m:?}"), hint);
            } else if EVENT_KINDS.contains(&a.event.as_str())
                && !MSG_EVENT_KINDS.contains(&a.event.as_str())
            {
                self.problem(
                    p("msg"),
                    format!(
                        "a {:?} event carries no message, so msg never matches",
                        a.event
                    ),
                    Some(format!(
                        "msg filters {}; remove msg, or use event = \"deliver\"",
                        MSG_EVENT_KINDS.join(", ")
                    )),
                );
            }
        }
        if a.count == 0 {
            self.problem(
                p("count"),
                "count must be at least 1",
                Some("count = 1 (the default) fires at the first matching event".into()),
            );
        }
        for (key, set) in [
            ("heal_ms", f.heal_ms.is_some()),
            ("until_ms", f.until_ms.is_some()),
        ] {
            if set {
                self.problem(
                    vec![Key("fault"), Index(i), Key(key)],
                    format!("{key} is an absolute time, and this fault is placed by after"),
                    Some("write for_ms = ... : a duration from the moment it fires".into()),
                );
            }
        }
    }

    fn faults(&mut self, s: &Scenario, nodes: &[String]) {
        let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
        let node_ref = |v: &mut Validator, path: Vec<PathPart>, name: &str| {
            if name == CLIENT {
                v.problem(
                    path,
                    "faults cannot target the client",
                    Some("the client stands for the outside world; crash a service instead".into()),
                );
            } else if !names.contains(&name) {
                let hint = did_you_mean(name, &names)
                    .map(|n| format!("did you mean {n:?}?"))
                    .or_else(|| Some(format!("the nodes are: {}", names.join(", "))));
                v.problem(path, format!("unknown node {name:?}"), hint);
            }
        };
        for (i, f) in s.faults.iter().enumerate() {
            let p = |k| vec![Key("fault"), Index(i), Key(k)];
            self.trigger(f, i, &names);
            let Some(kind) = f.kind() else {
                let set: Vec<&str> = [
                    ("crash", f.crash.is_some()),
                    ("partition", f.partition.is_some()),
                    ("loss", f.loss.is_some()),
                ]
                .into_iter()
                .filter_map(|(n, on)| on.then_some(n))
                .collect();
                let message = if set.is_empty() {
                    "a [[fault]] needs one of crash, partition or loss".to_string()
                } else {
                    format!(
                        "a [[fault]] is one fault; this one sets {}",
                        set.join(" and ")
                    )
                };
                self.problem(
                    vec![Key("fault"), Index(i)],
                    message,
                    Some("write one [[fault]] table per fault".into()),
                );
                continue;
            };
            let stray = |v: &mut Validator, key: &'static str, present: bool, owner: &str| {
                if present {
                    v.problem(
                        p(key),
                        format!("{key} belongs to a {owner} fault"),
                        Some(format!("add {owner} = ... or remove {key}")),
                    );
                }
            };
            match kind {
                FaultKind::Crash { node, .. } => {
                    node_ref(self, p("crash"), node);
                    stray(self, "heal_ms", f.heal_ms.is_some(), "partition");
                    stray(self, "until_ms", f.until_ms.is_some(), "loss");
                    stray(self, "link", f.link.is_some(), "loss");
                    if f.for_ms.is_some() {
                        self.problem(
                            p("for_ms"),
                            "for_ms belongs to a partition or loss fault",
                            Some("a crash lasts restart_ms: write restart_ms = ...".into()),
                        );
                    }
                }
                FaultKind::Partition { groups, heal_ms } => {
                    stray(self, "restart_ms", f.restart_ms.is_some(), "crash");
                    stray(self, "until_ms", f.until_ms.is_some(), "loss");
                    stray(self, "link", f.link.is_some(), "loss");
                    self.one_end(f, i, "heal_ms", f.heal_ms.is_some());
                    if groups.len() < 2 {
                        self.problem(
                            p("partition"),
                            "a partition needs at least two groups",
                            Some("partition = [[\"orders\"], [\"payments\"]]".into()),
                        );
                    }
                    let mut seen = BTreeSet::new();
                    for (g, group) in groups.iter().enumerate() {
                        if group.is_empty() {
                            self.problem(
                                vec![Key("fault"), Index(i), Key("partition"), Index(g)],
                                "a partition group must not be empty",
                                None,
                            );
                        }
                        for (j, name) in group.iter().enumerate() {
                            let path =
                                vec![Key("fault"), Index(i), Key("partition"), Index(g), Index(j)];
                            // The client may be placed in a group: it is not a fault on it.
                            if name != CLIENT && !names.contains(&name.as_str()) {
                                self.partition_member(path.clone(), name, &names);
                            }
                            if !seen.insert(name.as_str()) {
                                self.problem(
                                    path,
                                    format!("{name:?} is in two partition groups"),
                                    None,
                                );
                            }
                        }
                    }
                    if let Some(h) = heal_ms {
                        if h < f.at_ms {
                            self.problem(
                                p("heal_ms"),
                                format!("heal_ms {h} is before at_ms {}", f.at_ms),
                                Some("heal_ms is an absolute time, like at_ms".into()),
                            );
                        }
                    }
                }
                FaultKind::Loss {
                    p: prob,
                    until_ms,
                    link,
                } => {
                    stray(self, "restart_ms", f.restart_ms.is_some(), "crash");
                    stray(self, "heal_ms", f.heal_ms.is_some(), "partition");
                    self.one_end(f, i, "until_ms", f.until_ms.is_some());
                    self.probability(p("loss"), "loss", prob);
                    if let Some(u) = until_ms {
                        if u < f.at_ms {
                            self.problem(
                                p("until_ms"),
                                format!("until_ms {u} is before at_ms {}", f.at_ms),
                                Some("until_ms is an absolute time, like at_ms".into()),
                            );
                        }
                    }
                    if let Some([a, b]) = link {
                        for (j, name) in [a, b].into_iter().enumerate() {
                            let path = vec![Key("fault"), Index(i), Key("link"), Index(j)];
                            if name != CLIENT {
                                node_ref(self, path, name);
                            }
                        }
                        if a == b {
                            self.problem(p("link"), "a link joins two different nodes", None);
                        }
                    }
                }
            }
        }
    }

    fn expect(&mut self, s: &Scenario) {
        let Some(e) = &s.expect else { return };
        for (key, list) in [
            ("holds", &e.holds),
            ("violated", &e.violated),
            ("sometimes", &e.sometimes),
        ] {
            for (i, name) in list.iter().enumerate() {
                if !INVARIANTS.contains(&name.as_str()) {
                    let hint = did_you_mean(name, &INVARIANTS)
                        .map(|n| format!("did you mean {n:?}?"))
                        .or_else(|| Some(format!("the invariants are: {}", INVARIANTS.join(", "))));
                    self.problem(
                        vec![Key("expect"), Key(key), Index(i)],
                        format!("unknown invariant {name:?}"),
                        hint,
                    );
                } else if !crate::check::applies(s, name) {
                    self.problem(
                        vec![Key("expect"), Key(key), Index(i)],
                        format!("invariant {name:?} does not apply to this scenario"),
                        Some(crate::check::applies_hint(name).into()),
                    );
                }
            }
        }
        for (i, name) in e.violated.iter().enumerate() {
            if e.holds.contains(name) {
                self.problem(
                    vec![Key("expect"), Key("violated"), Index(i)],
                    format!("{name:?} is expected both to hold and to be violated"),
                    None,
                );
            }
        }
        self.sometimes_is_alone(e);
    }

    /// A `sometimes` invariant is in no other list: "holds" contradicts it and
    /// "violated" (broken on every seed) already says more.
    fn sometimes_is_alone(&mut self, e: &crate::scenario::Expect) {
        for (i, name) in e.sometimes.iter().enumerate() {
            let other = if e.holds.contains(name) {
                "holds"
            } else if e.violated.contains(name) {
                "violated"
            } else {
                continue;
            };
            self.problem(
                vec![Key("expect"), Key("sometimes"), Index(i)],
                format!("{name:?} is in both `sometimes` and `{other}`"),
                Some(
                    "holds: never broken; violated: broken on every seed; sometimes: broken on at least one seed of a sweep"
                        .into(),
                ),
            );
        }
    }
}

/// `[a-z][a-z0-9-]*`
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && name.len() <= 64
}

/// The names `[nodes.NAME]` accepts: every node of the layout that is not a service
/// or the client, and the lab's fixed `database` and `coordinator` whatever the protocol
/// (ignored where there is no such node, so one file can be swept over protocols).
pub fn node_table_names(s: &Scenario) -> Vec<String> {
    let mut names = vec![
        crate::scenario::DATABASE.to_string(),
        crate::scenario::COORDINATOR.to_string(),
    ];
    for n in s.fault_targets() {
        if !s.services.iter().any(|x| x.name == n) && !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

fn reserved(name: &str) -> bool {
    name == CLIENT
}
