//! Scenarios as data: the YAML model, strict loading (unknown keys, wrong types and
//! dangling references are errors with file:line:column) and selection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;

use crate::spans::Seg;

/// A scenario file's parse or validation error, with where it is.
/// Line 0: the error is about the file (or directory) as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.headline())]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ScenarioError {
    /// `file:line:column: message`, or `file: message` when there is no position.
    pub fn headline(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// The tester's role (the target plays the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The tester initiates; the target responds.
    Initiator,
    /// The target initiates to the tester.
    Responder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileReq {
    /// Run in the profile of the run (flash unless told otherwise).
    #[default]
    Any,
    Flash,
    Plain,
}

/// MUST-level cases fail; SHOULD-level ("strict") cases warn; MAY-level cases
/// (optional behaviour) never fail or warn: a target that does not take the
/// option is unsupported, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Must,
    Should,
    May,
}

/// What a case needs from the target beyond answering a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// The target echoes each flow back on a return flow (`rtmfp serve --echo`).
    Echo,
    /// The target can be made to start a session to the tester.
    Initiates,
    /// Settings only the built-in reference target has (e.g. a short keepalive).
    ReferenceOnly,
    /// The target sends user data when asked (`solicit`): it echoes flows, or
    /// answers a TC `connect` (`--tc-app NAME`, RFC 7425 §5).
    UserData,
}

/// Settings of the reference target for this scenario.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSetup {
    /// Keepalive period of the target.
    #[serde(default, deserialize_with = "opt_duration")]
    pub keepalive: Option<Duration>,
    /// The target rejects every incoming flow.
    #[serde(default)]
    pub reject_flows: bool,
    /// The target sinks flows instead of echoing them.
    #[serde(default)]
    pub sink: bool,
    /// The target closes a session (orderly) after it has been idle this long.
    #[serde(default, deserialize_with = "opt_duration")]
    pub idle_close: Option<Duration>,
    /// Startup packets larger than this are split into Packet Fragments (§3.4).
    #[serde(default)]
    pub max_startup_packet: Option<usize>,
    /// The target's receive buffer per flow, in bytes.
    #[serde(default)]
    pub receive_buffer: Option<usize>,
    /// As a Forwarder, the target answers an IHello for a peer it has a
    /// session with by a Redirect to that peer (§2.3.3, Implied Redirect).
    #[serde(default)]
    pub redirect_forwarded: bool,
}

/// How the tester's own endpoint behaves in this scenario.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TesterSetup {
    /// Set Time Critical Reverse Notification on every session packet.
    #[serde(default)]
    pub time_critical_reverse: bool,
    /// The tester's receive buffer per flow, in bytes (what it advertises).
    #[serde(default)]
    pub receive_buffer: Option<usize>,
}

/// A duration written `250ms`, `2s`, `1.5s` or a number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (number, per_second) = match s.strip_suffix("ms") {
        Some(ms) => (ms, 1000.0),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        // A value no Duration holds (too large, infinite) is not a duration
        // (`from_secs_f64` would panic: found by the scenario_yaml fuzz target).
        .and_then(|v| Duration::try_from_secs_f64(v / per_second).ok())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = Value::deserialize(d)?;
    let s = match &v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(serde::de::Error::custom(
                "expected a duration like 250ms or 2s",
            ));
        }
    };
    parse_duration(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("`{s}` is not a duration (like 250ms or 2s)"))
    })
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn default_within() -> Duration {
    Duration::from_secs(2)
}

/// One or several chunk names (`rhello`, `[range_ack, bitmap_ack]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    pub fn contains(&self, n: &str) -> bool {
        match self {
            Names::One(s) => s == n,
            Names::Many(v) => v.iter().any(|s| s == n),
        }
    }
    pub fn list(&self) -> Vec<String> {
        match self {
            Names::One(s) => vec![s.clone()],
            Names::Many(v) => v.clone(),
        }
    }
}

/// Which side sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Tester,
    Target,
}

/// `connect`: the tester opens a session to the target (a normal handshake).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// EPD to use (default: one that selects the target).
    #[serde(default)]
    pub epd: Option<Value>,
    /// Wait for the session to open (false: start the handshake and go on).
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(default = "default_open_within", deserialize_with = "duration")]
    pub within: Duration,
}

