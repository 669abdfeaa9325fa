//! The `--vary` argument: `KEY=V1,V2,..` (values typed like TOML) or `KEY=A..B:STEP`
//! (an inclusive numeric range).

use super::VaryError;
use toml_edit::Value;

/// One `--vary`: a dotted key and the values it takes, in order.
#[derive(Debug, Clone)]
pub struct Vary {
    /// The dotted path into the scenario, e.g. `service.inventory.workers`.
    pub key: String,
    /// The values, in the order given.
    pub values: Vec<Value>,
}

/// Most values one range may produce: a typo such as `0..1000:0.001` should be an
/// error, not an hour of runs.
const MAX_RANGE_VALUES: usize = 1000;

/// Parses one `--vary` argument.
pub fn parse(spec: &str) -> Result<Vary, VaryError> {
    let Some((key, rhs)) = spec.split_once('=') else {
        return Err(VaryError::new(
            format!("--vary {spec:?}: expected KEY=V1,V2,.. or KEY=A..B:STEP"),
            "for example --vary write.protocol=saga,two-phase-commit or --vary write.arrival_rate_per_s=50..200:50",
        ));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(VaryError::new(
            format!("--vary {spec:?}: {key:?} is not a dotted key"),
            "a key is a dotted path into the scenario, e.g. write.arrival_rate_per_s or service.inventory.workers",
        ));
    }
    let rhs = rhs.trim();
    let values = match range(rhs) {
        Some(r) => r.map_err(|m| VaryError::new(format!("--vary {spec:?}: {m}"), RANGE_HINT))?,
        None => list(rhs).map_err(|m| {
            VaryError::new(
                format!("--vary {spec:?}: {m}"),
                "values are comma-separated and typed like TOML: 4, 2.5, saga, \"a,b\", [1, 10]",
            )
        })?,
    };
    Ok(Vary {
        key: key.to_string(),
        values,
    })
}

const RANGE_HINT: &str = "a range is A..B:STEP, both ends included, e.g. 1..4:1 or 0.5..2.0:0.5";

/// `A..B:STEP` when `rhs` looks like one (a `..` between numbers); `None` otherwise.
fn range(rhs: &str) -> Option<Result<Vec<Value>, String>> {
    let (a, rest) = rhs.split_once("..")?;
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let num = |s: &str| s.trim().parse::<f64>().ok().filter(|x| x.is_finite());
    let (lo, hi) = (num(a)?, num(b)?);
    let Some(step_text) = step else {
        return Some(Err(format!("the range {rhs:?} has no :STEP")));
    };
    let Some(st) = num(step_text) else {
        return Some(Err(format!("the step {step_text:?} is not a number")));
    };
    if st <= 0.0 {
        return Some(Err(format!("the step {step_text:?} must be above 0")));
    }
    if hi < lo {
        return Some(Err(format!("the range {rhs:?} is empty: B is below A")));
    }
    let integers = [a, b, step_text]
        .iter()
        .all(|s| s.trim().parse::<i64>().is_ok());
    let count = ((hi - lo) / st + 1e-9).floor() as usize + 1;
    if count > MAX_RANGE_VALUES {
        return Some(Err(format!(
            "the range {rhs:?} has {count} values; at most {MAX_RANGE_VALUES}"
        )));
    }
    Some(Ok((0..count)
        .map(|i| {
            if integers {
                Value::from(lo as i64 + i as i64 * st as i64)
            } else {
                // Rounded so that 0.1 + 2 * 0.1 shows as 0.3.
                let x = lo + i as f64 * st;
                Value::from((x * 1e9).round() / 1e9)
            }
        })
        .collect()))
}

/// `V1,V2,..`: split at commas outside brackets and quotes, each typed like TOML; a
/// bare word that is no TOML value is a string (`saga`).
fn list(rhs: &str) -> Result<Vec<Value>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in rhs.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&rhs[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rhs[start..]);
    parts
        .into_iter()
        .map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return Err("an empty value (two commas in a row, or one at an end?)".into());
            }
            match p.parse::<Value>() {
                Ok(v) => Ok(v.decorated("", "")),
                Err(_) if p.starts_with(['"', '\'', '[', '{']) => {
                    Err(format!("{p:?} is not a TOML value"))
                }
                Err(_) => Ok(Value::from(p)),
            }
        })
        .collect()
}

/// A value as people read it: strings without quotes.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.value().clone(),
        v => v.clone().decorated("", "").to_string(),
    }
}

/// A value as JSON.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::String(s) => json!(s.value()),
        Value::Integer(i) => json!(i.value()),
        Value::Float(f) => json!(f.value()),
        Value::Boolean(b) => json!(b.value()),
        Value::Datetime(d) => json!(d.value().to_string()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::InlineTable(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spec: &str) -> Vec<String> {
        parse(spec).unwrap().values.iter().map(show).collect()
    }

    #[test]
    fn lists_are_typed_like_toml() {
        let v = parse("write.protocol=saga,two-phase-commit").unwrap();
        assert_eq!(v.key, "write.protocol");
        assert!(v.values.iter().all(|v| v.as_str().is_some()));
        assert_eq!(
            shown("write.protocol=saga,two-phase-commit"),
            ["saga", "two-phase-commit"]
        );
        let v = parse("service.a.workers=1,2,4").unwrap();
        assert_eq!(
            v.values.iter().map(|v| v.as_integer()).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(4)]
        );
        let v = parse("x.y=2.5, true ,\"a,b\",[1, 10]").unwrap();
        assert_eq!(v.values[0].as_float(), Some(2.5));
        assert_eq!(v.values[1].as_bool(), Some(true));
        assert_eq!(v.values[2].as_str(), Some("a,b"));
        assert_eq!(v.values[3].as_array().map(|a| a.len()), Some(2));
    }

    #[test]
    fn ranges_are_inclusive_and_allow_floats() {
        assert_eq!(shown("w.r=50..200:50"), ["50", "100", "150", "200"]);
        assert!(parse("w.r=1..3:1")
            .unwrap()
            .values
            .iter()
            .all(|v| v.as_integer().is_some()));
        assert_eq!(
            shown("w.r=0.1..0.5:0.1"),
            ["0.1", "0.2", "0.3", "0.4", "0.5"]
        );
        assert_eq!(shown("w.r=1..2:0.5"), ["1.0", "1.5", "2.0"]);
        assert_eq!(shown("w.r=1..4:2"), ["1", "3"]);
    }

    #[test]
    fn bad_forms_say_what_was_expected() {
        let err = |s: &str| parse(s).unwrap_err().to_string();
        assert!(err("write.protocol").contains("expected KEY=V1,V2,.. or KEY=A..B:STEP"));
        assert!(err("=3").contains("is not a dotted key"));
        assert!(err("write..x=3").contains("is not a dotted key"));
        assert!(err("w.r=1..5").contains("has no :STEP"));
        assert!(err("w.r=1..5:0").contains("must be above 0"));
        assert!(err("w.r=5..1:1").contains("is empty: B is below A"));
        assert!(err("w.r=0..1000000:1").contains("at most 1000"));
        assert!(err("w.r=1,,2").contains("an empty value"));
        assert!(err("w.r=[1,").contains("is not a TOML value"));
        assert!(err("w.r=1..5").contains("hint: a range is A..B:STEP"));
    }
}
