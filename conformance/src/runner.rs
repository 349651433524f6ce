//! Runs one scenario against a harness: executes its steps with the tester
//! endpoint, watches what the target sends (the tester's packet tap), checks the
//! expectations and records the evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value as Json, json};

use rtmfp::decode::Profile;
use rtmfp::endpoint::{Crafted, Event, Role, SessionHandle, State};
use rtmfp::keylog::KeyLogSession;
use rtmfp::session::SessionEvent;
use rtmfp::session::data::FlowOptions;
use rtmfp::time::Instant;
use rtmfp::wire::{Header, Mode, Packet};
use rtmfp_reports::model::StepResult;

use crate::harness::{Harness, NetFault};
use crate::scenario::{ExpectStep, Scenario, Since, Step};
use crate::values::{Vars, bytes, matches, path};

/// One packet (or undecodable datagram) the tester received from the target.
#[derive(Debug, Clone)]
pub struct Obs {
    pub time: Instant,
    /// The tester's session the packet belongs to (by its session ID).
    pub session: Option<SessionHandle>,
    pub from: SocketAddr,
    pub session_id: u32,
    pub default_key: bool,
    pub packet: Option<Packet>,
    /// The packet-level fields expectations match with `header:` (mode,
    /// timestamps, flags, `session_id`, `key`, `chunks`, `padding_len`).
    pub header: Json,
    /// Each chunk as `rtmfp dump --json` shows it.
    pub chunks: Vec<Json>,
    pub undecodable: Option<String>,
}

/// A receiving flow the target opened to the tester.
#[derive(Debug, Clone, Default)]
pub struct RecvFlowInfo {
    pub association: Option<u64>,
    pub metadata: Vec<u8>,
    pub messages: u32,
    pub complete: bool,
}

/// What the tester saw: packets and its own endpoint's events.
#[derive(Debug, Default)]
pub struct Observed {
    pub obs: Vec<Obs>,
    pub opened: Vec<(SessionHandle, Role)>,
    pub open_failed: Vec<(SessionHandle, String)>,
    pub closed: Vec<(SessionHandle, String)>,
    pub recv_flows: BTreeMap<u64, RecvFlowInfo>,
    pub send_exceptions: BTreeMap<u64, u64>,
    pub send_complete: BTreeSet<u64>,
    pub keylog: Vec<KeyLogSession>,
    profile: Option<Profile>,
}

impl Observed {
    fn absorb(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::Packet {
                session,
                from,
                session_id,
                default_key,
                plain,
            } => {
                let packet = Packet::parse(&plain).ok();
                let (header, chunks) = match &packet {
                    Some(p) => {
                        let mut h = serde_json::to_value(p.header).unwrap_or(Json::Null);
                        let mut chunks: Vec<Json> = p
                            .chunks
                            .iter()
                            .map(|c| rtmfp::describe::chunk_json(c, self.profile))
                            .collect();
                        imply_next_user_data(&mut chunks);
                        if let Json::Object(m) = &mut h {
                            m.insert("session_id".into(), json!(session_id));
                            m.insert(
                                "key".into(),
                                json!(if default_key { "default" } else { "session" }),
                            );
                            m.insert("padding_len".into(), json!(p.padding.len()));
                            m.insert(
                                "chunks".into(),
                                Json::Array(chunks.iter().map(|c| c["chunk"].clone()).collect()),
                            );
                            m.insert("length".into(), json!(plain.len()));
                            m.insert("time_us".into(), json!(now.as_micros()));
                        }
                        (h, chunks)
                    }
                    None => (Json::Null, Vec::new()),
                };
                let undecodable = packet
                    .is_none()
                    .then(|| "plain packet does not parse".to_string());
                self.obs.push(Obs {
                    time: now,
                    session,
                    from,
                    session_id,
                    default_key,
                    packet,
                    header,
                    chunks,
                    undecodable,
                });
            }
            Event::Undecodable {
                from,
                session_id,
                reason,
            } => self.obs.push(Obs {
                time: now,
                session: None,
                from,
                session_id: session_id.unwrap_or(0),
                default_key: false,
                packet: None,
                header: json!({"session_id": session_id, "reason": reason}),
                chunks: Vec::new(),
                undecodable: Some(reason),
            }),
            Event::SessionOpened { session, role, .. } => self.opened.push((session, role)),
            Event::SessionOpenFailed { session, reason } => {
                self.open_failed.push((session, reason))
            }
            Event::SessionClosed { session, reason } => self.closed.push((session, reason)),
            Event::KeyLog {
                initiator,
                responder,
                facts,
            } => self.keylog.push(KeyLogSession {
                initiator,
                responder,
                facts,
                line: 0,
            }),
            Event::Session { event, .. } => match event {
                SessionEvent::FlowOpened {
                    flow,
                    metadata,
                    association,
                } => {
                    self.recv_flows.insert(
                        flow,
                        RecvFlowInfo {
                            association,
                            metadata,
                            ..Default::default()
                        },
                    );
                }
                SessionEvent::Message { flow, .. } => {
                    self.recv_flows.entry(flow).or_default().messages += 1;
                }
                SessionEvent::FlowComplete { flow } => {
                    self.recv_flows.entry(flow).or_default().complete = true
                }
                SessionEvent::SendFlowException { flow, code } => {
                    self.send_exceptions.insert(flow, code);
                }
                SessionEvent::SendFlowComplete { flow } => {
                    self.send_complete.insert(flow);
                }
                _ => {}
            },
            Event::AddressChanged { .. } => {}
        }
    }
}