fn default_open_within() -> Duration {
    Duration::from_secs(5)
}

/// `accept`: wait for the target to open a session to the tester.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptStep {
    #[serde(default = "default_open_within", deserialize_with = "duration")]
    pub within: Duration,
    /// Wait for the session to open (false: make the target initiate and go on).
    #[serde(default = "yes")]
    pub wait: bool,
    /// Make the target initiate (false: wait for an initiation started earlier).
    #[serde(default = "yes")]
    pub initiate: bool,
    /// Also take a session the tester opened as initiator (after glare, either
    /// end may prevail).
    #[serde(default)]
    pub any_role: bool,
}

/// `send`: a crafted packet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// In the tester's session (session keys, session ID, mode); otherwise a
    /// startup packet under the Default Session Key.
    #[serde(default)]
    pub session: bool,
    /// Override the session ID (value or `$var`).
    #[serde(default)]
    pub session_id: Option<Value>,
    /// Header fields (`mode`, `timestamp`, `timestamp_echo`, `time_critical`, ...).
    #[serde(default)]
    pub header: Option<Value>,
    /// Chunks as in `rtmfp dump --json` (`chunk: ihello, epd: ..., tag: ...`).
    #[serde(default)]
    pub chunks: Vec<Value>,
    /// Raw bytes after the chunks (hex).
    #[serde(default)]
    pub padding: Option<Value>,
    /// Break the packet's integrity check.
    #[serde(default)]
    pub corrupt: bool,
    /// Send from the tester's alternate address.
    #[serde(default)]
    pub from_alternate: bool,
    /// A whole datagram, hex, sent as is (no encryption).
    #[serde(default)]
    pub datagram: Option<Value>,
    /// The whole plain packet (header byte, timestamps, chunks: any bytes),
    /// hex, sealed with the session's keys (`session: true`) or the Default
    /// Session Key: for malformed chunks and invalid headers.
    #[serde(default)]
    pub plain: Option<Value>,
    /// A packet taken from a capture: its decrypted plain bytes, sealed again
    /// like `plain` (so it goes out under this session's or the default key).
    #[serde(default)]
    pub vector: Option<VectorPacket>,
}

/// `vector: {file: ..., packet: N, keys: ...}`: datagram N (1-based frame
/// number) of a capture; paths are relative to the scenario's directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorPacket {
    pub file: PathBuf,
    pub packet: usize,
    #[serde(default)]
    pub keys: Option<PathBuf>,
}

