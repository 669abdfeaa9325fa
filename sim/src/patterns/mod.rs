//! The patterns: one module per protocol, each a set of sans-IO nodes (sagas,
//! two-phase commit, try-confirm-cancel, the shared database, and the read side).
//!
//! [`layout`] decides which nodes and stores a scenario has; [`build_node`] makes the
//! state machine of one node. Everything else about a protocol lives in its module.

pub mod api_composition;
pub mod client;
pub mod cqrs_view;
pub mod hosted;
pub mod read_side;
pub mod reliable;
pub mod row_lock;
pub mod saga;
pub mod shared_db;
pub mod step;
pub mod tcc;
pub mod two_pc;

use crate::msg::NodeIx;
use crate::node::Node;
use crate::scenario::{
    Coordination, Protocol, ReadMethod, Scenario, StoreKind, CLIENT, DATABASE, GATEWAY,
};
use crate::trace::{NodeInfo, Role, StoreInfo};

/// The nodes and stores of a scenario, by index.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Every node; the client is node 0.
    pub nodes: Vec<NodeInfo>,
    /// Every store; each node's stores are contiguous.
    pub stores: Vec<StoreInfo>,
    /// For each node, its store indices.
    pub node_stores: Vec<Vec<u16>>,
    /// Node names by index (for trace lines).
    pub node_names: Vec<String>,
    /// Store names by index (for trace lines).
    pub store_names: Vec<String>,
    /// For each service (scenario order), the node that holds its store.
    pub service_node: Vec<NodeIx>,
    /// For each service, its store index.
    pub service_store: Vec<u16>,
    /// The orchestrator / coordinator / shared-database app, if any.
    pub coordinator: Option<NodeIx>,
    /// The shared database, if any.
    pub database: Option<NodeIx>,
    /// The API-composition gateway, if any.
    pub gateway: Option<NodeIx>,
    /// The CQRS view node, if any.
    pub view: Option<NodeIx>,
    /// Fault-target names that are not node names (shared database: services).
    aliases: Vec<(String, NodeIx)>,
}

/// The client is always node 0.
pub const CLIENT_NODE: NodeIx = 0;

impl Layout {
    /// The node a fault naming `name` hits (never the client).
    pub fn target(&self, name: &str) -> Option<NodeIx> {
        if name == CLIENT {
            return None;
        }
        self.aliases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ix)| *ix)
            .or_else(|| self.node(name))
    }

    /// Like [`Layout::target`], but the client may be named (partition groups, links).
    pub fn target_or_client(&self, name: &str) -> Option<NodeIx> {
        if name == CLIENT {
            Some(CLIENT_NODE)
        } else {
            self.target(name)
        }
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<NodeIx> {
        self.node_names
            .iter()
            .position(|n| n == name)
            .map(|i| i as NodeIx)
    }

    /// The node of step `i`'s service.
    pub fn step_node(&self, s: &Scenario, step: usize) -> NodeIx {
        let w = s.write.as_ref().expect("a write section");
        self.service_node[service_index(s, &w.steps[step].service)]
    }

    fn add_node(&mut self, name: &str, role: Role) -> NodeIx {
        self.nodes.push(NodeInfo {
            name: name.to_string(),
            role,
        });
        self.node_names.push(name.to_string());
        self.node_stores.push(Vec::new());
        (self.nodes.len() - 1) as NodeIx
    }

    fn add_store(
        &mut self,
        node: NodeIx,
        name: &str,
        kind: StoreKind,
        capacity: i64,
        service: Option<usize>,
    ) -> u16 {
        let ix = self.stores.len() as u16;
        self.stores.push(StoreInfo {
            name: name.to_string(),
            node,
            kind,
            capacity,
            service,
        });
        self.store_names.push(name.to_string());
        self.node_stores[usize::from(node)].push(ix);
        ix
    }
}

/// Index of the service named `name` in `s.services`.
pub fn service_index(s: &Scenario, name: &str) -> usize {
    s.services
        .iter()
        .position(|x| x.name == name)
        .expect("validated: steps name known services")
}

