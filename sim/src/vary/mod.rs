//! Sweeps over a parameter (`sovlab sweep FILE --vary KEY=..`): one row per
//! combination of the varied values, each a sweep over the same seeds, summarized as
//! what the pattern costs (throughput, latency, availability, the busiest node) and
//! what it broke (per invariant, on how many seeds). docs/reference/vary.md.
//!
//! Each combination is applied to the scenario's TOML document ([`path::set`]) and
//! the result loaded by the ordinary scenario loader, so every rule of the file format
//! still applies to a varied value; the seeds run through [`crate::sweep`].

pub mod path;
mod rows;
pub mod spec;

pub use rows::{measures, run, to_csv, to_json, to_text, Busiest, Plan, Row, Side};
pub use spec::{parse, Vary};
/// A varied value, as TOML types it.
pub use toml_edit::Value;

use crate::scenario::{LimitOverrides, Scenario};
use toml_edit::DocumentMut;

/// A bad `--vary`: what is wrong and how to fix it (exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct VaryError {
    /// What is wrong, naming the `--vary`.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl VaryError {
    /// An error with a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> VaryError {
        VaryError {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// One combination: a value for every varied key, in the order the keys were given.
pub type Params = Vec<(String, Value)>;

/// The cartesian product of the values, the first key varying slowest.
pub fn combinations(varies: &[Vary]) -> Vec<Params> {
    let mut all: Vec<Params> = vec![Vec::new()];
    for v in varies {
        all = all
            .into_iter()
            .flat_map(|p| {
                v.values.iter().map(move |x| {
                    let mut p = p.clone();
                    p.push((v.key.clone(), x.clone()));
                    p
                })
            })
            .collect()
    }
    all
}

/// The scenario `text` (labelled `file`) with `params` applied, loaded and validated.
pub fn apply(
    text: &str,
    file: &str,
    params: &Params,
    overrides: &LimitOverrides,
) -> Result<Scenario, VaryError> {
    let mut doc: DocumentMut = text.parse().map_err(|e| {
        VaryError::new(
            format!("{file}: not valid TOML: {e}"),
            "check the file alone: sovlab check FILE",
        )
    })?;
    for (key, value) in params {
        path::set(&mut doc, key, value)?;
    }
    let edited = doc.to_string();
    let with: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", spec::show(v)))
        .collect();
    Scenario::parse_with(&edited, file, overrides).map_err(|e| explain(e, &with.join(" ")))
}

/// A loader error on a varied document, told as an error of the `--vary`: an unknown
/// key lists the keys its table has (from the loader's own list).
fn explain(e: crate::ScenarioError, with: &str) -> VaryError {
    if let Some(rest) = e.message.strip_prefix("unknown field `") {
        let (found, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let keys: Vec<&str> = expected
            .split('`')
            .enumerate()
            .filter_map(|(i, s)| (i % 2 == 1).then_some(s))
            .collect();
        let guess = crate::did_you_mean(found, &keys)
            .map(|g| format!("did you mean {g}? "))
            .unwrap_or_default();
        return VaryError::new(
            format!("--vary {with}: the scenario has no key {found:?} there"),
            format!("{guess}valid keys there: {}", keys.join(", ")),
        );
    }
    let at = if e.line == 0 {
        e.file.clone()
    } else {
        format!("{}:{}:{}", e.file, e.line, e.column)
    };
    VaryError {
        message: format!("--vary {with}: {at} (as varied): {}", e.message),
        hint: e.hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAGA: &str = include_str!("../../../scenarios/saga-isolation.toml");

    fn params(specs: &[&str]) -> Vec<Params> {
        let v: Vec<Vary> = specs.iter().map(|s| parse(s).unwrap()).collect();
        combinations(&v)
    }

    #[test]
    fn the_product_keeps_the_order_given() {
        let c = params(&["a.x=1,2", "b.y=p,q,r"]);
        let shown: Vec<String> = c
            .iter()
            .map(|p| {
                p.iter()
                    .map(|(k, v)| format!("{k}={}", spec::show(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            shown,
            [
                "a.x=1 b.y=p",
                "a.x=1 b.y=q",
                "a.x=1 b.y=r",
                "a.x=2 b.y=p",
                "a.x=2 b.y=q",
                "a.x=2 b.y=r"
            ]
        );
        assert_eq!(
            params(&[]).len(),
            1,
            "no key: one row, the scenario as written"
        );
    }

    #[test]
    fn a_varied_value_goes_through_the_loader() {
        let o = LimitOverrides::default();
        let s = apply(SAGA, "f.toml", &params(&["write.transactions=7"])[0], &o).unwrap();
        assert_eq!(s.write.unwrap().transactions, 7);

        let e = apply(SAGA, "f.toml", &params(&["write.transactions=lots"])[0], &o).unwrap_err();
        assert!(
            e.message
                .starts_with("--vary write.transactions=lots: f.toml:"),
            "{e}"
        );
        assert!(e.message.contains("expected a whole number"), "{e}");

        let e = apply(SAGA, "f.toml", &params(&["write.protocl=saga"])[0], &o).unwrap_err();
        assert!(e.message.contains("no key \"protocl\" there"), "{e}");
        let hint = e.hint.unwrap();
        assert!(
            hint.starts_with("did you mean protocol? valid keys there: "),
            "{hint}"
        );
        assert!(hint.contains("transactions"), "{hint}");

        let e = apply(SAGA, "f.toml", &params(&["write.protocol=3pc"])[0], &o).unwrap_err();
        assert!(e.message.contains("unknown variant"), "{e}");
    }
}
