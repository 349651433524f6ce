//! A whole run: pick the scenarios, build a harness per case for the chosen
//! target, run, decide outcomes (with the expectations file), record evidence,
//! and assemble the results with the requirement coverage.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use serde::Deserialize;

use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::decode::{DatagramRef, Decoder, Profile, ProfileChoice};
use rtmfp::keylog::{KeyLog, KeyLogWriter};
use rtmfp::session::config::EndpointConfig;
use rtmfp_reports::model::{self, Case, Evidence, Outcome, Results, TracePacket};

use crate::harness::{Harness, SimHarness, UdpHarness, WireRecord};
use crate::identity::TesterIdentity;
use crate::requirements;
use crate::runner::{self, Identities};
use crate::scenario::{Capability, Level, ProfileReq, Role, Scenario};

/// Where the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The built-in reference implementation over the simulated network.
    Reference,
    /// A live stack at this address; the tester initiates.
    Udp(SocketAddr),
    /// A live stack that initiates to the tester, which listens here.
    Listen(SocketAddr),
    /// A capture, checked offline.
    Pcap {
        file: PathBuf,
        keys: Option<PathBuf>,
    },
}

impl Target {
    /// Parses `reference`, `udp://HOST:PORT`, `pcap:FILE[?keys=FILE]`.
    pub fn parse(s: &str) -> Result<Target, String> {
        if s == "reference" {
            return Ok(Target::Reference);
        }
        if let Some(a) = s.strip_prefix("udp://") {
            use std::net::ToSocketAddrs;
            let a = a.trim_end_matches('/');
            let has_port = a.parse::<SocketAddr>().is_ok()
                || a.rsplit_once(':').is_some_and(|(h, p)| {
                    !h.is_empty() && (!h.contains(':') || h.ends_with(']')) && !p.is_empty()
                });
            if !has_port {
                return Err(format!(
                    "--target {s}: the port is missing (udp://HOST:PORT, e.g. udp://{a}:1935; IPv6: udp://[::1]:1935)"
                ));
            }
            let addr = a
                .to_socket_addrs()
                .map_err(|e| format!("--target {s}: {e}"))?
                .next()
                .ok_or_else(|| format!("--target {s}: no address"))?;
            return Ok(Target::Udp(addr));
        }
        if let Some(rest) = s.strip_prefix("pcap:") {
            let (file, keys) = match rest.split_once('?') {
                Some((f, query)) => {
                    let mut keys = None;
                    for kv in query.split('&') {
                        match kv.split_once('=') {
                            Some(("keys", k)) if !k.is_empty() => keys = Some(PathBuf::from(k)),
                            _ => {
                                return Err(format!(
                                    "--target {s}: unknown query `{kv}` (the known key is `keys=FILE`, a key log)"
                                ));
                            }
                        }
                    }
                    (f, keys)
                }
                None => (rest, None),
            };
            if file.is_empty() {
                return Err(format!("--target {s}: no capture file"));
            }
            return Ok(Target::Pcap {
                file: PathBuf::from(file),
                keys,
            });
        }
        Err(format!(
            "--target `{s}`: expected reference, udp://HOST:PORT or pcap:FILE[?keys=FILE]"
        ))
    }

    pub fn name(&self) -> String {
        match self {
            Target::Reference => "reference".into(),
            Target::Udp(a) => format!("udp://{a}"),
            Target::Listen(a) => format!("listen://{a}"),
            Target::Pcap { file, keys } => match keys {
                Some(k) => format!("pcap:{}?keys={}", file.display(), k.display()),
                None => format!("pcap:{}", file.display()),
            },
        }
    }
}