/// When the target sent a Close Request (session close, §3.5.5) that no step
/// of `s` expects: the time it did, in seconds since the case started.
fn unexpected_close(s: &Scenario, seen: &Observed, start: Instant) -> Option<f64> {
    let expected = s.steps.iter().any(|x| match x {
        Step::Expect(e) | Step::ExpectNone(e) => {
            e.chunk.as_ref().is_some_and(|c| c.contains("close"))
        }
        _ => false,
    });
    if expected {
        return None;
    }
    seen.obs
        .iter()
        .find(|o| o.chunks.iter().any(|c| c["chunk"] == "close"))
        .map(|o| secs(o.time, start))
}

/// RFC 7016 §2.3.12: a Next User Data chunk is User Data for the flow of the
/// preceding User Data or Next User Data chunk in the packet, with the next
/// sequence number (and so an fsnOffset one greater). Writes those implied
/// fields into its JSON, so an expectation on echoed data (`flow_id`,
/// `sequence_number`) matches either chunk type.
fn imply_next_user_data(chunks: &mut [Json]) {
    let mut prev: Option<(Json, u64, u64)> = None;
    for c in chunks.iter_mut() {
        match c["chunk"].as_str() {
            Some("user_data") => {
                prev = match (
                    c.get("flow_id").cloned(),
                    c["sequence_number"].as_u64(),
                    c["fsn_offset"].as_u64(),
                ) {
                    (Some(f), Some(sn), Some(o)) => Some((f, sn, o)),
                    _ => None,
                };
            }
            Some("next_user_data") => {
                if let (Some((f, sn, o)), Json::Object(m)) = (prev.as_mut(), &mut *c) {
                    *sn += 1;
                    *o += 1;
                    m.entry("flow_id").or_insert(f.clone());
                    m.entry("sequence_number").or_insert(json!(*sn));
                    m.entry("fsn_offset").or_insert(json!(*o));
                }
            }
            _ => prev = None,
        }
    }
}

/// Identities and names a case needs.
#[derive(Debug, Clone)]
pub struct Identities {
    /// An EPD that selects the target.
    pub target_epd: Vec<u8>,
    /// An EPD that selects the tester (for `accept`).
    pub tester_epd: Vec<u8>,
    pub tester_certificate: Vec<u8>,
    pub profile: Profile,
    /// Multiplies every `within` and `wait` (slow live stacks).
    pub time_scale: f64,
    /// `--tc-app NAME`: `solicit` sends a TC `connect` for this application.
    pub tc_app: Option<String>,
}

/// The result of running a scenario's steps.
#[derive(Debug)]
pub struct Executed {
    pub steps: Vec<StepResult>,
    /// The first failing step's reason.
    pub failure: Option<String>,
    /// A positive control that did not hold (the case is unsupported): its
    /// reason and what happened.
    pub control_failed: Option<String>,
    /// Nothing failed, but a check had nothing to judge (reported as unsupported).
    pub unjudged: Option<String>,
    /// A session the tester opened never keyed (see `crate::keying`): why.
    pub keying: Option<String>,
    pub observed: Observed,
    pub start: Instant,
}

/// A step's description with what was expected and what happened, as `Ok` when
/// it held and `Err` when it did not.
type StepOutcome = Result<(String, Option<String>, Option<String>), (String, String, String)>;

struct Runner<'a> {
    h: &'a mut dyn Harness,
    seen: Observed,
    vars: Vars,
    ids: &'a Identities,
    session: Option<SessionHandle>,
    /// Sessions a `connect` or `accept` step saw open: the ones the key-agreement
    /// check asks for (a session the case leaves half-open on purpose is not).
    adopted: Vec<SessionHandle>,
    /// Messages sent per tester flow.
    sent: BTreeMap<u64, u32>,
    action_mark: usize,
    match_mark: usize,
    start: Instant,
    /// Why the case could not be judged (an `invariants` step with nothing to
    /// apply a listed rule to).
    unjudged: Option<String>,
    /// Where the scenario file is (relative paths in steps start there).
    scenario_dir: std::path::PathBuf,
}

fn describe_names(n: &Option<crate::scenario::Names>) -> String {
    match n {
        None => "a packet".into(),
        Some(n) => n.list().join("|"),
    }
}

/// A deterministic message body: message `i` of `size` bytes.
pub fn message_body(i: u32, size: usize) -> Vec<u8> {
    (0..size)
        .map(|j| ((j as u32).wrapping_mul(7).wrapping_add(i) % 251) as u8)
        .collect()
}

impl<'a> Runner<'a> {
    fn now(&self) -> Instant {
        self.h.now()
    }

    fn scaled(&self, d: Duration) -> Duration {
        // Saturating: a scenario's duration may be as large as a Duration holds.
        Duration::try_from_secs_f64(d.as_secs_f64() * self.ids.time_scale.max(0.01))
            .unwrap_or(Duration::MAX)
    }

    /// Runs the network until `done` holds or `deadline` passes.
    fn pump(&mut self, deadline: Instant, mut done: impl FnMut(&Observed) -> bool) -> bool {
        if done(&self.seen) {
            return true;
        }
        let seen = &mut self.seen;
        self.h.run(deadline, &mut |now, ev| {
            seen.absorb(now, ev);
            done(seen)
        }) || done(&self.seen)
    }

