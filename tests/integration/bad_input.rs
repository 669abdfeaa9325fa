//! Bad scenario files: exit 2, file:line:column and a hint on stderr, nothing on stdout.

use crate::util::{sovlab, tempdir};

/// Writes `text` to a file, runs `sovlab run` on it, returns (stderr, path).
pub(crate) fn run_bad(name: &str, text: &str) -> (String, String) {
    let dir = tempdir(name);
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = sovlab(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "exit code for {name}");
    assert!(out.stdout.is_empty(), "nothing on stdout for {name}");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path.display().to_string(),
    )
}

const GOOD_HEAD: &str = "name = \"x\"\n[[service]]\nname = \"orders\"\n";

#[test]
fn a_syntax_error_names_line_and_column() {
    let (err, path) = run_bad("syntax", "name = \"x\n[[service]]\n");
    assert!(err.contains(&format!("{path}:1:")), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_a_hint() {
    let text = format!("{GOOD_HEAD}[network]\nlatncy_ms = [1, 2]\n");
    let (err, path) = run_bad("unknown-key", &text);
    assert!(err.contains(&format!("{path}:5:1")), "{err}");
    assert!(err.contains("latncy_ms"), "{err}");
    assert!(err.contains("did you mean \"latency_ms\"?"), "{err}");
}

#[test]
fn an_unknown_service_is_located_and_suggested() {
    let text =
        format!("{GOOD_HEAD}[write]\nprotocol = \"saga\"\nsteps = [{{ service = \"order\" }}]\n");
    let (err, path) = run_bad("unknown-service", &text);
    assert!(err.contains(&format!("{path}:6:22")), "{err}");
    assert!(err.contains("unknown service \"order\""), "{err}");
    assert!(err.contains("did you mean \"orders\"?"), "{err}");
}

#[test]
fn an_out_of_range_value_is_located() {
    let text = format!("{GOOD_HEAD}[network]\nloss = 1.5\n");
    let (err, path) = run_bad("range", &text);
    assert!(err.contains(&format!("{path}:5:8")), "{err}");
    assert!(err.contains("probability"), "{err}");
}

#[test]
fn a_misspelt_protocol_gets_a_suggestion() {
    let text = format!(
        "{GOOD_HEAD}[write]\nprotocol = \"two-phase\"\nsteps = [{{ service = \"orders\" }}]\n"
    );
    let (err, path) = run_bad("protocol", &text);
    assert!(err.contains(&format!("{path}:5:12")), "{err}");
    assert!(err.contains("did you mean \"two-phase-commit\"?"), "{err}");
}

#[test]
fn heal_before_the_partition_is_a_contradiction() {
    let text = format!(
        "{GOOD_HEAD}[[service]]\nname = \"payments\"\n[[fault]]\nat_ms = 300\npartition = [[\"orders\"], [\"payments\"]]\nheal_ms = 200\n"
    );
    let (err, path) = run_bad("heal", &text);
    assert!(err.contains(&format!("{path}:9:11")), "{err}");
    assert!(err.contains("heal_ms 200 is before at_ms 300"), "{err}");
}

#[test]
fn a_window_ends_by_for_ms_or_by_its_absolute_end_not_both() {
    let text = format!(
        "{GOOD_HEAD}[[service]]\nname = \"payments\"\n[[fault]]\nat_ms = 300\nloss = 0.5\nuntil_ms = 400\nfor_ms = 50\n"
    );
    let (err, path) = run_bad("for-ms", &text);
    assert!(err.contains(&format!("{path}:10:10")), "{err}");
    assert!(
        err.contains("for_ms and until_ms both end this fault"),
        "{err}"
    );
    let text = format!(
        "{GOOD_HEAD}[[service]]\nname = \"payments\"\n[[fault]]\nat_ms = 300\ncrash = \"payments\"\nfor_ms = 50\n"
    );
    let (err, path) = run_bad("for-ms-crash", &text);
    assert!(err.contains(&format!("{path}:9:10")), "{err}");
    assert!(
        err.contains("for_ms belongs to a partition or loss fault"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_usage_not_a_panic() {
    let out = sovlab(&["run", "/nonexistent/x.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// A scenario written back (by shrink, a fork, a trace header) carries only the
/// `[write]` keys its protocol reads, so it parses back under the rule that a key which
/// does not apply is an error.
#[test]
fn a_scenario_written_back_has_only_keys_that_apply_and_parses_back() {
    for (protocol, absent) in [
        ("saga", "coordinator_log"),
        ("two-phase-commit", "coordination"),
        ("shared-database", "coordination"),
    ] {
        let text = format!(
            "{GOOD_HEAD}[write]\nprotocol = \"{protocol}\"\nsteps = [{{ service = \"orders\" }}]\n"
        );
        let s = sovlab_sim::Scenario::parse(&text, "x.toml").unwrap();
        let back = s.to_toml();
        assert!(!back.contains(absent), "{protocol}: {back}");
        assert_eq!(sovlab_sim::Scenario::parse(&back, "back.toml").unwrap(), s);
    }
}

/// A 2PC head whose coordinator a trigger may name (line 1 to 8).
const TWO_PC_HEAD: &str = "name = \"x\"\n[[service]]\nname = \"orders\"\n[[service]]\nname = \"payments\"\n[write]\nprotocol = \"two-phase-commit\"\nsteps = [{ service = \"orders\" }, { service = \"payments\" }]\n";

#[test]
fn a_trigger_names_a_known_node_kind_and_message_and_counts_from_one() {
    // (what the fault says, line:col of the error, the message, the hint)
    let cases = [
        (
            "after = { node = \"coordinatr\", event = \"deliver\" }\ncrash = \"coordinator\"\n",
            "10:18",
            "unknown node \"coordinatr\"",
            "did you mean \"coordinator\"?",
        ),
        (
            "after = { node = \"coordinator\", event = \"delivr\" }\ncrash = \"coordinator\"\n",
            "10:41",
            "unknown event kind \"delivr\"",
            "did you mean \"deliver\"?",
        ),
        (
            "after = { node = \"coordinator\", event = \"deliver\", msg = \"vot\" }\ncrash = \"coordinator\"\n",
            "10:58",
            "unknown message kind \"vot\"",
            "did you mean \"vote\"?",
        ),
        (
            "after = { node = \"coordinator\", event = \"decide\", msg = \"vote\" }\ncrash = \"coordinator\"\n",
            "10:57",
            "a \"decide\" event carries no message",
            "remove msg",
        ),
        (
            "after = { node = \"coordinator\", event = \"deliver\", count = 0 }\ncrash = \"coordinator\"\n",
            "10:60",
            "count must be at least 1",
            "count = 1 (the default)",
        ),
        (
            "at_ms = 5\nafter = { node = \"coordinator\", event = \"deliver\" }\ncrash = \"coordinator\"\n",
            "11:9",
            "at_ms and after both place this fault",
            "keep one",
        ),
        (
            "crash = \"coordinator\"\n",
            "9:1",
            "a [[fault]] needs at_ms or after",
            "after = {",
        ),
        (
            "after = { node = \"orders\", event = \"commit\" }\npartition = [[\"orders\"], [\"payments\"]]\nheal_ms = 40\n",
            "12:11",
            "heal_ms is an absolute time, and this fault is placed by after",
            "for_ms",
        ),
    ];
    for (k, (fault, at, message, hint)) in cases.into_iter().enumerate() {
        let text = format!("{TWO_PC_HEAD}[[fault]]\n{fault}");
        let (err, path) = run_bad(&format!("trigger-{k}"), &text);
        assert!(err.contains(&format!("{path}:{at}")), "case {k}: {err}");
        assert!(err.contains(message), "case {k}: {err}");
        assert!(err.contains(hint), "case {k}: {err}");
    }
}
