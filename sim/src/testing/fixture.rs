//! One builder for the scenario fixtures tests write by hand: the services, the
//! `[write]` knobs, the steps and any further sections, as TOML text or a parsed
//! [`Scenario`]. Tests vary a knob or two of one shape; writing that shape once keeps
//! each test down to what it varies.

use crate::scenario::Scenario;

/// A scenario fixture under construction; [`Fixture::toml`] writes it out.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The scenario's name.
    name: String,
    /// Raw lines after the name, before the services (`duration_ms`, `[network]`).
    head: Vec<String>,
    /// The service names, in node order, each with its raw lines (`capacity = 10`).
    services: Vec<(String, Vec<String>)>,
    /// The protocol named in `[write]`.
    protocol: String,
    /// Raw lines under `[write]`, before `steps`, in the order they were added.
    write: Vec<String>,
    /// Each step's fields after its service (`amount = 2`), one per service.
    steps: Vec<(String, String)>,
    /// Raw text after the `[write]` table (`[read]`, `[network]`, `[faults]`...).
    tail: Vec<String>,
}

impl Fixture {
    /// Three services (orders, inventory, payments) under `protocol`, one step each.
    pub fn new(protocol: &str) -> Self {
        Fixture {
            name: "t".to_string(),
            head: Vec::new(),
            services: Vec::new(),
            protocol: protocol.to_string(),
            write: Vec::new(),
            steps: Vec::new(),
            tail: Vec::new(),
        }
        .services(&["orders", "inventory", "payments"])
    }

    /// Replaces the services with `names`, one plain step on each, in order.
    pub fn services(mut self, names: &[&str]) -> Self {
        self.services = names.iter().map(|n| (n.to_string(), Vec::new())).collect();
        self.steps = names
            .iter()
            .map(|n| (n.to_string(), String::new()))
            .collect();
        self
    }

    /// Replaces the steps with one plain step on each of `names`, in order (a service
    /// left out has no step: one the read side only queries).
    pub fn steps(mut self, names: &[&str]) -> Self {
        self.steps = names
            .iter()
            .map(|n| (n.to_string(), String::new()))
            .collect();
        self
    }

    /// Renames the scenario (`t` by default).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Adds raw text as one line before the services (`duration_ms = 5000`, a
    /// `[network]` table).
    pub fn head(mut self, raw: &str) -> Self {
        self.head.push(raw.to_string());
        self
    }

    /// Adds a raw line to service `i`'s table (`capacity = 100`).
    pub fn service(mut self, i: usize, raw: &str) -> Self {
        self.services[i].1.push(raw.to_string());
        self
    }

    /// Adds `key = value` under `[write]`; `value` is raw TOML (quote strings yourself).
    pub fn set(self, key: &str, value: impl std::fmt::Display) -> Self {
        self.line(&format!("{key} = {value}"))
    }

    /// Adds raw text as one line under `[write]` (may be empty or hold several lines).
    pub fn line(mut self, raw: &str) -> Self {
        self.write.push(raw.to_string());
        self
    }

    /// Gives step `i` further fields, raw TOML after its service (`amount = 2`).
    pub fn step(mut self, i: usize, fields: &str) -> Self {
        self.steps[i].1 = fields.to_string();
        self
    }

    /// Appends raw text, then a newline, after the `[write]` table (a `[read]` section,
    /// faults).
    pub fn section(mut self, raw: &str) -> Self {
        self.tail.push(raw.to_string());
        self
    }

    /// The scenario's TOML text (named `t`).
    pub fn toml(&self) -> String {
        let mut s = format!("\nname = \"{}\"\n", self.name);
        for l in &self.head {
            s += l;
            s += "\n";
        }
        for (name, lines) in &self.services {
            s += &format!("[[service]]\nname = \"{name}\"\n");
            for l in lines {
                s += l;
                s += "\n";
            }
        }
        s += &format!("[write]\nprotocol = \"{}\"\n", self.protocol);
        for l in &self.write {
            s += l;
            s += "\n";
        }
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|(svc, f)| match f.as_str() {
                "" => format!("{{ service = \"{svc}\" }}"),
                f => format!("{{ service = \"{svc}\", {f} }}"),
            })
            .collect();
        s += &format!("steps = [{}]\n", steps.join(", "));
        for t in &self.tail {
            s += t;
            s += "\n";
        }
        s
    }

    /// The parsed scenario (as file `t.toml`); panics on a bad fixture, which is a bug
    /// in the test.
    pub fn scenario(&self) -> Scenario {
        Scenario::parse(&self.toml(), "t.toml")
            .unwrap_or_else(|e| panic!("bad test fixture: {e}\n{}", self.toml()))
    }
}

#[cfg(test)]
mod tests {
    use super::Fixture;

    #[test]
    fn writes_services_knobs_steps_and_sections_in_order() {
        let t = Fixture::new("two-phase-commit")
            .services(&["orders", "payments"])
            .set("timeout_ms", 50)
            .step(1, "amount = 2")
            .section("[read]\nmethod = \"cqrs\"")
            .toml();
        assert_eq!(
            t,
            "\nname = \"t\"\n[[service]]\nname = \"orders\"\n[[service]]\nname = \"payments\"\n\
             [write]\nprotocol = \"two-phase-commit\"\ntimeout_ms = 50\n\
             steps = [{ service = \"orders\" }, { service = \"payments\", amount = 2 }]\n\
             [read]\nmethod = \"cqrs\"\n"
        );
    }

    #[test]
    fn steps_may_leave_a_service_out() {
        let t = Fixture::new("saga")
            .services(&["orders", "audit"])
            .steps(&["orders"])
            .toml();
        assert!(t.contains("name = \"audit\"\n"), "{t}");
        assert!(t.ends_with("steps = [{ service = \"orders\" }]\n"), "{t}");
    }
}
