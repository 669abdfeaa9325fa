//! Read-side vocabulary shared by the trace, the read patterns and the checkers.

use serde::{Deserialize, Serialize};

/// How a composed or view read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadResult {
    /// Every source answered.
    Complete,
    /// Some sources did not answer in time; `missing` of them.
    Partial {
        /// How many sources were missing.
        missing: u32,
    },
    /// No source answered.
    Failed,
}

/// The `read` section of the report. Read patterns are not built yet: every query
/// counts as failed until they are.
pub fn report(trace: &crate::trace::Trace, r: &crate::scenario::Read) -> crate::report::ReadReport {
    let _ = trace;
    crate::report::ReadReport {
        method: r.method.name().to_string(),
        queries: r.queries,
        complete: 0,
        partial: 0,
        failed: r.queries,
        max_staleness_ms: 0.0,
        latency_ms: crate::report::Latency::default(),
    }
}