/// The cryptography profile of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileName {
    Flash,
    Plain,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    pub profile: ProfileName,
    pub seed: u64,
    /// `--inject` faults for the reference target.
    pub inject: Vec<String>,
    /// `--liberty` names (or `all`) for the reference target: RFC-allowed
    /// behaviours it does not use by default.
    pub liberties: Vec<String>,
    /// Where evidence files go (the report directory); none: not written.
    pub out: Option<PathBuf>,
    /// An EPD selecting a live target (default: any, for flash; `target` for plain).
    pub epd: Option<Vec<u8>>,
    /// The live target echoes flows (like `rtmfp serve`).
    pub echo: bool,
    /// Multiplies every time bound (slow live stacks).
    pub time_scale: f64,
    /// The tester's address for the udp target.
    pub bind: SocketAddr,
    /// The command line of this run without the selection, to build re-run commands.
    pub rerun: String,
    pub expectations: Option<Expectations>,
    /// Stop between cases when set (Ctrl-C, SIGTERM); the results say so.
    pub stop: crate::interrupt::Stop,
    /// Cases running at once (each with its own tester and sockets).
    pub jobs: usize,
    /// Report cases tagged `slow` as skipped instead of running them.
    pub skip_slow: bool,
    /// What the user declared about a live stack (`--target-keepalive` ...).
    pub declared: crate::declared::Declared,
    /// Listen mode: the command that starts the stack's initiator, per case.
    pub initiator_cmd: Option<String>,
    /// The tester's Flash-profile identity; None: [`Options::tester_identity`]'s default.
    pub tester_identity: Option<TesterIdentity>,
    /// Reference target: take the initiator's DH key from its certificate's
    /// first option (the Flash-era liberty, `FlashConfig::dh_key_from_first_option`).
    pub target_dh_key_from_first_option: bool,
    /// `--tc-app NAME`: the live target is a Flash-era application server; a
    /// `solicit` step sends it a TC `connect` for this application.
    pub tc_app: Option<String>,
}

impl Options {
    /// The tester identity of the run: as given, else Flash Player's against a
    /// live responder (the layout every Flash-era stack and rtmfp-cpp accept) and
    /// the server-style certificate against the reference target and in listen
    /// mode (where the tester is the responder).
    pub fn tester_identity(&self) -> TesterIdentity {
        match (&self.tester_identity, &self.target) {
            (Some(t), _) => t.clone(),
            // A target that reads the key from the first option meets the
            // identity that carries it there (Flash Player's).
            (None, Target::Reference) if self.target_first_option() => TesterIdentity::FlashPlayer,
            (None, Target::Reference) => TesterIdentity::Server,
            // Listen mode: the tester is the responder, selected by the
            // initiator's EPD (e.g. "any server"): a server's certificate.
            (None, Target::Listen(_)) => TesterIdentity::Server,
            (None, _) => TesterIdentity::FlashPlayer,
        }
    }

    /// `--tester-identity NAME` when the identity was defaulted (not given)
    /// and can matter (a Flash run, or the reference target, which adopts each
    /// scenario's profile): re-run commands are built from the arguments as
    /// typed, and must still reproduce the identity the run used.
    pub fn identity_arg(&self) -> Option<String> {
        let matters = self.profile == ProfileName::Flash || self.target == Target::Reference;
        (self.tester_identity.is_none() && matters && !matches!(self.target, Target::Pcap { .. }))
            .then(|| {
                let name = self.tester_identity().name();
                let quoted = if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                {
                    name
                } else {
                    format!("'{}'", name.replace('\'', "'\\''"))
                };
                format!("--tester-identity {quoted}")
            })
    }

    /// The reference target takes the initiator's DH key from its
    /// certificate's first option: set directly or by the liberty
    /// `dh-key-from-first-option` (alone or within `all`).
    pub fn target_first_option(&self) -> bool {
        self.target_dh_key_from_first_option
            || crate::liberties::expand(&self.liberties)
                .is_ok_and(|l| l.contains(&crate::liberties::DH_KEY_FROM_FIRST_OPTION))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: Target::Reference,
            profile: ProfileName::Flash,
            seed: 1,
            inject: Vec::new(),
            liberties: Vec::new(),
            out: None,
            epd: None,
            echo: true,
            time_scale: 1.0,
            bind: "0.0.0.0:0".parse().expect("valid"),
            rerun: "rtmfp-conformance run".into(),
            expectations: None,
            stop: crate::interrupt::Stop::default(),
            jobs: 1,
            skip_slow: false,
            declared: Default::default(),
            initiator_cmd: None,
            tester_identity: None,
            target_dh_key_from_first_option: false,
            tc_app: None,
        }
    }
}

// -------------------------------------------------------------- expectations

/// Known deviations of one implementation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Which implementation this describes (for people).
    #[serde(default)]
    pub implementation: String,
    #[serde(default)]
    pub expected: Vec<Expected>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// A case ID or glob.
    pub case: String,
    /// The outcome it is known to have (fail, warn or unsupported); absent with
    /// `skip: true`.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Do not run it at all.
    #[serde(default)]
    pub skip: bool,
    pub reason: String,
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())
    }

    /// Parses and validates an expectations file's text (`source` names it in errors).
    pub fn parse(text: &str, source: &str) -> Result<Expectations, ExpectationsError> {
        let e: Expectations = serde_yaml_ng::from_str(text).map_err(|error| {
            let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
            ExpectationsError::Yaml {
                source: source.to_string(),
                line_text: line
                    .checked_sub(1)
                    .and_then(|i| text.lines().nth(i))
                    .map(str::to_string),
                line,
                column,
                error,
            }
        })?;
        for x in &e.expected {
            if x.outcome.is_none() && !x.skip {
                return Err(ExpectationsError::Invalid(format!(
                    "{source}: `{}`: give `outcome:` or `skip: true`",
                    x.case
                )));
            }
        }
        Ok(e)
    }

    fn find(&self, id: &str) -> Option<&Expected> {
        self.expected
            .iter()
            .find(|x| crate::scenario::glob(&x.case, id))
    }
}