    /// `solicit`: a TC `connect` on the control flow with `--tc-app`, else one
    /// message for the target to echo; either way the target's answer comes on
    /// a flow in return association with the new flow (`assert: {echoed: ...}`).
    fn solicit(&mut self, x: &crate::scenario::SolicitStep) -> StepOutcome {
        let d = "solicit user data from the target".to_string();
        let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
        let (metadata, body, what) = match &self.ids.tc_app {
            Some(app) => {
                let url = match self.h.target_addr() {
                    Some(a) => format!("rtmfp://{a}/{app}"),
                    None => format!("rtmfp:/{app}"),
                };
                (
                    crate::tc::control_flow_metadata(),
                    crate::tc::connect_message(app, &url),
                    format!("TC connect to {url}"),
                )
            }
            None => (
                b"rtmfp-conformance solicit".to_vec(),
                message_body(0, x.size),
                format!("a {}-byte message to echo", x.size),
            ),
        };
        let now = self.now();
        let t = self.h.tester();
        let f = t
            .borrow_mut()
            .open_flow(now, s, metadata, None, FlowOptions::default())
            .map_err(|e| (d.clone(), String::new(), e.to_string()))?;
        t.borrow_mut()
            .send(now, s, f, &body, None)
            .map_err(|e| (d.clone(), String::new(), e.to_string()))?;
        self.vars.set(&x.name, json!(f));
        self.sent.insert(f, 1);
        self.mark_action();
        Ok((format!("{d}: {what} on flow {f}"), None, None))
    }

    /// The key-agreement check (`crate::keying`) after the steps: every session
    /// a `connect` or `accept` step opened must have carried a verified packet from the target
    /// under the session key. One that did not is probed with a Ping if still
    /// open; one already gone counts only when the case failed (a case that
    /// closes a session it never needed keyed is not judged on it).
    fn keying_check(&mut self, failed: bool) -> Option<String> {
        use crate::keying::{self, SessionKeyEvidence};
        // An opening the tester gave up (glare, say) that the target still
        // answered with an RIKeying: the two ends disagree about which session
        // exists, so the target may never have held the one the case uses. Its
        // silence is that rule's outcome, not a keying failure.
        let adopted_sids: Vec<u32> = {
            let t = self.h.tester();
            let t = t.borrow();
            self.adopted
                .iter()
                .filter_map(|h| t.session(*h).map(|s| s.local_sid()))
                .collect()
        };
        if !self.seen.open_failed.is_empty()
            && self.seen.obs.iter().any(|o| {
                !adopted_sids.contains(&o.session_id)
                    && o.chunks.iter().any(|c| c["chunk"] == "rikeying")
            })
        {
            return None;
        }
        // Keys that agreed in any session of the case (a glare loser's twin,
        // say) prove the two ends derive the same keys: what failed is then
        // not the keying.
        if self
            .seen
            .obs
            .iter()
            .any(|o| o.session.is_some() && !o.default_key && o.packet.is_some())
        {
            return None;
        }
        let handles = self.adopted.clone();
        for h in handles {
            let local_sid = self.h.tester().borrow().session(h).map(|s| s.local_sid());
            let mut ev = SessionKeyEvidence::default();
            for o in &self.seen.obs {
                if o.session == Some(h) && !o.default_key && o.packet.is_some() {
                    ev.verified += 1;
                } else if o.packet.is_none() && Some(o.session_id) == local_sid {
                    ev.undecodable += 1;
                }
            }
            if ev.keyed() {
                continue;
            }
            let open = self
                .h
                .tester()
                .borrow()
                .session(h)
                .is_some_and(|s| s.state() == State::S_OPEN);
            if !open {
                if failed {
                    return Some(keying::failure_reason(
                        &ev,
                        "nothing from the target verified under the session key while it was open",
                    ));
                }
                continue;
            }
            let within = self.scaled(keying::PROBE_WAIT);
            let seen = &mut self.seen;
            if let Err(why) = keying::probe(self.h, h, within, &mut |now, e| seen.absorb(now, e)) {
                let mut why = why;
                if ev.undecodable > 0 {
                    why.push_str(&format!(
                        " (before the probe: {} undecodable datagram(s) to the session)",
                        ev.undecodable
                    ));
                }
                return Some(why);
            }
        }
        None
    }

    fn mark_action(&mut self) {
        self.action_mark = self.seen.obs.len();
    }

    fn session(&self) -> Result<SessionHandle, String> {
        self.session
            .ok_or_else(|| "no session: a `connect` or `accept` step must come first".to_string())
    }

    fn set_session_vars(&mut self, h: SessionHandle) {
        let t = self.h.tester();
        let t = t.borrow();
        if let Some(s) = t.session(h) {
            self.vars.set("session.id", json!(s.local_sid()));
            self.vars.set("session.far_id", json!(s.remote_sid()));
        }
    }

    fn flow_id(&self, v: &serde_yaml_ng::Value) -> Result<u64, String> {
        self.vars.resolve_u64(v)
    }