/// Decides the nodes and stores of a (validated) scenario.
pub fn layout(s: &Scenario) -> Layout {
    let mut l = Layout {
        nodes: Vec::new(),
        stores: Vec::new(),
        node_stores: Vec::new(),
        node_names: Vec::new(),
        store_names: Vec::new(),
        service_node: Vec::new(),
        service_store: Vec::new(),
        coordinator: None,
        database: None,
        gateway: None,
        view: None,
        aliases: Vec::new(),
    };
    let client = l.add_node(CLIENT, Role::Client);
    debug_assert_eq!(client, CLIENT_NODE);
    let protocol = s.write.as_ref().map(|w| w.protocol);
    if protocol == Some(Protocol::SharedDatabase) {
        let w = s.write.as_ref().expect("write");
        let app = l.add_node(w.coordinator_name(), Role::Coordinator);
        l.coordinator = Some(app);
        let db = l.add_node(DATABASE, Role::Database);
        l.database = Some(db);
        for (i, svc) in s.services.iter().enumerate() {
            let st = l.add_store(db, &svc.name, svc.store, svc.capacity, Some(i));
            l.service_node.push(db);
            l.service_store.push(st);
            l.aliases.push((svc.name.clone(), db));
        }
        l.add_store(db, DATABASE, StoreKind::Relational, 0, None);
    } else {
        let host = s.write.as_ref().and_then(|w| {
            let orchestrated =
                !(w.protocol == Protocol::Saga && w.coordination == Coordination::Choreography);
            orchestrated.then(|| w.coordinator_name().to_string())
        });
        for (i, svc) in s.services.iter().enumerate() {
            let node = l.add_node(&svc.name, Role::Service);
            let st = l.add_store(node, &svc.name, svc.store, svc.capacity, Some(i));
            l.service_node.push(node);
            l.service_store.push(st);
            if host.as_deref() == Some(svc.name.as_str()) {
                // The coordinator runs on this service's node, with a log of its own.
                l.coordinator = Some(node);
                let name = format!("{}-coordinator", svc.name);
                l.add_store(node, &name, log_kind(s, s.publish_of(i)), 0, None);
            }
        }
        if let (Some(name), None) = (&host, l.coordinator) {
            let node = l.add_node(name, Role::Coordinator);
            l.coordinator = Some(node);
            let publish = s.write.as_ref().map(|w| w.publish).unwrap_or_default();
            l.add_store(node, name, log_kind(s, publish), 0, None);
        }
    }
    if let Some(r) = &s.read {
        match r.method {
            ReadMethod::ApiComposition => l.gateway = Some(l.add_node(GATEWAY, Role::Gateway)),
            ReadMethod::CqrsView => {
                let v = l.add_node(&r.view, Role::View);
                l.add_store(v, &r.view, StoreKind::Document, 0, None);
                l.view = Some(v);
            }
        }
    }
    l
}

/// The kind of an orchestrator's log: an event log when the orchestrator publishes by
/// event sourcing (its log is then also what its relay publishes from), else relational.
fn log_kind(s: &Scenario, publish: crate::scenario::Publish) -> StoreKind {
    let saga = s.write.as_ref().map(|w| w.protocol) == Some(Protocol::Saga);
    if saga && publish == crate::scenario::Publish::EventSourcing {
        StoreKind::EventLog
    } else {
        StoreKind::Relational
    }
}

/// Builds the state machine of node `ix`.
pub fn build_node(s: &Scenario, l: &Layout, ix: NodeIx) -> Box<dyn Node> {
    let role = l.nodes[usize::from(ix)].role;
    let protocol = s.write.as_ref().map(|w| w.protocol);
    let node: Box<dyn Node> = match (role, protocol) {
        (Role::Client, _) => Box::new(client::Client::new(s, l)),
        (Role::Database, _) => Box::new(shared_db::Database::new(s, l)),
        (Role::Coordinator, Some(Protocol::SharedDatabase)) => Box::new(shared_db::App::new(s, l)),
        (Role::Coordinator | Role::Service, Some(Protocol::Saga)) => saga::build(s, l, ix),
        (Role::Coordinator | Role::Service, Some(Protocol::TwoPhaseCommit)) => {
            two_pc::build(s, l, ix)
        }
        (Role::Coordinator | Role::Service, Some(Protocol::TryConfirmCancel)) => {
            tcc::build(s, l, ix)
        }
        (Role::Gateway, _) => api_composition::build(s, l, ix),
        (Role::View, _) => cqrs_view::build(s, l, ix),
        (Role::Service | Role::Coordinator, _) => Box::new(Idle),
    };
    // Nodes that hold service stores answer queries and feed views, whatever protocol.
    match role {
        Role::Service | Role::Database => read_side::wrap(s, l, ix, node),
        _ => node,
    }
}

/// A node with nothing to do (a service of a scenario without writes).
#[derive(Debug, Default)]
pub struct Idle;

impl Node for Idle {
    fn on_start(&mut self, _cx: &mut crate::node::Cx) {}
    fn on_message(&mut self, _cx: &mut crate::node::Cx, _from: NodeIx, _msg: crate::msg::Msg) {}
    fn on_timer(&mut self, _cx: &mut crate::node::Cx, _timer: u64) {}
    fn busy(&self) -> bool {
        false
    }
}