/// Why an expectations file was rejected. It keeps what the message needs (the
/// place, the YAML error, the line) and renders the message, with the line and
/// a caret under the place, only when displayed: a caller that only checks
/// `is_err()` pays for no formatting.
#[derive(Debug)]
pub enum ExpectationsError {
    /// Not YAML, or not the expectations' schema.
    Yaml {
        source: String,
        line: usize,
        column: usize,
        /// The text of line `line` (none when the position is past the end).
        line_text: Option<String>,
        error: serde_yaml_ng::Error,
    },
    /// Well-formed, but an entry is incomplete (the whole message).
    Invalid(String),
}

impl std::fmt::Display for ExpectationsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectationsError::Yaml {
                source,
                line,
                column,
                line_text,
                error,
            } => {
                write!(
                    f,
                    "{source}:{line}:{column}: {}",
                    crate::diagnostic::serde_message(&error.to_string())
                )?;
                // The line itself, with a caret under the place.
                let snip = line_text.as_deref().map_or(String::new(), |t| {
                    crate::diagnostic::line_snippet(t, *line, *column, "here", false)
                });
                if !snip.trim().is_empty() {
                    write!(f, "\n{snip}")?;
                }
                Ok(())
            }
            ExpectationsError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ExpectationsError {}

// ---------------------------------------------------------------- profiles

/// The identities of a run (built once: key generation is not free).
#[derive(Clone)]
pub struct Identity {
    pub tester: Arc<dyn CryptoProfile>,
    pub target: Arc<dyn CryptoProfile>,
}

pub fn identity(p: ProfileName, seed: u64) -> Result<Identity, String> {
    identity_named(p, seed, "tester")
}

/// As [`identity`], with `name` as the tester's plain-profile identity (a
/// flash certificate keeps the hostname `tester`; its fingerprint follows the
/// seed).
pub fn identity_named(p: ProfileName, seed: u64, name: &str) -> Result<Identity, String> {
    identity_for(p, seed, &TesterIdentity::Server, false, name)
}

/// The identities with the tester's chosen (flash) identity; `first_option`:
/// the reference target takes the far end's DH key from its certificate's
/// first option; `name`: the tester's plain-profile identity.
pub fn identity_for(
    p: ProfileName,
    seed: u64,
    tester: &TesterIdentity,
    first_option: bool,
    name: &str,
) -> Result<Identity, String> {
    Ok(match p {
        ProfileName::Plain => Identity {
            tester: Arc::new(PlainProfile::new(name.as_bytes().to_vec())),
            target: Arc::new(PlainProfile::new(b"target".to_vec())),
        },
        ProfileName::Flash => {
            let make = |name: &str, s: u64| -> Result<Arc<dyn CryptoProfile>, String> {
                let mut c = FlashConfig::server(true);
                c.hostname = Some(name.as_bytes().to_vec());
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(s);
                FlashProfile::new(c, &mut rng)
                    .map(|p| Arc::new(p) as Arc<dyn CryptoProfile>)
                    .map_err(|e| e.to_string())
            };
            let target = if first_option {
                let mut c = FlashConfig::server(true);
                c.hostname = Some(b"target".to_vec());
                c.dh_key_from_first_option = true;
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed ^ 0x7a46);
                Arc::new(FlashProfile::new(c, &mut rng).map_err(|e| e.to_string())?)
                    as Arc<dyn CryptoProfile>
            } else {
                make("target", seed ^ 0x7a46)?
            };
            let tester = match tester {
                TesterIdentity::Server => make("tester", seed ^ 0x7e57)?,
                t => t.profile(seed ^ 0x7e57)?,
            };
            Identity { tester, target }
        }
    })
}

// ------------------------------------------------------------------- running

