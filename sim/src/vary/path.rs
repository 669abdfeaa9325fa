//! Setting a value at a dotted key in the scenario's TOML document, keeping everything
//! else (comments, order, formatting) as written.
//!
//! A segment names a table key; in a list (`[[service]]`, `[[fault]]`, `steps`) it is
//! a 0-based index or the `name` (or `service`) of an element: `service.inventory.workers`
//! is the `workers` of the `[[service]]` named inventory. A missing table on the way is
//! created (`nodes.database.workers` on a file without `[nodes]`), except `[write]` and
//! `[read]`, whose absence is the scenario's point. Whether a key exists is left to
//! the scenario loader, which knows every key (see [`super::explain`]).

use super::VaryError;
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

/// Where the walk is: something with keys, a list of tables, a list of values, or a
/// plain value (which has no parts below it).
enum At<'a> {
    Keys(&'a mut dyn TableLike),
    Tables(&'a mut ArrayOfTables),
    Values(&'a mut Array),
    Leaf,
}

impl<'a> At<'a> {
    fn of_item(item: &'a mut Item) -> At<'a> {
        match item {
            Item::ArrayOfTables(a) => At::Tables(a),
            Item::Value(v) => At::of_value(v),
            Item::Table(t) => At::Keys(t),
            Item::None => At::Leaf,
        }
    }

    fn of_value(v: &'a mut Value) -> At<'a> {
        match v {
            Value::Array(a) => At::Values(a),
            Value::InlineTable(t) => At::Keys(t),
            _ => At::Leaf,
        }
    }
}

/// Sets `key` to `value` in `doc`.
pub fn set(doc: &mut DocumentMut, key: &str, value: &Value) -> Result<(), VaryError> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().expect("split yields one part at least");
    let mut at = At::Keys(doc.as_table_mut());
    let mut walked: Vec<&str> = Vec::new();
    for part in path {
        at = step(at, part, &walked, key)?;
        walked.push(part);
    }
    put(at, last, value, &walked, key)
}

/// The dotted path walked so far, for messages.
fn place(walked: &[&str]) -> String {
    if walked.is_empty() {
        "the top level".into()
    } else {
        walked.join(".")
    }
}

/// One step down by `part`.
fn step<'a>(at: At<'a>, part: &str, walked: &[&str], key: &str) -> Result<At<'a>, VaryError> {
    let top = walked.is_empty();
    match at {
        At::Keys(t) => {
            if t.get(part).is_none() {
                if top && ["write", "read"].contains(&part) {
                    return Err(VaryError::new(
                        format!("--vary {key}: the scenario has no [{part}] section to vary"),
                        format!("add a [{part}] section to the scenario first"),
                    ));
                }
                if top && ["service", "fault"].contains(&part) {
                    return Err(VaryError::new(
                        format!("--vary {key}: the scenario has no [[{part}]]"),
                        "vary a key of an element that exists",
                    ));
                }
                // A table that is only a prefix (`[nodes]` of `[nodes.database]`)
                // is not written on a line of its own.
                let mut new = Table::new();
                new.set_implicit(true);
                t.insert(part, Item::Table(new));
            }
            Ok(At::of_item(
                t.get_mut(part).expect("present or just inserted"),
            ))
        }
        At::Tables(a) => {
            let names: Vec<String> = a.iter().map(|t| element_name(t)).collect();
            let i = index_of(part, &names).ok_or_else(|| no_element(part, walked, &names, key))?;
            Ok(At::Keys(a.get_mut(i).expect("index in range")))
        }
        At::Values(a) => {
            let names = value_names(a);
            let i = index_of(part, &names).ok_or_else(|| no_element(part, walked, &names, key))?;
            Ok(At::of_value(a.get_mut(i).expect("index in range")))
        }
        At::Leaf => Err(leaf(walked, key)),
    }
}

fn leaf(walked: &[&str], key: &str) -> VaryError {
    VaryError::new(
        format!(
            "--vary {key}: {} is a value, not a table or a list",
            place(walked)
        ),
        "the parts of a key before its last name tables or list elements",
    )
}

/// The name of a list element: its `name`, else its `service` (a step).
/// The names of an array's inline tables, "" for an element that is none.
fn value_names(a: &toml_edit::Array) -> Vec<String> {
    a.iter()
        .map(|v| {
            v.as_inline_table()
                .map_or_else(String::new, |t| element_name(t))
        })
        .collect()
}

fn element_name(t: &dyn TableLike) -> String {
    t.get("name")
        .or_else(|| t.get("service"))
        .and_then(Item::as_str)
        .unwrap_or("")
        .to_string()
}

/// A 0-based index, or the first element of that name.
fn index_of(part: &str, names: &[String]) -> Option<usize> {
    match part.parse::<usize>() {
        Ok(i) => (i < names.len()).then_some(i),
        Err(_) => names.iter().position(|n| n == part),
    }
}

fn no_element(part: &str, walked: &[&str], names: &[String], key: &str) -> VaryError {
    let list = place(walked);
    let named: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .collect();
    let hint = if named.is_empty() {
        format!("{list} has {} element(s): index them from 0", names.len())
    } else {
        let guess = crate::did_you_mean(part, &named)
            .map(|g| format!("did you mean {g}? "))
            .unwrap_or_default();
        format!(
            "{guess}{list} has: {} (or index them from 0)",
            named.join(", ")
        )
    };
    VaryError::new(format!("--vary {key}: no {list} named {part:?}"), hint)
}

/// Sets `last` in `at` to `value`, keeping the comments around the old value.
fn put(at: At<'_>, last: &str, value: &Value, walked: &[&str], key: &str) -> Result<(), VaryError> {
    let mut value = value.clone();
    match at {
        At::Keys(t) => {
            match t.get_mut(last) {
                Some(Item::Value(old)) => {
                    *value.decor_mut() = old.decor().clone();
                    *old = value;
                }
                Some(_) => {
                    return Err(VaryError::new(
                        format!("--vary {key}: {} is a table or a list, not a value", key),
                        "vary one value inside it: add its key, e.g. network.latency_ms or service.NAME.workers",
                    ))
                }
                None => {
                    t.insert(last, Item::Value(value));
                }
            }
            Ok(())
        }
        At::Values(a) => {
            let names = value_names(a);
            let i = index_of(last, &names).ok_or_else(|| no_element(last, walked, &names, key))?;
            let old = a.get_mut(i).expect("index in range");
            *value.decor_mut() = old.decor().clone();
            *old = value;
            Ok(())
        }
        At::Tables(_) => Err(VaryError::new(
            format!("--vary {key}: {key} is a list of tables, not a value"),
            "vary one key of one element, e.g. service.NAME.workers or fault.0.at_ms",
        )),
        At::Leaf => Err(leaf(walked, key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"name = "x"   # the name

[[service]]
name = "orders"

[[service]]
name = "inventory"
workers = 1   # one server

[write]
protocol = "saga"
steps = [{ service = "orders" }, { service = "inventory", reject = 0.1 }]
"#;

    fn edited(key: &str, v: Value) -> Result<String, String> {
        let mut doc: DocumentMut = DOC.parse().unwrap();
        set(&mut doc, key, &v).map_err(|e| e.to_string())?;
        Ok(doc.to_string())
    }

    #[test]
    fn sets_values_in_place_keeping_comments() {
        let t = edited("service.inventory.workers", Value::from(4)).unwrap();
        assert!(t.contains("workers = 4   # one server"), "{t}");
        let t = edited("service.0.workers", Value::from(2)).unwrap();
        assert!(t.contains("name = \"orders\"\nworkers = 2"), "{t}");
        let t = edited("write.protocol", Value::from("two-phase-commit")).unwrap();
        assert!(t.contains("protocol = \"two-phase-commit\"\n"), "{t}");
        let t = edited("write.steps.inventory.reject", Value::from(0.5)).unwrap();
        assert!(t.contains("reject = 0.5"), "{t}");
        let t = edited("nodes.database.workers", Value::from(3)).unwrap();
        assert!(t.contains("[nodes.database]\nworkers = 3"), "{t}");
        assert!(!t.contains("[nodes]\n"), "{t}");
        let t = edited("name", Value::from("y")).unwrap();
        assert!(t.contains("name = \"y\"   # the name"), "{t}");
    }

    #[test]
    fn bad_paths_are_errors_with_a_hint() {
        let e = edited("service.inventry.workers", Value::from(4)).unwrap_err();
        assert!(e.contains("no service named \"inventry\""), "{e}");
        assert!(e.contains("did you mean inventory?"), "{e}");
        assert!(e.contains("service has: orders, inventory"), "{e}");
        let e = edited("read.queries", Value::from(4)).unwrap_err();
        assert!(e.contains("the scenario has no [read] section"), "{e}");
        let e = edited("fault.0.at_ms", Value::from(4)).unwrap_err();
        assert!(e.contains("no [[fault]]"), "{e}");
        let e = edited("write.protocol.x", Value::from(4)).unwrap_err();
        assert!(e.contains("write.protocol is a value, not a table"), "{e}");
        let e = edited("service", Value::from(4)).unwrap_err();
        assert!(
            e.contains("service is a table or a list, not a value"),
            "{e}"
        );
        let e = edited("write.steps.9.reject", Value::from(4)).unwrap_err();
        assert!(e.contains("no write.steps named \"9\""), "{e}");
    }
}