    fn step(&mut self, step: &Step) -> StepOutcome {
        // Returns Ok((description, expected, actual)) or Err((description, expected, actual)).
        let fail = |d: String, e: String, a: String| Err((d, e, a));
        match step {
            Step::Connect(c) => {
                let epd = match &c.epd {
                    Some(v) => self
                        .vars
                        .resolve_bytes(v)
                        .map_err(|e| ("connect".into(), String::new(), e))?,
                    None => self.ids.target_epd.clone(),
                };
                let Some(target) = self.h.target_addr() else {
                    return fail(
                        "connect".into(),
                        "a target address".into(),
                        "none (listen mode: use accept)".into(),
                    );
                };
                let now = self.now();
                let h = self.h.tester().borrow_mut().connect(now, epd, &[target]);
                self.session = Some(h);
                self.mark_action();
                let d = format!("connect to {target}");
                if !c.wait {
                    return Ok((d, None, None));
                }
                let deadline = now + self.scaled(c.within);
                self.pump(deadline, |s| {
                    s.opened.iter().any(|o| o.0 == h) || s.open_failed.iter().any(|o| o.0 == h)
                });
                if self.seen.opened.iter().any(|o| o.0 == h) {
                    self.set_session_vars(h);
                    self.adopted.push(h);
                    Ok((d, Some("session opens".into()), Some("S_OPEN".into())))
                } else {
                    let why = self
                        .seen
                        .open_failed
                        .iter()
                        .find(|o| o.0 == h)
                        .map_or(format!("not open after {:?}", c.within), |o| {
                            format!("open failed: {}", o.1)
                        });
                    fail(d, format!("session opens within {:?}", c.within), why)
                }
            }
            Step::Accept(a) => {
                let d = "accept a session from the target".to_string();
                if a.initiate {
                    if let Err(e) = self.h.target_connect(self.ids.tester_epd.clone()) {
                        return fail(d, "the target initiates".into(), e);
                    }
                    self.mark_action();
                }
                if !a.wait {
                    return Ok((format!("{d} (not waiting)"), None, None));
                }
                // Without `initiate`, the initiation (and its opening) came earlier.
                let already = if a.initiate {
                    self.seen.opened.len()
                } else {
                    0
                };
                let fits = |o: &(SessionHandle, Role)| a.any_role || o.1 == Role::Responder;
                let deadline = self.now() + self.scaled(a.within);
                self.pump(deadline, |s| s.opened[already..].iter().any(fits));
                match self.seen.opened[already..].iter().find(|o| fits(o)) {
                    Some(&(h, role)) => {
                        self.session = Some(h);
                        self.set_session_vars(h);
                        self.adopted.push(h);
                        let role = if role == Role::Responder {
                            "target initiated"
                        } else {
                            "tester initiated"
                        };
                        Ok((
                            d,
                            Some("session opens".into()),
                            Some(format!("S_OPEN ({role})")),
                        ))
                    }
                    None => fail(
                        d,
                        format!("the target opens a session within {:?}", a.within),
                        "it did not".into(),
                    ),
                }
            }
            Step::Send(x) => {
                let mut desc;
                let err = |e: String| ("send".to_string(), String::new(), e);
                if let Some(dg) = &x.datagram {
                    let data = self.vars.resolve_bytes(dg).map_err(err)?;
                    desc = format!("send raw datagram ({} bytes)", data.len());
                    self.h
                        .send_datagram(data, x.from_alternate)
                        .map_err(|e| (desc.clone(), String::new(), e))?;
                    self.mark_action();
                    return Ok((desc, None, None));
                }
                let mut chunks = Vec::new();
                for c in &x.chunks {
                    let j = self.vars.resolve_json(c).map_err(err)?;
                    chunks.push(crate::values::chunk_from(&j).map_err(err)?);
                }
                let names: Vec<&str> = chunks.iter().map(|c| c.name()).collect();
                desc = format!(
                    "send {}{}[{}]",
                    if x.session {
                        "session packet "
                    } else {
                        "startup packet "
                    },
                    if x.corrupt { "(corrupted) " } else { "" },
                    names.join(", ")
                );
                let session = if x.session {
                    Some(self.session().map_err(err)?)
                } else {
                    None
                };
                let header = match &x.header {
                    None => None,
                    Some(v) => {
                        let patch = self.vars.resolve_json(v).map_err(err)?;
                        let mode = match (session, self.session_role()) {
                            (None, _) => Mode::Startup,
                            (Some(_), Some(Role::Responder)) => Mode::Responder,
                            (Some(_), _) => Mode::Initiator,
                        };
                        let mut base = Header::new(mode);
                        base.timestamp = Some(self.now().timestamp_250hz());
                        let mut j = serde_json::to_value(base).unwrap_or(Json::Null);
                        if let (Json::Object(b), Json::Object(p)) = (&mut j, &patch) {
                            for (k, v) in p {
                                if v.is_null() {
                                    b.remove(k);
                                } else {
                                    b.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        Some(
                            serde_json::from_value::<Header>(j)
                                .map_err(|e| err(format!("header {patch}: {e}")))?,
                        )
                    }
                };
                let session_id = match &x.session_id {
                    Some(v) => Some(self.vars.resolve_u64(v).map_err(err)? as u32),
                    None => None,
                };
                let padding = match &x.padding {
                    Some(v) => self.vars.resolve_bytes(v).map_err(err)?,
                    None => Vec::new(),
                };
                let src = x.from_alternate.then(|| self.h.alternate_addr());
                let plain = match (&x.plain, &x.vector) {
                    (Some(v), _) => Some(self.vars.resolve_bytes(v).map_err(err)?),
                    (None, Some(v)) => Some(self.vector_plain(v).map_err(err)?),
                    (None, None) => None,
                };
                if let Some(p) = &plain {
                    desc = format!(
                        "send {} packet given as {} plain bytes{}{}",
                        if x.session { "session" } else { "startup" },
                        p.len(),
                        match &x.vector {
                            Some(v) => format!(" (packet {} of {})", v.packet, v.file.display()),
                            None => String::new(),
                        },
                        if x.corrupt { " (corrupted)" } else { "" }
                    );
                }
                let crafted = Crafted {
                    session,
                    session_id,
                    header,
                    chunks,
                    padding,
                    corrupt: x.corrupt,
                    src,
                    plain,
                };
                let now = self.now();
                let dst = self.h.target_addr();
                self.h
                    .tester()
                    .borrow_mut()
                    .send_crafted(now, dst, crafted)
                    .map_err(|e| (desc.clone(), String::new(), e))?;
                self.mark_action();
                Ok((desc, None, None))
            }
            Step::Solicit(x) => self.solicit(x),
            Step::Expect(e) => self.expect(e, false),
            Step::ExpectNone(e) => self.expect(e, true),
            Step::OpenFlow(o) => {
                let d = format!("open flow `{}`", o.name);
                let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
                let assoc = match &o.association {
                    Some(v) => Some(self.flow_id(v).map_err(|e| (d.clone(), String::new(), e))?),
                    None => None,
                };
                let md = bytes(&o.metadata).unwrap_or_else(|_| o.metadata.as_bytes().to_vec());
                let md = if o.metadata.starts_with("hex:") {
                    hex::decode(&o.metadata[4..])
                        .map_err(|e| (d.clone(), String::new(), e.to_string()))?
                } else if o.metadata.starts_with("text:") {
                    md
                } else {
                    o.metadata.as_bytes().to_vec()
                };
                let now = self.now();
                let f = self
                    .h
                    .tester()
                    .borrow_mut()
                    .open_flow(now, s, md, assoc, FlowOptions::default())
                    .map_err(|e| (d.clone(), String::new(), e.to_string()))?;
                self.vars.set(&o.name, json!(f));
                self.sent.insert(f, 0);
                self.mark_action();
                Ok((format!("{d} (flow ID {f})"), None, None))
            }
            Step::SendMessage(m) => {
                let d = format!("send {} message(s) of {} bytes", m.count, m.size);
                let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
                let f = self
                    .flow_id(&m.flow)
                    .map_err(|e| (d.clone(), String::new(), e))?;
                let now = self.now();
                let n0 = *self.sent.get(&f).unwrap_or(&0);
                for i in 0..m.count {
                    let body = message_body(n0 + i, m.size);
                    let deadline = m.deadline.map(|x| now + x);
                    self.h
                        .tester()
                        .borrow_mut()
                        .send(now, s, f, &body, deadline)
                        .map_err(|e| (d.clone(), String::new(), e.to_string()))?;
                }
                *self.sent.entry(f).or_default() += m.count;
                self.mark_action();
                Ok((format!("{d} on flow {f}"), None, None))
            }
            Step::CloseFlow(r) | Step::RejectFlow(r) => {
                let reject = matches!(step, Step::RejectFlow(_));
                let d = if reject { "reject flow" } else { "close flow" }.to_string();
                let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
                let f = self
                    .flow_id(&r.flow)
                    .map_err(|e| (d.clone(), String::new(), e))?;
                let now = self.now();
                let t = self.h.tester();
                let r = if reject {
                    t.borrow_mut().reject_flow(now, s, f, 1)
                } else {
                    t.borrow_mut().close_flow(now, s, f)
                };
                r.map_err(|e| (d.clone(), String::new(), e.to_string()))?;
                self.mark_action();
                Ok((format!("{d} {f}"), None, None))
            }
            Step::Fault(f) => {
                let mut set = serde_json::Map::new();
                for (k, v) in &f.set {
                    set.insert(
                        k.clone(),
                        self.vars
                            .resolve_json(v)
                            .map_err(|e| ("fault".into(), String::new(), e))?,
                    );
                }
                let d = format!(
                    "fault: {:?} the next {} {} from the {:?}",
                    f.action,
                    f.count,
                    describe_names(&f.chunk),
                    f.from
                )
                .to_lowercase();
                self.h.add_fault(NetFault {
                    action: f.action,
                    from: f.from,
                    chunk: f.chunk.clone(),
                    remaining: f.count,
                    by: f.by.unwrap_or(Duration::from_millis(30)),
                    set,
                    flip: f.flip.clone(),
                });
                Ok((d, None, None))
            }
            Step::Rebind(_) => {
                let a = self.h.rebind();
                self.vars.set("tester.address", json!(a.to_string()));
                self.mark_action();
                Ok((format!("the tester's address changes to {a}"), None, None))
            }
            Step::Wait(w) => {
                let d = self.scaled(w.duration);
                let deadline = self.now() + d;
                self.pump(deadline, |_| false);
                Ok((format!("wait {:?}", w.duration), None, None))
            }
            Step::Close(c) => {
                let d = format!(
                    "close the session{}",
                    if c.abrupt { " abruptly" } else { "" }
                );
                let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
                let now = self.now();
                self.h.tester().borrow_mut().close(now, s, c.abrupt);
                self.mark_action();
                Ok((d, None, None))
            }
            Step::Set(m) => {
                for (k, v) in m {
                    let j = self
                        .vars
                        .resolve_json(v)
                        .and_then(|j| crate::values::eval(&j))
                        .map_err(|e| ("set".into(), String::new(), e))?;
                    self.vars.set(k, j);
                }
                Ok((
                    format!("set {}", m.keys().cloned().collect::<Vec<_>>().join(", ")),
                    None,
                    None,
                ))
            }
            Step::Assert(a) => self.assert(a),
            Step::Invariants(n) => self.invariants(n),
        }
    }

    fn session_role(&self) -> Option<Role> {
        let h = self.session?;
        self.h.tester().borrow().session(h).map(|s| s.role())
    }

    fn expect(&mut self, e: &ExpectStep, none: bool) -> StepOutcome {
        let what = describe_names(&e.chunk);
        let mut conds: Vec<String> = Vec::new();
        let err = |x: String| (format!("expect {what}"), String::new(), x);
        let mut wh = BTreeMap::new();
        for (k, v) in &e.where_ {
            let j = self.vars.resolve_json(v).map_err(err)?;
            conds.push(crate::matcher_text::condition(k, &j));
            wh.insert(k.clone(), j);
        }
        let mut hd = BTreeMap::new();
        for (k, v) in &e.header {
            let j = self.vars.resolve_json(v).map_err(err)?;
            conds.push(crate::matcher_text::condition(&format!("header.{k}"), &j));
            hd.insert(k.clone(), j);
        }
        if let Some(k) = &e.key {
            conds.push(format!("key={k}"));
        }
        let within = self.scaled(e.within);
        let desc = e.what.clone().unwrap_or_else(|| {
            format!(
                "{} {}{}{} within {:?}",
                if none { "expect no" } else { "expect" },
                if e.undecodable {
                    "undecodable datagram".to_string()
                } else {
                    what.clone()
                },
                if conds.is_empty() { "" } else { " where " },
                conds.join(", "),
                e.within
            )
        });
        let from = match e.since {
            Since::Action => self.action_mark,
            Since::Start => 0,
            Since::Match => self.match_mark,
        };
        let matcher = |o: &Obs| -> Option<Option<Json>> { obs_match(o, e, &wh, &hd) };
        let find = |s: &Observed| {
            s.obs
                .iter()
                .enumerate()
                .skip(from)
                .find_map(|(i, o)| matcher(o).map(|c| (i, c)))
        };
        let deadline = self.now() + within;
        self.pump(deadline, |s| find(s).is_some());
        let found = find(&self.seen);
        let expected = format!(
            "{} {}{}{}",
            if none { "no" } else { "a" },
            if e.undecodable {
                "undecodable datagram".to_string()
            } else {
                what.clone()
            },
            if conds.is_empty() { "" } else { " with " },
            conds.join(", ")
        );
        match (found, none) {
            (Some((i, chunk)), false) => {
                self.match_mark = i + 1;
                let mut captured = Vec::new();
                for (name, p) in &e.capture {
                    let o = &self.seen.obs[i];
                    let v = if let Some(hp) = p.strip_prefix("packet.") {
                        path(&o.header, hp).cloned()
                    } else {
                        chunk.as_ref().and_then(|c| path(c, p)).cloned()
                    };
                    match v {
                        Some(v) => {
                            captured.push(format!("{name}={}", short_json(&v)));
                            self.vars.set(name, v);
                        }
                        None => {
                            return Err((
                                desc,
                                expected,
                                format!(
                                    "matched, but it has no field `{p}` to capture as `{name}`"
                                ),
                            ));
                        }
                    }
                }
                let o = &self.seen.obs[i];
                let mut actual =
                    format!("at +{:.3}s: {}", secs(o.time, self.start), obs_summary(o));
                if !captured.is_empty() {
                    actual.push_str(&format!(" (captured {})", captured.join(", ")));
                }
                Ok((desc, Some(expected), Some(actual)))
            }
            (None, false) => Err((desc, expected, self.received_since(from, within))),
            (Some((i, _)), true) => {
                let o = &self.seen.obs[i];
                Err((
                    desc,
                    expected,
                    format!("at +{:.3}s: {}", secs(o.time, self.start), obs_summary(o)),
                ))
            }
            (None, true) => Ok((desc, Some(expected), Some(format!("none in {within:?}")))),
        }
    }

    fn received_since(&self, from: usize, within: Duration) -> String {
        let got: Vec<String> = self
            .seen
            .obs
            .iter()
            .skip(from)
            .map(|o| format!("+{:.3}s {}", secs(o.time, self.start), obs_summary(o)))
            .collect();
        if got.is_empty() {
            format!("nothing received from the target in {within:?}")
        } else {
            let n = got.len();
            let tail: Vec<String> = got
                .into_iter()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("no match among {n} packet(s); last: {}", tail.join("; "))
        }
    }

    /// The decrypted plain bytes of a packet in a capture (`send: {vector}`).
    fn vector_plain(&self, v: &crate::scenario::VectorPacket) -> Result<Vec<u8>, String> {
        use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice, Status};
        let dir = self.scenario_dir.clone();
        let file = dir.join(&v.file);
        // Built-in scenarios read built-in captures (`crate::embedded`).
        let bytes = crate::embedded::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let capture = rtmfp::capture::read_bytes(&bytes).map_err(|e| e.to_string())?;
        let keylog = match &v.keys {
            Some(k) => {
                let k = dir.join(k);
                let text = crate::embedded::read_to_string(&k)
                    .map_err(|e| format!("{}: {e}", k.display()))?;
                Some(
                    rtmfp::keylog::KeyLog::parse(&text, &k.display().to_string())
                        .map_err(|e| e.to_string())?,
                )
            }
            None => None,
        };
        let mut dec = Decoder::new(keylog.as_ref(), ProfileChoice::Auto);
        for (rec, u) in capture.datagrams() {
            let d = dec.decode(DatagramRef {
                index: rec.index,
                time: rec.timestamp,
                src: u.src,
                dst: u.dst,
                payload: &u.payload,
            });
            if rec.index == v.packet {
                return match d.status {
                    Status::Decoded => Ok(d.plain),
                    Status::Failed { reason } | Status::Skipped { reason } => {
                        Err(format!("{} packet {}: {reason}", file.display(), v.packet))
                    }
                };
            }
        }
        Err(format!("{} has no packet {}", file.display(), v.packet))
    }

    /// Judges the target's packets so far (RFC rules checkable on a recording).
    fn invariants(&mut self, names: &crate::scenario::Names) -> StepOutcome {
        use crate::invariants::{INVARIANTS, Monitor, find};
        use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice, Status};
        let all = names.contains("all");
        let chosen: Vec<&crate::invariants::Invariant> = if all {
            INVARIANTS.iter().filter(|i| !i.should).collect()
        } else {
            names.list().iter().filter_map(|n| find(n)).collect()
        };
        let description = format!(
            "invariants {}",
            chosen.iter().map(|i| i.name).collect::<Vec<_>>().join(", ")
        );
        let keylog = rtmfp::keylog::KeyLog {
            sessions: self.seen.keylog.clone(),
        };
        let choice = match self.ids.profile {
            Profile::Flash => ProfileChoice::Flash,
            Profile::Plain => ProfileChoice::Plain,
        };
        let mut dec = Decoder::new(Some(&keylog), choice);
        let mut m = Monitor::new();
        for (i, r) in self.h.records().iter().enumerate() {
            if r.from_tester && r.note.as_deref().is_some_and(|n| n.starts_with("dropped")) {
                continue;
            }
            let d = dec.decode(DatagramRef {
                index: i + 1,
                time: Duration::from_micros(r.time.as_micros()),
                src: r.src,
                dst: r.dst,
                payload: &r.data,
            });
            if matches!(d.status, Status::Skipped { .. }) {
                continue;
            }
            m.packet(&d, !r.from_tester);
        }
        let report = m.finish();
        let mut problems = Vec::new();
        let mut counts = Vec::new();
        let mut nothing = Vec::new();
        for inv in &chosen {
            let n = report.checked.get(inv.name).copied().unwrap_or(0);
            counts.push(format!("{} {n}", inv.name));
            for f in report.findings_of(inv.name).take(3) {
                problems.push(format!(
                    "{}: datagram #{} at {:.3} s: {}",
                    inv.name,
                    f.index,
                    f.time - self.start.as_micros() as f64 / 1e6,
                    f.message
                ));
            }
            if n == 0 && !all {
                nothing.push(inv.name);
            }
        }
        let expected = if all {
            "the target's packets keep every MUST-level recording invariant".to_string()
        } else {
            chosen
                .iter()
                .map(|i| i.title)
                .collect::<Vec<_>>()
                .join("; ")
        };
        if problems.is_empty() {
            if !nothing.is_empty() {
                // Not judgeable rather than passed: what the rule needs (data,
                // acknowledgements, no loss, ...) did not happen in this run.
                self.unjudged.get_or_insert(format!(
                    "the target sent nothing that {} could be judged on",
                    nothing.join(", ")
                ));
            }
            Ok((
                description,
                Some(expected),
                Some(format!("checked: {}", counts.join(", "))),
            ))
        } else {
            Err((description, expected, problems.join("; ")))
        }
    }

    fn assert(&mut self, a: &crate::scenario::AssertStep) -> StepOutcome {
        if let Some(state) = &a.session {
            let d = format!("assert the session is {state}");
            let s = self.session().map_err(|e| (d.clone(), String::new(), e))?;
            let t = self.h.tester();
            let st = t.borrow().session(s).map(|x| x.state());
            let closed = self.seen.closed.iter().any(|c| c.0 == s);
            let actual = match st {
                Some(State::S_OPEN) => "open",
                Some(State::S_CLOSED) | None => "closed",
                Some(State::S_OPEN_FAILED) => "open failed",
                Some(State::S_NEARCLOSE) | Some(State::S_FARCLOSE_LINGER) => "closing",
                Some(_) => "opening",
            };
            let actual = if closed && actual != "closing" {
                "closed"
            } else {
                actual
            };
            return if actual == state {
                Ok((d, Some(state.clone()), Some(actual.into())))
            } else {
                Err((d, state.clone(), actual.into()))
            };
        }
        if let Some(e) = &a.echoed {
            let f = self
                .flow_id(&e.flow)
                .map_err(|x| ("assert echoed".into(), String::new(), x))?;
            let want = e.count.unwrap_or_else(|| *self.sent.get(&f).unwrap_or(&0));
            let d = format!(
                "assert {want} message(s) of flow {f} come back on a return flow within {:?}",
                e.within
            );
            let count = |s: &Observed| -> u32 {
                s.recv_flows
                    .values()
                    .filter(|r| r.association == Some(f))
                    .map(|r| r.messages)
                    .sum()
            };
            let deadline = self.now() + self.scaled(e.within);
            self.pump(deadline, |s| count(s) >= want);
            let got = count(&self.seen);
            return if got >= want {
                Ok((
                    d,
                    Some(format!("{want} message(s)")),
                    Some(format!("{got} message(s)")),
                ))
            } else {
                Err((d, format!("{want} message(s)"), format!("{got} message(s)")))
            };
        }
        if let Some(r) = &a.acknowledged {
            let f = self
                .flow_id(&r.flow)
                .map_err(|x| ("assert acknowledged".into(), String::new(), x))?;
            let s = self
                .session()
                .map_err(|x| ("assert acknowledged".into(), String::new(), x))?;
            let d = format!("assert everything sent on flow {f} is acknowledged within 5s");
            let t = self.h.tester();
            let pending = move || -> Option<(usize, usize)> {
                let t = t.borrow();
                let sf = t.session(s)?.data().send_flow(f)?;
                Some((sf.outstanding(), sf.queued()))
            };
            let deadline = self.now() + self.scaled(Duration::from_secs(5));
            let p2 = pending.clone();
            self.pump(deadline, move |_| {
                p2().is_none_or(|(o, q)| o == 0 && q == 0)
            });
            return match pending() {
                Some((o, q)) if o + q > 0 => Err((
                    d,
                    "nothing outstanding".into(),
                    format!("{o} fragment(s) in flight, {q} queued"),
                )),
                _ => Ok((
                    d,
                    Some("nothing outstanding".into()),
                    Some("all acknowledged".into()),
                )),
            };
        }
        Err((
            "assert".into(),
            "one of session, echoed, acknowledged".into(),
            "nothing to assert".into(),
        ))
    }
}

fn secs(t: Instant, start: Instant) -> f64 {
    t.as_micros().saturating_sub(start.as_micros()) as f64 / 1e6
}

fn short_json(v: &Json) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..40])
    } else {
        s
    }
}