/// Runs the selected scenarios; `progress` is told after each case.
pub fn run(
    scenarios: &[&Scenario],
    opts: &Options,
    mut progress: impl FnMut(&Case),
) -> Result<Results, String> {
    let started = chrono_like_now();
    let t0 = std::time::Instant::now();
    let ids: std::sync::Mutex<BTreeMap<&'static str, Identity>> = Default::default();
    let mut target_config = EndpointConfig::default();
    for f in &opts.inject {
        target_config.faults.set(f)?;
    }
    let mut app = crate::liberties::AppSettings::default();
    let liberties = crate::liberties::expand(&opts.liberties)?;
    crate::liberties::apply(&liberties, &mut target_config, &mut app);
    let live = !matches!(opts.target, Target::Reference);
    let cut: std::sync::Mutex<Option<String>> = Default::default();
    let outcomes = crate::schedule::run_all(
        scenarios,
        opts.jobs,
        |s| crate::schedule::estimate(s),
        |s| {
            // Ctrl-C / SIGTERM: cases not yet started are left out.
            if opts.stop.requested() {
                return Ok(None);
            }
            let case = run_one(s, opts, &target_config, app, &ids)?;
            if opts.stop.requested() && live {
                // Its waits were cut short: not judged.
                if let Ok(mut c) = cut.lock() {
                    c.get_or_insert(case.id);
                }
                return Ok(None);
            }
            Ok(Some(case))
        },
        |c: &Option<Case>| {
            if let Some(c) = c {
                progress(c)
            }
        },
    )?;
    let cases: Vec<Case> = outcomes.into_iter().flatten().collect();
    let ran = cases.len();
    let mut r = results(opts.target.name(), started, t0.elapsed(), opts, cases);
    if ran < scenarios.len() {
        let cut = cut.into_inner().ok().flatten();
        r.interrupted = Some(format!(
            "interrupted after {ran} of {} cases{}",
            scenarios.len(),
            cut.map(|c| format!(" ({c} was stopped while running and is not judged)"))
                .unwrap_or_default()
        ));
    }
    Ok(r)
}

/// Builds the results around `cases`: catalogue, coverage, sections, RFC text.
pub fn results(
    target: String,
    started: String,
    took: Duration,
    opts: &Options,
    cases: Vec<Case>,
) -> Results {
    let obs = requirements::observability();
    let mut by_req: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        for r in &c.requirements {
            by_req.entry(r.as_str()).or_default().push(c);
        }
    }
    let reqs = requirements::catalogue()
        .iter()
        .map(|r| {
            let o = obs.get(&r.id);
            let cs = by_req.get(r.id.as_str()).cloned().unwrap_or_default();
            model::Requirement {
                id: r.id.clone(),
                section: r.section.clone(),
                section_title: r.section_title.clone(),
                keyword: r.keyword.as_str().to_string(),
                text: r.text.clone(),
                line: r.line,
                observable: o.is_some_and(|o| o.observable),
                reason: o.and_then(|o| o.reason.clone()),
                cases: cs.iter().map(|c| c.id.clone()).collect(),
                proven_by: Vec::new(),
                outcome: worst(cs.iter().map(|c| c.outcome)),
            }
        })
        .collect();
    let sections = requirements::sections(requirements::RFC7016)
        .into_iter()
        .map(|s| model::Section {
            number: s.number,
            title: s.title,
            line: s.line,
        })
        .collect();
    Results {
        target,
        started,
        duration_ms: took.as_millis() as u64,
        seed: opts.seed,
        command: opts.rerun.clone(),
        cases,
        requirements: reqs,
        sections,
        rfc_text: requirements::RFC7016.to_string(),
        interrupted: None,
        inconclusive: None,
    }
}

fn worst(outcomes: impl Iterator<Item = Outcome>) -> Option<Outcome> {
    let rank = |o: &Outcome| match o {
        Outcome::Fail => 4,
        Outcome::Warn => 3,
        Outcome::Pass => 2,
        Outcome::Unsupported => 1,
        Outcome::Skipped => 0,
    };
    outcomes.max_by_key(rank)
}

/// The time now as an RFC 3339 UTC time, to the second (`2026-12-06T22:40:00Z`).
pub fn chrono_like_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn base_case(s: &Scenario, opts: &Options) -> Case {
    Case {
        id: s.id.clone(),
        title: s.title.clone(),
        rfc: s.rfc.clone(),
        requirements: s.requirements.clone(),
        tags: s.tags.clone(),
        level: match s.level(requirements::catalogue()) {
            Level::Must => "must".into(),
            Level::Should => "should".into(),
            Level::May => "may".into(),
        },
        outcome: Outcome::Skipped,
        reason: None,
        duration_ms: 0,
        rerun: format!("{} '{}'", opts.rerun, s.id),
        steps: Vec::new(),
        evidence: None,
    }
}