/// `expect` / `expect_none`: packets from the target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    #[serde(default = "default_within", deserialize_with = "duration")]
    pub within: Duration,
    /// Chunk name(s); absent: any packet.
    #[serde(default)]
    pub chunk: Option<Names>,
    /// Field matchers on the chunk.
    #[serde(default, rename = "where")]
    pub where_: BTreeMap<String, Value>,
    /// Field matchers on the packet header.
    #[serde(default)]
    pub header: BTreeMap<String, Value>,
    /// `default` or `session`: which key opened the packet.
    #[serde(default)]
    pub key: Option<String>,
    /// Match an undecodable datagram instead of a packet.
    #[serde(default)]
    pub undecodable: bool,
    /// Variables to capture from the matched chunk: `name: field.path`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Look at packets received since: `action` (the last action, default),
    /// `start` of the scenario, or `match` (after the previous expectation's match).
    #[serde(default)]
    pub since: Since,
    /// A sentence for reports.
    #[serde(default)]
    pub what: Option<String>,
    /// This expectation is a positive control (`expect` only): when it does not
    /// hold, the case cannot be judged and is unsupported with this reason
    /// (e.g. "the target does not reassemble Packet Fragments"), never failed.
    #[serde(default)]
    pub control: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Since {
    #[default]
    Action,
    Start,
    Match,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenFlowStep {
    /// Variable to hold the flow ID.
    #[serde(rename = "as")]
    pub name: String,
    /// Metadata, text (or `hex:...`).
    #[serde(default = "default_metadata")]
    pub metadata: String,
    /// A receiving flow this answers (`$var`).
    #[serde(default)]
    pub association: Option<Value>,
}

fn default_metadata() -> String {
    "rtmfp-conformance".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessageStep {
    pub flow: Value,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default = "default_size")]
    pub size: usize,
    /// Abandon each message not delivered within this time.
    #[serde(default, deserialize_with = "opt_duration")]
    pub deadline: Option<Duration>,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn default_size() -> usize {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowRef {
    pub flow: Value,
}

/// A network fault for the next packets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    pub action: FaultAction,
    /// Whose packets.
    pub from: Side,
    /// Only packets carrying one of these chunks (absent: any packet).
    #[serde(default)]
    pub chunk: Option<Names>,
    /// How many matching packets.
    #[serde(default = "one")]
    pub count: u32,
    /// For `delay`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub by: Option<Duration>,
    /// For `rewrite`: fields of the matching chunk to set (startup packets only).
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// For `rewrite`: a byte-string field of the matching chunk whose last byte
    /// is flipped (e.g. `cookie_echo`).
    #[serde(default)]
    pub flip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    Drop,
    Duplicate,
    Delay,
    /// Hold the packet and release it after the next one (swap order).
    Reorder,
    /// Change fields of a chunk in a startup packet (Default Session Key) and
    /// re-seal it: forged cookies, tags, certificates.
    Rewrite,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    #[serde(deserialize_with = "duration", rename = "for")]
    pub duration: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    #[serde(default)]
    pub abrupt: bool,
}

/// Observable outcomes to assert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertStep {
    /// The tester's session state: `open` or `closed`.
    #[serde(default)]
    pub session: Option<String>,
    /// Messages the tester received on flows answering `$flow` (the echo).
    #[serde(default)]
    pub echoed: Option<EchoAssert>,
    /// The number of tester packets the target acknowledged on `$flow` (all sent).
    #[serde(default)]
    pub acknowledged: Option<FlowRef>,
    /// A positive control: when it does not hold the case is unsupported with
    /// this reason (see `expect`).
    #[serde(default)]
    pub control: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoAssert {
    pub flow: Value,
    /// Messages expected back (default: all sent on the flow).
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default = "default_open_within", deserialize_with = "duration")]
    pub within: Duration,
}

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Connect(ConnectStep),
    Accept(AcceptStep),
    Send(Box<SendStep>),
    Expect(Box<ExpectStep>),
    ExpectNone(Box<ExpectStep>),
    OpenFlow(OpenFlowStep),
    SendMessage(SendMessageStep),
    CloseFlow(FlowRef),
    RejectFlow(FlowRef),
    Fault(FaultStep),
    /// The tester's address changes (NAT rebinding).
    Rebind(BTreeMap<String, Value>),
    Wait(WaitStep),
    Close(CloseStep),
    /// Set variables.
    Set(BTreeMap<String, Value>),
    Assert(AssertStep),
    /// Judge everything the target has sent so far against recording
    /// invariants (`all`, or a list of names from `rtmfp-conformance invariants`).
    Invariants(Names),
    /// Make the target send user data on a flow in return association with a
    /// new tester flow: a message to echo, or a TC `connect` with `--tc-app`.
    Solicit(SolicitStep),
}

/// `solicit: {as: NAME, size: N}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolicitStep {
    /// Variable to hold the tester's flow ID.
    #[serde(rename = "as")]
    pub name: String,
    /// Size of the message an echoing target gets (default 200).
    #[serde(default = "default_solicit_size")]
    pub size: usize,
}

