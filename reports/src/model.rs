//! The results data model: what `rtmfp-conformance run` writes as `results.json`
//! and what the renderers read. Plain data, serde both ways.

use serde::{Deserialize, Serialize};

/// The outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// A MUST-level expectation failed.
    Fail,
    /// A SHOULD-level ("strict") expectation failed.
    Warn,
    /// The target cannot run this case (e.g. needs a capability it lacks).
    Unsupported,
    /// Not run (deselected, or listed in the expectations file).
    Skipped,
}

/// A whole run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    /// e.g. "reference", "udp://127.0.0.1:1935", "pcap:vectors/flash-echo.pcap".
    pub target: String,
    pub started: String,
    pub duration_ms: u64,
    pub seed: u64,
    /// The command line that produced this run.
    pub command: String,
    pub cases: Vec<Case>,
    /// The RFC's requirement catalogue with per-requirement coverage.
    pub requirements: Vec<Requirement>,
    /// Section number -> title, in RFC order.
    pub sections: Vec<Section>,
    /// The RFC text, for rendering coverage over it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rfc_text: String,
    /// Set when the run was stopped before every case ran (Ctrl-C, SIGTERM):
    /// what stopped it. The cases are those that finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Why the run could not judge everything it should have (e.g. capture
    /// datagrams that could not be opened): the verdict is then inconclusive
    /// unless a MUST failed anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Section {
    pub number: String,
    pub title: String,
    /// 1-based first line of the section in `rfc_text`.
    pub line: usize,
}

/// One requirement of the catalogue and how this run covered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Requirement {
    pub id: String,
    pub section: String,
    pub section_title: String,
    /// "MUST", "MUST NOT", "SHOULD", ...
    pub keyword: String,
    pub text: String,
    pub line: usize,
    pub observable: bool,
    /// Why it cannot be checked on the wire, when not observable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// IDs of the cases that check it.
    pub cases: Vec<String>,
    /// Those of `cases` whose check is proven to fail when exactly this
    /// requirement is broken (a fault or a recorded mutation), as
    /// `case: how`; a claim without proof is only claimed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proven_by: Vec<String>,
    /// The worst outcome among those cases (None if no case ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// One conformance case (a scenario run, or a capture invariant).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub title: String,
    /// e.g. ["7016 §3.5.1.1.2"].
    pub rfc: Vec<String>,
    pub requirements: Vec<String>,
    pub tags: Vec<String>,
    /// "must", "should" or "may".
    pub level: String,
    pub outcome: Outcome,
    /// Why it failed, warned, was unsupported or skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub duration_ms: u64,
    /// The command that re-runs this case alone.
    pub rerun: String,
    /// What the case expected, step by step, and what happened.
    pub steps: Vec<StepResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// e.g. "send ihello", "expect rhello within 2s".
    pub description: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// What a failing (or any) case recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The decoded packets of the exchange, in order.
    pub packets: Vec<TracePacket>,
    /// File names (relative to the report directory) of the pcap and key log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
}

/// One packet of an exchange, for traces and sequence charts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TracePacket {
    /// Seconds since the case started.
    pub time: f64,
    /// "tester" or "target" (who sent it).
    pub from: String,
    pub src: String,
    pub dst: String,
    /// One line per chunk, as `rtmfp dump` prints them.
    pub chunks: Vec<String>,
    /// Header summary: mode, flags, timestamps.
    pub header: String,
    /// Dropped/delayed/duplicated by a fault action, or undecodable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Results {
    /// Counts by outcome.
    pub fn counts(&self) -> std::collections::BTreeMap<Outcome, usize> {
        let mut m = std::collections::BTreeMap::new();
        for c in &self.cases {
            *m.entry(c.outcome).or_insert(0) += 1;
        }
        m
    }

    /// True if any MUST-level case failed (the exit status is then non-zero).
    pub fn must_failed(&self) -> bool {
        self.cases.iter().any(|c| c.outcome == Outcome::Fail)
    }
}