/// Why a scenario cannot run on this target, if it cannot.
fn unsupported(s: &Scenario, opts: &Options, profile: ProfileName) -> Option<String> {
    let live = !matches!(opts.target, Target::Reference);
    // A live stack speaks the run's profile; the reference target adopts the
    // scenario's.
    let _ = profile;
    let profile = opts.profile;
    match (s.profile, profile) {
        (ProfileReq::Flash, ProfileName::Plain) | (ProfileReq::Plain, ProfileName::Flash)
            if live =>
        {
            return Some(
                format!(
                    "needs the {:?} profile; the run uses {profile:?}",
                    s.profile
                )
                .to_lowercase(),
            );
        }
        _ => {}
    }
    if !live {
        return None;
    }
    let listen = matches!(opts.target, Target::Listen(_));
    if s.role == Role::Responder && !listen {
        return Some(
            "the target must initiate: run with --listen and start your stack's initiator".into(),
        );
    }
    if s.role == Role::Initiator && listen {
        return Some("the tester must initiate: run with --target udp://HOST:PORT".into());
    }
    if listen
        && opts.initiator_cmd.is_some()
        && let n @ 2.. = openings(s)
    {
        // Each opening the case asks for starts the initiator command again,
        // and two processes are two initiators: what a case relates across
        // openings (a tag unique among "that initiator's" openings, RFC 7016
        // §3.5.1.1.1; anything one endpoint must keep between its sessions)
        // cannot be judged across processes.
        return Some(format!(
            "relates {n} openings by the target, but --initiator-cmd starts a new initiator process for each, \
             and two processes are two initiators (RFC 7016 §3.5.1.1.1: a tag unique among that initiator's \
             openings)"
        ));
    }
    if listen {
        // A live initiator starts when its user starts it: a case that acts
        // before the target initiates, or that has the target initiate at a
        // chosen moment (`accept: {wait: false}`), needs the reference target
        // or an --initiator-cmd, which the tester runs at that moment.
        let mut before_accept = true;
        for step in &s.steps {
            match step {
                crate::scenario::Step::Accept(a) if !a.wait && opts.initiator_cmd.is_none() => {
                    return Some(
                        "needs the target to start initiating at a moment the tester chooses (reference target)"
                            .into(),
                    );
                }
                crate::scenario::Step::Accept(_) => before_accept = false,
                // A live initiator is not known to answer sessions too (glare
                // needs both ends to be responders as well).
                crate::scenario::Step::Connect(_) => {
                    return Some(
                        "needs the target to answer a session the tester opens as well as initiate (reference target)"
                            .into(),
                    );
                }
                // A network fault can be armed before the target initiates;
                // a packet cannot be sent to an initiator not there yet.
                crate::scenario::Step::Send(_) if before_accept => {
                    return Some(
                        "acts before the target initiates, so needs the target to start when told (reference target)"
                            .into(),
                    );
                }
                _ => {}
            }
        }
    }
    for n in &s.needs {
        match n {
            Capability::Echo if !opts.echo => {
                return Some("needs a target that echoes flows (drop --no-echo)".into());
            }
            Capability::UserData if !opts.echo && opts.tc_app.is_none() => {
                return Some(
                    "needs a target that sends user data: one that echoes flows (drop --no-echo) or an application server (--tc-app NAME)"
                        .into(),
                );
            }
            Capability::ReferenceOnly => {
                return Some("needs settings only the reference target has".into());
            }
            _ => {}
        }
    }
    opts.declared.fit(&s.target, opts.echo).err()
}

/// How many times a scenario makes the target initiate (`accept` steps that
/// start an initiation; one with `initiate: false` takes an earlier one's).
pub fn openings(s: &Scenario) -> usize {
    s.steps
        .iter()
        .filter(|st| matches!(st, crate::scenario::Step::Accept(a) if a.initiate))
        .count()
}