fn default_solicit_size() -> usize {
    200
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Connect(_) => "connect",
            Step::Accept(_) => "accept",
            Step::Send(_) => "send",
            Step::Expect(_) => "expect",
            Step::ExpectNone(_) => "expect_none",
            Step::OpenFlow(_) => "open_flow",
            Step::SendMessage(_) => "send_message",
            Step::CloseFlow(_) => "close_flow",
            Step::RejectFlow(_) => "reject_flow",
            Step::Fault(_) => "fault",
            Step::Rebind(_) => "rebind",
            Step::Wait(_) => "wait",
            Step::Close(_) => "close",
            Step::Set(_) => "set",
            Step::Assert(_) => "assert",
            Step::Invariants(_) => "invariants",
            Step::Solicit(_) => "solicit",
        }
    }

    /// The reason given when this step is a positive control.
    pub fn control(&self) -> Option<&str> {
        match self {
            Step::Expect(e) => e.control.as_deref(),
            Step::Assert(a) => a.control.as_deref(),
            _ => None,
        }
    }

    /// Whether the step judges the target (rather than acting).
    pub fn judges(&self) -> bool {
        matches!(
            self,
            Step::Expect(_) | Step::ExpectNone(_) | Step::Assert(_) | Step::Invariants(_)
        )
    }
}

/// A scenario, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub rfc: Vec<String>,
    #[serde(default)]
    pub requirements: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub role: Role,
    #[serde(default)]
    pub profile: ProfileReq,
    #[serde(default)]
    pub level: Option<Level>,
    #[serde(default)]
    pub needs: Vec<Capability>,
    #[serde(default)]
    pub target: TargetSetup,
    #[serde(default)]
    pub tester: TesterSetup,
    /// Each step is a one-key map (`- send: {...}`).
    #[serde(deserialize_with = "steps")]
    pub steps: Vec<Step>,
    /// Where it came from.
    #[serde(skip)]
    pub file: PathBuf,
}

fn steps<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(with = "serde_yaml_ng::with::singleton_map")] Step);
    Ok(Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

/// Builtin variables a scenario may use without defining them.
pub const BUILTINS: &[&str] = &[
    "target.epd",
    "target.address",
    "tester.address",
    "tester.alternate",
    "tester.certificate",
    "tester.epd",
    "session.id",
    "session.far_id",
    "random16",
];

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix('$') {
                out.push(r.to_string());
            }
        }
        Value::Sequence(seq) => seq.iter().for_each(|x| collect_refs(x, out)),
        Value::Mapping(m) => m.values().for_each(|x| collect_refs(x, out)),
        Value::Tagged(t) => collect_refs(&t.value, out),
        _ => {}
    }
}

impl Scenario {
    /// The level follows the strongest requirement the case checks: MUST if any
    /// is absolute (or none is cited), MAY if all are optional, else SHOULD; a
    /// case citing only SHOULD/MAY requirements is never a MUST failure, and
    /// an explicit `level:` can only lower it.
    pub fn level(&self, catalogue: &[crate::requirements::Requirement]) -> Level {
        let absolute = self.requirements.iter().any(|id| {
            catalogue
                .iter()
                .find(|r| &r.id == id)
                .is_none_or(|r| r.keyword.is_absolute())
        });
        let optional = !self.requirements.is_empty()
            && self.requirements.iter().all(|id| {
                catalogue.iter().find(|r| &r.id == id).is_some_and(|r| {
                    matches!(
                        r.keyword,
                        crate::requirements::Keyword::May | crate::requirements::Keyword::Optional
                    )
                })
            });
        let strongest = if absolute || self.requirements.is_empty() {
            Level::Must
        } else if optional {
            Level::May
        } else {
            Level::Should
        };
        let rank = |l: Level| match l {
            Level::Must => 2,
            Level::Should => 1,
            Level::May => 0,
        };
        match self.level {
            Some(l) if rank(l) < rank(strongest) => l,
            _ => strongest,
        }
    }