/// One line for a received packet: key, mode and chunk names.
pub fn obs_summary(o: &Obs) -> String {
    match &o.packet {
        None => format!(
            "undecodable datagram ({})",
            o.undecodable.as_deref().unwrap_or("?")
        ),
        Some(p) => {
            let names: Vec<String> = o
                .chunks
                .iter()
                .map(|c| {
                    let n = c["chunk"].as_str().unwrap_or("?");
                    match c.get("flow_id") {
                        Some(f) => format!("{n}(flow {f})"),
                        None => n.to_string(),
                    }
                })
                .collect();
            format!(
                "{} mode-{} packet [{}]",
                if o.default_key { "startup" } else { "session" },
                p.header.mode.name(),
                names.join(", ")
            )
        }
    }
}

/// Whether an observation matches an expectation; on a match, the matched
/// chunk's JSON (None when matching a whole packet).
fn obs_match(
    o: &Obs,
    e: &ExpectStep,
    wh: &BTreeMap<String, Json>,
    hd: &BTreeMap<String, Json>,
) -> Option<Option<Json>> {
    if e.undecodable {
        return (o.undecodable.is_some()).then_some(None);
    }
    o.packet.as_ref()?;
    match e.key.as_deref() {
        Some("default") if !o.default_key => return None,
        Some("session") if o.default_key => return None,
        _ => {}
    }
    if !hd.iter().all(|(k, v)| matches(v, path(&o.header, k))) {
        return None;
    }
    if e.chunk.is_none() && wh.is_empty() {
        return Some(None);
    }
    o.chunks
        .iter()
        .find(|c| {
            let name = c["chunk"].as_str().unwrap_or("");
            e.chunk.as_ref().is_none_or(|n| n.contains(name))
                && wh.iter().all(|(k, v)| matches(v, path(c, k)))
        })
        .map(|c| Some(c.clone()))
}