fn run_one(
    s: &Scenario,
    opts: &Options,
    target_config: &EndpointConfig,
    app: crate::liberties::AppSettings,
    ids: &std::sync::Mutex<BTreeMap<&'static str, Identity>>,
) -> Result<Case, String> {
    let mut case = base_case(s, opts);
    let t0 = std::time::Instant::now();
    if let Some(x) = opts.expectations.as_ref().and_then(|e| e.find(&s.id))
        && x.skip
    {
        case.reason = Some(format!("skipped by the expectations file: {}", x.reason));
        return Ok(case);
    }
    let profile = match s.profile {
        ProfileReq::Any => opts.profile,
        ProfileReq::Flash => ProfileName::Flash,
        ProfileReq::Plain => ProfileName::Plain,
    };
    if let Some(why) = unsupported(s, opts, profile) {
        case.outcome = Outcome::Unsupported;
        case.reason = Some(why);
        return Ok(case);
    }
    if opts.skip_slow && s.tags.iter().any(|t| t == "slow") {
        case.reason = Some(format!(
            "left out: tagged slow (waits about {} s in real time, as the RFC imposes); run with --include-slow or select tag:slow",
            crate::schedule::estimate(s).as_secs()
        ));
        return Ok(case);
    }
    let key = match profile {
        ProfileName::Flash => "flash",
        ProfileName::Plain => "plain",
    };
    let id = if matches!(opts.target, Target::Udp(_)) {
        // Concurrent cases must not look like one peer to a live target (a
        // Forwarder would pass one case's IHello into another case's session):
        // each case has a tester identity of its own.
        let seed = opts.seed ^ fnv(&s.id);
        identity_for(
            profile,
            seed,
            &opts.tester_identity(),
            opts.target_first_option(),
            &format!("tester-{:04x}", seed & 0xffff),
        )?
    } else {
        let mut ids = ids.lock().map_err(|_| "a case panicked".to_string())?;
        if !ids.contains_key(key) {
            ids.insert(
                key,
                identity_for(
                    profile,
                    opts.seed,
                    &opts.tester_identity(),
                    opts.target_first_option(),
                    "tester",
                )?,
            );
        }
        ids[key].clone()
    };
    let id = &id;
    let live = !matches!(opts.target, Target::Reference);
    let fit = if live {
        opts.declared.fit(&s.target, opts.echo)?
    } else {
        crate::declared::Fit {
            time_factor: 1.0,
            tester_rejects_flows: false,
        }
    };
    let decode_profile = match profile {
        ProfileName::Flash => Profile::Flash,
        ProfileName::Plain => Profile::Plain,
    };
    let tester_epd = id.tester.canonical_epd(id.tester.certificate());
    let seed = opts.seed ^ fnv(&s.id);
    let initiators: std::rc::Rc<std::cell::RefCell<Vec<crate::initiator::Started>>> =
        Default::default();
    let mut harness: Box<dyn Harness> = match &opts.target {
        Target::Reference => {
            let mut cfg = target_config.clone();
            if let Some(k) = s.target.keepalive {
                cfg.keepalive = k;
            }
            cfg.accept_flows = !s.target.reject_flows;
            cfg.redirect_to_forwarded_peer = s.target.redirect_forwarded;
            // The scenario's own settings win over liberties.
            cfg.forwarder |= s.target.redirect_forwarded;
            if let Some(b) = s.target.receive_buffer {
                cfg.receive_buffer = b;
            }
            if let Some(m) = s.target.max_startup_packet {
                cfg.max_startup_packet = m;
            }
            if let Some(i) = s.target.idle_close {
                cfg.idle_close = Some(i);
            }
            Box::new(SimHarness::new(
                seed,
                id.tester.clone(),
                id.target.clone(),
                cfg,
                crate::liberties::AppSettings {
                    sink: s.target.sink,
                    ..app
                },
            ))
        }
        Target::Udp(a) => {
            let mut h =
                UdpHarness::new(id.tester.clone(), Some(*a), opts.bind, seed).map_err(|e| {
                    format!("cannot bind the tester's UDP socket to {}: {e}", opts.bind)
                })?;
            h.echoes = opts.echo;
            Box::new(h)
        }
        Target::Listen(a) => {
            let mut h = UdpHarness::new(id.tester.clone(), None, *a, seed)
                .map_err(|e| format!("cannot listen on {a}: {e}"))?;
            h.echoes = opts.echo;
            if let Some(cmd) = &opts.initiator_cmd {
                // The stack's initiator, started whenever the case makes the
                // target initiate, stopped (its process group) when it ends.
                let cmd = crate::initiator::substitute(cmd, h.tester_addr());
                let log = match &opts.out {
                    Some(dir) => {
                        let ev = dir.join("evidence");
                        std::fs::create_dir_all(&ev)
                            .map_err(|e| format!("{}: {e}", ev.display()))?;
                        let base = rtmfp_reports::case_file_name(&s.id);
                        Some(ev.join(format!("{}.initiator.log", base.trim_end_matches(".html"))))
                    }
                    None => None,
                };
                let started = initiators.clone();
                h.on_initiate = Some(Box::new(move || {
                    let p = crate::initiator::Started::spawn(&cmd, log.as_deref())?;
                    started.borrow_mut().push(p);
                    Ok(())
                }));
            }
            Box::new(h)
        }
        Target::Pcap { .. } => return Err("the pcap target has no scenarios".into()),
    };
    let target_epd = match (&opts.target, &opts.epd) {
        (_, Some(e)) => e.clone(),
        (Target::Reference, None) => id.target.canonical_epd(id.target.certificate()),
        (_, None) => match profile {
            ProfileName::Flash => rtmfp::crypto::flash::epd::Epd::from_spec("any")?,
            ProfileName::Plain => b"server".to_vec(),
        },
    };
    let identities = Identities {
        target_epd,
        tester_epd,
        tester_certificate: id.tester.certificate().to_vec(),
        profile: decode_profile,
        time_scale: opts.time_scale * fit.time_factor,
        tc_app: opts.tc_app.clone(),
    };
    {
        let t = harness.tester();
        let mut t = t.borrow_mut();
        let c = t.config_mut();
        c.force_tcr = s.tester.time_critical_reverse;
        // Timestamps as Flash Player sends them: one in every packet (Flash-era
        // stacks read one from every packet; cases about their absence craft
        // their own headers).
        c.timestamp_every_packet = true;
        if let Some(b) = s.tester.receive_buffer {
            c.receive_buffer = b;
        }
        if fit.tester_rejects_flows {
            c.accept_flows = false;
        }
        if live && s.target.keepalive.is_some() {
            // The case waits for the target's keepalive: the tester stays
            // silent at least as long as the case may wait.
            let factor = (opts.time_scale * fit.time_factor).max(1.0) * 2.0;
            let wait = crate::schedule::estimate(s).as_secs_f64() * factor;
            c.keepalive = c
                .keepalive
                .max(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX));
        }
    }
    let mut ex = runner::execute(s, harness.as_mut(), &identities);
    for i in initiators.borrow_mut().iter_mut() {
        i.stop(Duration::from_millis(300));
    }
    if matches!(opts.target, Target::Listen(_))
        && ex.failure.is_some()
        && crate::initiator::never_came(&harness.records())
    {
        // Nobody initiated: nothing to judge (not a failure of the stack).
        ex.failure = None;
        ex.unjudged = Some(format!(
            "no session within {} s: the initiator never came{}",
            (5.0 * identities.time_scale).round(),
            if opts.initiator_cmd.is_some() {
                " (see its log in evidence/)"
            } else {
                " (start it per case with --initiator-cmd)"
            }
        ));
    }
    if !matches!(opts.target, Target::Reference) {
        // Leave a live target as found: close what this case opened, so that
        // its sessions do not linger into later cases.
        let now = harness.now();
        let tester = harness.tester();
        let open: Vec<_> = tester
            .borrow()
            .sessions()
            .filter(|x| x.state() == rtmfp::endpoint::State::S_OPEN)
            .map(|x| x.handle())
            .collect();
        for h in open {
            tester.borrow_mut().close(now, h, true);
        }
        let until = now + Duration::from_millis(100);
        harness.run(until, &mut |_, _| false);
    }
    case.duration_ms = t0.elapsed().as_millis() as u64;
    case.steps = ex.steps;
    case.outcome = match (&ex.failure, s.level(requirements::catalogue())) {
        // A failed positive control: the case could not be judged.
        _ if ex.control_failed.is_some() => Outcome::Unsupported,
        (None, _) if ex.unjudged.is_some() => Outcome::Unsupported,
        (None, _) => Outcome::Pass,
        (Some(_), Level::Must) => Outcome::Fail,
        (Some(_), Level::Should) => Outcome::Warn,
        // Optional behaviour not taken: never a failure or a warning.
        (Some(_), Level::May) => Outcome::Unsupported,
    };
    case.reason = match (ex.control_failed, ex.failure, ex.unjudged) {
        (Some(c), _, _) => Some(c),
        (None, Some(f), _) if s.level(requirements::catalogue()) == Level::May => Some(format!(
            "the target does not take this optional (MAY) behaviour: {f}"
        )),
        (None, f, u) => f.or(u),
    };
    if let Some(k) = ex.keying {
        // The session never keyed: nothing the case saw judges its rule.
        case.outcome = Outcome::Unsupported;
        case.reason = Some(k);
    }
    if let Some(x) = opts.expectations.as_ref().and_then(|e| e.find(&s.id)) {
        match (case.outcome, x.outcome) {
            (Outcome::Pass, _) => {
                case.reason = Some(format!(
                    "listed as a known deviation ({}) but passes: remove it from the expectations file",
                    x.reason
                ))
            }
            (actual, Some(expected)) if actual == expected => {
                case.reason = Some(format!(
                    "known deviation ({}); {:?} as expected: {}",
                    x.reason,
                    actual,
                    case.reason.clone().unwrap_or_default()
                ));
                case.outcome = Outcome::Skipped;
            }
            _ => {}
        }
    }
    let records = harness.records();
    let keylog = KeyLog {
        sessions: ex.observed.keylog.clone(),
    };
    let packets = trace(&records, &keylog, decode_profile, ex.start);
    let mut evidence = Evidence {
        packets,
        pcap: None,
        keylog: None,
    };
    if let Some(dir) = &opts.out {
        let base = rtmfp_reports::case_file_name(&s.id);
        let base = base.trim_end_matches(".html");
        let ev = dir.join("evidence");
        std::fs::create_dir_all(&ev).map_err(|e| format!("{}: {e}", ev.display()))?;
        let pcap = ev.join(format!("{base}.pcap"));
        write_pcap(&pcap, &records, ex.start).map_err(|e| format!("{}: {e}", pcap.display()))?;
        evidence.pcap = Some(format!("evidence/{base}.pcap"));
        let keys = ev.join(format!("{base}.keys"));
        let mut w = KeyLogWriter::new(
            std::fs::File::create(&keys).map_err(|e| format!("{}: {e}", keys.display()))?,
        );
        for k in &keylog.sessions {
            w.write_session(k.initiator, k.responder, &k.facts)
                .map_err(|e| format!("{}: {e}", keys.display()))?;
        }
        evidence.keylog = Some(format!("evidence/{base}.keys"));
    }
    case.evidence = Some(evidence);
    Ok(case)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The decoded exchange, for the report's trace and sequence chart.