    /// Parses and validates one scenario file's text.
    pub fn parse(
        text: &str,
        file: &Path,
        known_requirements: &BTreeSet<String>,
    ) -> Result<Scenario, ScenarioError> {
        let name = file.display().to_string();
        let err = |line: usize, column: usize, message: String| ScenarioError {
            file: name.clone(),
            line,
            column,
            message,
        };
        let mut s: Scenario = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            err(
                line,
                column,
                crate::diagnostic::serde_message(&e.to_string()),
            )
        })?;
        s.file = file.to_path_buf();
        // Errors found from here on point at the node by its path in the
        // document, with the YAML parser's own positions (a second parse of
        // the text, so only done for an error).
        let tree = std::cell::OnceCell::new();
        let node_at = |path: &[Seg], value: Option<&str>, message: String| {
            let p = tree
                .get_or_init(|| crate::spans::parse(text))
                .as_ref()
                .map_or(crate::spans::Pos { line: 1, column: 1 }, |t| {
                    t.locate(path, value)
                });
            err(p.line, p.column, message)
        };
        let at = |key: &str, value: &str, message: String| {
            node_at(
                &[Seg::Key(key)],
                Some(value).filter(|v| !v.is_empty()),
                message,
            )
        };
        if s.id.trim().is_empty() || s.id.contains(char::is_whitespace) {
            return Err(at(
                "id",
                "",
                format!("bad id `{}` (non-empty, no spaces)", s.id),
            ));
        }
        if s.rfc.is_empty() {
            return Err(at(
                "rfc",
                "",
                "at least one RFC reference is required".into(),
            ));
        }
        for r in &s.rfc {
            if !r.starts_with("7016 §") && !r.starts_with("7425 §") {
                return Err(at(
                    "rfc",
                    r,
                    format!("RFC reference `{r}` is not like `7016 §3.5.1`"),
                ));
            }
        }
        for id in &s.requirements {
            if !known_requirements.contains(id) {
                return Err(at(
                    "requirements",
                    id,
                    format!(
                        "unknown requirement ID `{id}`{} (see `rtmfp-conformance requirements`)",
                        crate::diagnostic::did_you_mean(id, known_requirements.iter())
                    ),
                ));
            }
        }
        if s.steps.is_empty() {
            return Err(at("steps", "", "a scenario needs steps".into()));
        }
        // A negative expectation ("nothing is sent") passes on a dead target
        // too: it is only judged together with a positive control, a positive
        // expectation before it or a `control` step after it.
        let mut positive = false;
        for (i, x) in s.steps.iter().enumerate() {
            match x {
                Step::Expect(_) | Step::Assert(_) => positive = true,
                Step::ExpectNone(_)
                    if !positive && !s.steps[i..].iter().any(|y| y.control().is_some()) =>
                {
                    return Err(node_at(
                        &[Seg::Key("steps"), Seg::Index(i), Seg::Key("expect_none")],
                        None,
                        "an `expect_none` needs a positive control: a positive `expect` before it, or an `expect`/`assert` after it marked `control: REASON` (why the case cannot be judged when it fails)".into(),
                    ));
                }
                _ => {}
            }
        }
        for (i, x) in s.steps.iter().enumerate() {
            if let Step::ExpectNone(e) = x
                && e.control.is_some()
            {
                return Err(node_at(
                    &[
                        Seg::Key("steps"),
                        Seg::Index(i),
                        Seg::Key("expect_none"),
                        Seg::Key("control"),
                    ],
                    None,
                    "`control` belongs on a positive `expect` or `assert`, not on `expect_none`"
                        .into(),
                ));
            }
        }
        // Every `$var` must be a builtin or defined by an earlier step.
        let mut defined: BTreeSet<String> = BUILTINS.iter().map(|b| b.to_string()).collect();
        for (i, step) in s.steps.iter().enumerate() {
            let here = [Seg::Key("steps"), Seg::Index(i), Seg::Key(step.name())];
            let at = |sub: &[Seg], value: &str, message: String| {
                let path: Vec<Seg> = here.iter().chain(sub).copied().collect();
                node_at(&path, Some(value).filter(|v| !v.is_empty()), message)
            };
            let unknown_chunk = |n: &str| {
                at(
                    &[Seg::Key("chunk")],
                    n,
                    format!(
                        "unknown chunk name `{n}`{}",
                        crate::diagnostic::did_you_mean(n, crate::values::CHUNK_NAMES.iter())
                    ),
                )
            };
            let mut refs = Vec::new();
            let mut defines = Vec::new();
            match step {
                Step::Connect(c) => c.epd.iter().for_each(|v| collect_refs(v, &mut refs)),
                Step::Send(x) => {
                    for v in x
                        .chunks
                        .iter()
                        .chain(&x.header)
                        .chain(&x.session_id)
                        .chain(&x.padding)
                        .chain(&x.datagram)
                        .chain(&x.plain)
                    {
                        collect_refs(v, &mut refs);
                    }
                    // Chunks without variables are checked now.
                    for (j, c) in x.chunks.iter().enumerate() {
                        let mut r = Vec::new();
                        collect_refs(c, &mut r);
                        if r.is_empty()
                            && let Err(e) =
                                crate::values::chunk_from(&crate::values::yaml_to_json(c))
                        {
                            let name = c.get("chunk").and_then(|n| n.as_str()).unwrap_or("");
                            let e = if crate::values::CHUNK_NAMES.contains(&name) {
                                e
                            } else {
                                format!(
                                    "{e}{}",
                                    crate::diagnostic::did_you_mean(
                                        name,
                                        crate::values::CHUNK_NAMES.iter()
                                    )
                                )
                            };
                            return Err(at(
                                &[Seg::Key("chunks"), Seg::Index(j), Seg::Key("chunk")],
                                "",
                                e,
                            ));
                        }
                    }
                }
                Step::Expect(x) | Step::ExpectNone(x) => {
                    x.where_
                        .values()
                        .chain(x.header.values())
                        .for_each(|v| collect_refs(v, &mut refs));
                    defines.extend(x.capture.keys().cloned());
                    if let Err((field, e)) = crate::fields::check_expect(x) {
                        return Err(at(&[], &field, e));
                    }
                    if let Some(c) = &x.chunk {
                        for n in c.list() {
                            if !crate::values::CHUNK_NAMES.contains(&n.as_str()) {
                                return Err(unknown_chunk(&n));
                            }
                        }
                    }
                }
                Step::OpenFlow(o) => {
                    o.association
                        .iter()
                        .for_each(|v| collect_refs(v, &mut refs));
                    defines.push(o.name.clone());
                }
                Step::Solicit(x) => defines.push(x.name.clone()),
                Step::SendMessage(m) => collect_refs(&m.flow, &mut refs),
                Step::CloseFlow(f) | Step::RejectFlow(f) => collect_refs(&f.flow, &mut refs),
                Step::Fault(f) => {
                    if let Some(c) = &f.chunk {
                        for n in c.list() {
                            if !crate::values::CHUNK_NAMES.contains(&n.as_str()) {
                                return Err(unknown_chunk(&n));
                            }
                        }
                    }
                    if f.action == FaultAction::Delay && f.by.is_none() {
                        return Err(at(
                            &[Seg::Key("action")],
                            "",
                            "a delay fault needs `by`".into(),
                        ));
                    }
                    if f.action == FaultAction::Rewrite && f.set.is_empty() && f.flip.is_none() {
                        return Err(at(
                            &[Seg::Key("action")],
                            "",
                            "a rewrite fault needs `set` or `flip`".into(),
                        ));
                    }
                    f.set.values().for_each(|v| collect_refs(v, &mut refs));
                }
                Step::Set(m) => {
                    m.values().for_each(|v| collect_refs(v, &mut refs));
                    defines.extend(m.keys().cloned());
                }
                Step::Assert(a) => {
                    if let Some(e) = &a.echoed {
                        collect_refs(&e.flow, &mut refs);
                    }
                    if let Some(f) = &a.acknowledged {
                        collect_refs(&f.flow, &mut refs);
                    }
                }
                Step::Invariants(n) => {
                    for name in n.list() {
                        if name != "all" && crate::invariants::find(&name).is_none() {
                            return Err(at(
                                &[],
                                &name,
                                format!(
                                    "unknown invariant `{name}`{}",
                                    crate::diagnostic::did_you_mean(
                                        &name,
                                        crate::invariants::INVARIANTS.iter().map(|i| i.name)
                                    )
                                ),
                            ));
                        }
                    }
                }
                Step::Accept(_) | Step::Rebind(_) | Step::Wait(_) | Step::Close(_) => {}
            }
            for r in refs {
                let base = r.split('.').next().unwrap_or(&r).to_string();
                if !defined.contains(&r) && !defined.contains(&base) {
                    return Err(at(
                        &[],
                        &format!("${r}"),
                        format!("`${r}` is not defined by an earlier step"),
                    ));
                }
            }
            defined.extend(defines);
        }
        Ok(s)
    }
}