/// Runs every step of `s` on `h`, stopping at the first failing step (the rest
/// are reported as not run).
pub fn execute(s: &Scenario, h: &mut dyn Harness, ids: &Identities) -> Executed {
    let start = h.now();
    let mut vars = Vars::default();
    vars.set("target.epd", json!(hex::encode(&ids.target_epd)));
    vars.set("tester.epd", json!(hex::encode(&ids.tester_epd)));
    vars.set(
        "tester.certificate",
        json!(hex::encode(&ids.tester_certificate)),
    );
    if let Some(a) = h.target_addr() {
        vars.set("target.address", json!(a.to_string()));
    }
    vars.set("tester.address", json!(h.tester_addr().to_string()));
    vars.set("tester.alternate", json!(h.alternate_addr().to_string()));
    let (a, b) = {
        let t = h.tester();
        let mut t = t.borrow_mut();
        (t.random_u64(), t.random_u64())
    };
    let r16 = (u128::from(a) << 64) | u128::from(b);
    vars.set("random16", json!(format!("{r16:032x}")));
    let seen = Observed {
        profile: Some(ids.profile),
        ..Default::default()
    };
    let mut r = Runner {
        h,
        seen,
        vars,
        ids,
        session: None,
        adopted: Vec::new(),
        sent: BTreeMap::new(),
        action_mark: 0,
        match_mark: 0,
        start,
        unjudged: None,
        scenario_dir: s
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
    };
    let mut steps = Vec::new();
    let mut failure = None;
    let mut control_failed = None;
    // After a failure the remaining actions and positive controls still run
    // (other judgements do not): a failure counts only if every control holds.
    let mut stopped = false;
    for (i, step) in s.steps.iter().enumerate() {
        let judged_after_failure = failure.is_some() && step.judges() && step.control().is_none();
        if stopped || control_failed.is_some() || judged_after_failure {
            steps.push(StepResult {
                description: format!(
                    "{} (not {})",
                    step.name(),
                    if judged_after_failure && !stopped && control_failed.is_none() {
                        "judged: an earlier step failed"
                    } else {
                        "run"
                    }
                ),
                ok: false,
                expected: None,
                actual: None,
            });
            continue;
        }
        let outcome = r.step(step).map_err(|(d, e, a)| match step.control() {
            Some(_) => (format!("control: {d}"), e, a),
            None => (d, e, a),
        });
        let outcome = outcome.map(|(d, e, a)| match step.control() {
            Some(_) => (format!("control: {d}"), e, a),
            None => (d, e, a),
        });
        match outcome {
            Ok((description, expected, actual)) => steps.push(StepResult {
                description,
                ok: true,
                expected,
                actual,
            }),
            Err((description, expected, actual)) => {
                let msg = format!(
                    "step {} ({description}): expected {expected}; got {actual}",
                    i + 1
                );
                if let Some(reason) = step.control() {
                    control_failed = Some(format!("{reason} (positive control failed: {msg})"));
                } else if failure.is_none() {
                    // An implicit control: a target that closed the session in
                    // an orderly way (say, idle) before this step cannot be
                    // judged on it, unless the scenario is about that Close.
                    if let Some(at) = unexpected_close(s, &r.seen, r.start) {
                        control_failed = Some(format!(
                            "the target closed the session in an orderly way (Close Request at +{at:.3}s; RFC 7016 §3.1: \"Either end may reliably close the session\") before the case could be judged ({msg})"
                        ));
                    }
                    failure = Some(msg);
                } else {
                    // An action after the failure could not run: stop here.
                    stopped = true;
                }
                steps.push(StepResult {
                    description,
                    ok: false,
                    expected: Some(expected),
                    actual: Some(actual),
                });
            }
        }
    }
    // Let in-flight packets land so the evidence shows the exchange's end.
    let settle = r.now() + Duration::from_millis(50);
    r.pump(settle, |_| false);
    let keying = r
        .keying_check(failure.is_some())
        .map(|k| format!("{k}: see the evidence"));
    Executed {
        steps,
        failure,
        control_failed,
        unjudged: r.unjudged,
        keying,
        observed: r.seen,
        start,
    }
}