pub fn trace(
    records: &[WireRecord],
    keylog: &KeyLog,
    profile: Profile,
    start: rtmfp::time::Instant,
) -> Vec<TracePacket> {
    let choice = match profile {
        Profile::Flash => ProfileChoice::Flash,
        Profile::Plain => ProfileChoice::Plain,
    };
    let mut dec = Decoder::new(Some(keylog), choice);
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let t = Duration::from_micros(r.time.as_micros().saturating_sub(start.as_micros()));
            let d = dec.decode(DatagramRef {
                index: i,
                time: t,
                src: r.src,
                dst: r.dst,
                payload: &r.data,
            });
            let (chunks, header) = describe_decoded(&d);
            TracePacket {
                time: t.as_secs_f64(),
                from: if r.from_tester { "tester" } else { "target" }.into(),
                src: r.src.to_string(),
                dst: r.dst.to_string(),
                chunks,
                header,
                note: r.note.clone(),
            }
        })
        .collect()
}

/// A decoded datagram's chunk lines and header line, for traces.
pub fn describe_decoded(d: &rtmfp::decode::DecodedPacket) -> (Vec<String>, String) {
    match &d.packet {
        Some(p) => (
            p.chunks
                .iter()
                .map(|c| rtmfp::describe::chunk_line(c, d.profile, false))
                .collect(),
            format!(
                "{} mode {} {}{}",
                match d.key {
                    Some(rtmfp::decode::KeyUsed::Default) => "startup",
                    _ => "session",
                },
                p.header.mode.name(),
                rtmfp::describe::header_flags(&p.header),
                d.session_id
                    .map(|s| format!(" sid={s:#010x}"))
                    .unwrap_or_default()
            ),
        ),
        None => (
            vec![match &d.status {
                rtmfp::decode::Status::Failed { reason }
                | rtmfp::decode::Status::Skipped { reason } => format!("undecodable: {reason}"),
                rtmfp::decode::Status::Decoded => "?".into(),
            }],
            format!("{} bytes", d.length),
        ),
    }
}

fn write_pcap(
    path: &Path,
    records: &[WireRecord],
    start: rtmfp::time::Instant,
) -> std::io::Result<()> {
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut w = rtmfp::capture::PcapWriter::create(path)?;
    for r in records {
        if r.note.as_deref().is_some_and(|n| n.starts_with("dropped")) && r.from_tester {
            // Never reached the wire.
            continue;
        }
        let t = base + Duration::from_micros(r.time.as_micros().saturating_sub(start.as_micros()));
        w.write_udp(t, r.src, r.dst, &r.data)?;
    }
    use std::io::Write;
    w.finish().flush()
}