/// Loads every `*.yaml` under `dir` (recursively), sorted by path.
pub fn load_dir(dir: &Path, known: &BTreeSet<String>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| ScenarioError {
        file: dir.display().to_string(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    files.sort();
    let mut out = Vec::new();
    let mut ids = BTreeMap::new();
    for f in files {
        let text = crate::embedded::read_to_string(&f).map_err(|e| ScenarioError {
            file: f.display().to_string(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        let s = Scenario::parse(&text, &f, known)?;
        if let Some(prev) = ids.insert(s.id.clone(), f.clone()) {
            let p = crate::spans::parse(&text)
                .and_then(|t| t.get("id").map(crate::spans::Node::pos))
                .unwrap_or(crate::spans::Pos { line: 1, column: 1 });
            return Err(ScenarioError {
                file: f.display().to_string(),
                line: p.line,
                column: p.column,
                message: format!(
                    "duplicate scenario id `{}` (also in {})",
                    s.id,
                    prev.display()
                ),
            });
        }
        out.push(s);
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Selection: by exact ID, glob (`handshake.*`), section (`§3.5.1` or `3.5.1`,
/// matching the scenario's RFC references and requirement IDs), or `tag:NAME`.
pub fn selected(s: &Scenario, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    patterns.iter().any(|p| {
        if let Some(tag) = p.strip_prefix("tag:") {
            return s.tags.iter().any(|t| t == tag);
        }
        let sec = p.trim_start_matches('§');
        if sec.chars().next().is_some_and(|c| c.is_ascii_digit()) && !p.contains('*') && p != &s.id
        {
            let in_rfc = s.rfc.iter().any(|r| {
                r.split('§')
                    .nth(1)
                    .is_some_and(|x| x == sec || x.starts_with(&format!("{sec}.")))
            });
            let in_req = s.requirements.iter().any(|r| {
                r.split('#')
                    .next()
                    .is_some_and(|x| x == sec || x.starts_with(&format!("{sec}.")))
            });
            return in_rfc || in_req;
        }
        glob(p, &s.id)
    })
}

/// Shell-style glob (`globset`): `*` matches any run of characters, `?` one
/// character, `[ab]` a class, `{a,b}` alternatives. A pattern that is not a
/// valid glob matches only itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    match globset::Glob::new(pattern) {
        Ok(g) => g.compile_matcher().is_match(text),
        Err(_) => pattern == text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        crate::requirements::catalogue()
            .iter()
            .map(|r| r.id.clone())
            .collect()
    }

    const GOOD: &str = "id: x.y
title: T
rfc: [\"7016 §2.3.4\"]
requirements: [\"2.3#1\"]
role: initiator
steps:
  - send:
      chunks:
        - {chunk: ihello, epd: $target.epd, tag: \"00112233445566778899aabbccddeeff\"}
  - expect:
      within: 2s
      chunk: rhello
      where: {tag_echo: \"00112233445566778899aabbccddeeff\"}
      capture: {cookie: cookie}
  - set: {c2: $cookie}
";

    #[test]
    fn parses_a_good_scenario() {
        let s = Scenario::parse(GOOD, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.level(crate::requirements::catalogue()), Level::Must);
    }

    #[test]
    fn errors_have_file_line_column() {
        let bad_key = GOOD.replace("within: 2s", "withn: 2s");
        let e = Scenario::parse(&bad_key, Path::new("a.yaml"), &known()).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.column),
            ("a.yaml", 11, 7),
            "{e}"
        );
        assert!(e.message.contains("unknown field `withn`"), "{e}");
        let bad_type = GOOD.replace("within: 2s", "within: [1]");
        let e = Scenario::parse(&bad_type, Path::new("a.yaml"), &known()).unwrap_err();
        assert_eq!(e.line, 11, "{e}");
        let dangling = GOOD.replace("c2: $cookie", "c2: $cooky");
        let e = Scenario::parse(&dangling, Path::new("a.yaml"), &known()).unwrap_err();
        assert_eq!((e.line, e.column), (15, 15), "{e}");
        assert!(e.message.contains("$cooky"));
        let req = GOOD.replace("2.3#1", "9.9#9");
        let e = Scenario::parse(&req, Path::new("a.yaml"), &known()).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let chunk = GOOD.replace("chunk: rhello", "chunk: rhelo");
        let e = Scenario::parse(&chunk, Path::new("a.yaml"), &known()).unwrap_err();
        assert!(e.message.contains("unknown chunk name"), "{e}");
    }

    #[test]
    fn the_level_never_exceeds_the_strongest_requirement() {
        let cat = crate::requirements::catalogue();
        let should = cat
            .iter()
            .find(|r| !r.keyword.is_absolute())
            .expect("a SHOULD requirement");
        let text = GOOD
            .replace("2.3#1", &should.id)
            .replace("role: initiator", "role: initiator\nlevel: must");
        let s = Scenario::parse(&text, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.level(cat), Level::Should, "{}", should.id);
        let text = GOOD.replace("role: initiator", "role: initiator\nlevel: should");
        let s = Scenario::parse(&text, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.level(cat), Level::Should, "an explicit level lowers");
    }

    #[test]
    fn accept_options_and_idle_close() {
        let text = "id: a.b
title: T
rfc: [\"7016 §3.5.1.3\"]
role: responder
target: {idle_close: 3s}
steps:
  - accept: {wait: false}
  - accept: {initiate: false, any_role: true, within: 10s}
";
        let s = Scenario::parse(text, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.target.idle_close, Some(Duration::from_secs(3)));
        match (&s.steps[0], &s.steps[1]) {
            (Step::Accept(a), Step::Accept(b)) => {
                assert!(!a.wait && a.initiate && !a.any_role);
                assert!(b.wait && !b.initiate && b.any_role);
                assert_eq!(b.within, Duration::from_secs(10));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn selection() {
        let s = Scenario::parse(GOOD, Path::new("a.yaml"), &known()).unwrap();
        assert!(selected(&s, &[]));
        assert!(selected(&s, &["x.*".into()]));
        assert!(selected(&s, &["§2.3".into()]));
        assert!(selected(&s, &["2.3.4".into()]));
        assert!(!selected(&s, &["3.5".into()]));
        assert!(!selected(&s, &["tag:flows".into()]));
        assert!(glob("a*b?d", "axxbcd"));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("2e45ms"), None, "too large for a Duration");
        assert_eq!(parse_duration("1e30s"), None);
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("NaN ms"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn negative_expectations_need_a_control() {
        let none = GOOD.replace(
            "  - set: {c2: $cookie}\n",
            "  - expect_none: {chunk: rikeying, within: 1s}\n",
        );
        // A positive expectation before it is its control.
        assert!(Scenario::parse(&none, Path::new("a.yaml"), &known()).is_ok());
        let first = "id: x.y
title: T
rfc: [\"7016 §2.3.4\"]
role: initiator
steps:
  - send:
      chunks:
        - {chunk: ihello, epd: $target.epd, tag: \"00112233445566778899aabbccddeeff\"}
  - expect_none: {chunk: rikeying, within: 1s}
  - expect: {chunk: rhello}
";
        let e = Scenario::parse(first, Path::new("a.yaml"), &known()).unwrap_err();
        assert!(e.message.contains("positive control"), "{e}");
        assert_eq!(e.line, 9, "{e}");
        let marked = first.replace("{chunk: rhello}", "{chunk: rhello, control: \"no answer\"}");
        let s = Scenario::parse(&marked, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.steps[2].control(), Some("no answer"));
        let misplaced = marked.replace(
            "{chunk: rikeying, within: 1s}",
            "{chunk: rikeying, within: 1s, control: \"x\"}",
        );
        let e = Scenario::parse(&misplaced, Path::new("a.yaml"), &known()).unwrap_err();
        assert!(e.message.contains("not on `expect_none`"), "{e}");
    }

    #[test]
    fn target_receive_buffer() {
        let text = GOOD.replace(
            "role: initiator",
            "role: initiator\ntarget: {receive_buffer: 4096}",
        );
        let s = Scenario::parse(&text, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.target.receive_buffer, Some(4096));
        let s = Scenario::parse(GOOD, Path::new("a.yaml"), &known()).unwrap();
        assert_eq!(s.target.receive_buffer, None);
    }
}
