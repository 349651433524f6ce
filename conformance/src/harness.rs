//! Where a scenario runs: the built-in reference target over the simulated
//! network (deterministic), or a live stack over real UDP. Either way the tester
//! is an `rtmfp::Endpoint` with the packet tap on, plus network faults.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rtmfp::crypto::CryptoProfile;
use rtmfp::endpoint::{Endpoint, Event};
use rtmfp::session::config::{EndpointConfig, Faults};
use rtmfp::sim::{Network, SimDatagram};
use rtmfp::time::Instant;

use crate::scenario::{Capability, FaultAction, Names, Side};

/// One datagram as the harness saw it.
#[derive(Debug, Clone)]
pub struct WireRecord {
    pub time: Instant,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
    pub from_tester: bool,
    /// What a fault did to it.
    pub note: Option<String>,
}

/// What faults did to datagrams: (time, datagram as sent on, note).
type Notes = Rc<RefCell<Vec<(Instant, Vec<u8>, String)>>>;

/// A network fault waiting for matching packets.
#[derive(Debug, Clone)]
pub struct NetFault {
    pub action: FaultAction,
    pub from: Side,
    pub chunk: Option<Names>,
    pub remaining: u32,
    pub by: Duration,
    /// For `rewrite`: fields to set and a field whose last byte to flip.
    pub set: serde_json::Map<String, serde_json::Value>,
    pub flip: Option<String>,
}

/// What a harness offers the runner.
pub trait Harness {
    fn now(&self) -> Instant;
    fn tester(&self) -> Rc<RefCell<Endpoint>>;
    fn target_addr(&self) -> Option<SocketAddr>;
    fn tester_addr(&self) -> SocketAddr;
    fn alternate_addr(&self) -> SocketAddr;
    /// Advances until `deadline`, or until `on_event` returns true for a tester
    /// event. Returns whether it stopped because of `on_event`.
    fn run(&mut self, deadline: Instant, on_event: &mut dyn FnMut(Instant, Event) -> bool) -> bool;
    fn add_fault(&mut self, f: NetFault);
    /// Sends a datagram as is from the tester's address (or its alternate).
    fn send_datagram(&mut self, data: Vec<u8>, alternate: bool) -> Result<(), String>;
    /// The tester's address changes (NAT rebinding); returns the new one.
    fn rebind(&mut self) -> SocketAddr;
    /// Makes the target open a session to the tester (reference target only).
    fn target_connect(&mut self, epd: Vec<u8>) -> Result<(), String>;
    fn supports(&self, c: Capability) -> bool;
    fn records(&self) -> Vec<WireRecord>;
}

/// Which chunk names a packet carries (for fault matching).
fn chunk_names(p: &rtmfp::wire::Packet) -> Vec<String> {
    p.chunks
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.get("chunk").and_then(|x| x.as_str()).map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

/// What a fault does to one datagram.
pub enum Applied {
    Drop(String),
    Duplicate(String),
    Delay(Duration, String),
    /// The datagram was rewritten in place.
    Rewritten(String),
}

/// Applies the first matching fault to a datagram (rewriting it in place for
/// `rewrite`); returns what to do with it, or None.
fn apply_faults(
    faults: &mut Vec<NetFault>,
    tester: &Endpoint,
    data: &mut Vec<u8>,
    from_tester: bool,
) -> Option<Applied> {
    let side = if from_tester {
        Side::Tester
    } else {
        Side::Target
    };
    let names = tester
        .peek(data, from_tester)
        .map(|p| chunk_names(&p))
        .unwrap_or_default();
    let i = faults.iter().position(|f| {
        f.remaining > 0
            && f.from == side
            && f.chunk
                .as_ref()
                .is_none_or(|c| names.iter().any(|n| c.contains(n)))
    })?;
    let f = &mut faults[i];
    f.remaining -= 1;
    let applied = match f.action {
        FaultAction::Drop => Applied::Drop("dropped by fault".into()),
        FaultAction::Duplicate => Applied::Duplicate("duplicated by fault".into()),
        FaultAction::Delay => Applied::Delay(f.by, format!("delayed {:?} by fault", f.by)),
        FaultAction::Reorder => Applied::Delay(
            f.by.max(Duration::from_millis(30)),
            "reordered by fault".into(),
        ),
        FaultAction::Rewrite => match rewrite(tester, data, f) {
            Ok(what) => Applied::Rewritten(what),
            Err(e) => Applied::Rewritten(format!("rewrite failed: {e}")),
        },
    };
    faults.retain(|f| f.remaining > 0);
    Some(applied)
}

/// Rewrites the first chunk of a startup packet that the fault names: sets fields
/// (as `rtmfp dump --json` names them) and flips the last byte of one.
fn rewrite(tester: &Endpoint, data: &mut Vec<u8>, f: &NetFault) -> Result<String, String> {
    let (sid, enc) = rtmfp::wire::multiplex::demux(data).map_err(|e| e.to_string())?;
    let opened = tester
        .profile()
        .default_cipher()
        .open(enc)
        .map_err(|_| "not a startup packet".to_string())?;
    let mut packet = rtmfp::wire::Packet::parse(&opened.packet).map_err(|e| e.to_string())?;
    let names = chunk_names(&packet);
    let at = names
        .iter()
        .position(|n| f.chunk.as_ref().is_none_or(|c| c.contains(n)))
        .ok_or("no matching chunk")?;
    let mut j = serde_json::to_value(&packet.chunks[at]).map_err(|e| e.to_string())?;
    let obj = j.as_object_mut().ok_or("chunk is not an object")?;
    let mut what = Vec::new();
    for (k, v) in &f.set {
        obj.insert(k.clone(), v.clone());
        what.push(format!("{k}={v}"));
    }
    if let Some(spec) = &f.flip {
        // `field` flips the last byte, `field@N` byte N.
        let (field, at) = match spec.split_once('@') {
            Some((f, n)) => (
                f,
                Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("bad flip `{spec}`"))?,
                ),
            ),
            None => (spec.as_str(), None),
        };
        let hexs = obj
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or(format!("no byte field `{field}`"))?;
        let mut b = hex::decode(hexs).map_err(|e| e.to_string())?;
        let i = at.unwrap_or(b.len().saturating_sub(1));
        let byte = b.get_mut(i).ok_or(format!("`{field}` has no byte {i}"))?;
        *byte ^= 0x01;
        obj.insert(
            field.to_string(),
            serde_json::Value::String(hex::encode(&b)),
        );
        what.push(format!("{field} byte {i} flipped"));
    }
    packet.chunks[at] = serde_json::from_value(j).map_err(|e| format!("rewritten chunk: {e}"))?;
    let plain = packet.to_bytes().map_err(|e| e.to_string())?;
    let mut sealed = Vec::new();
    tester.profile().default_cipher().seal(&plain, &mut sealed);
    let mut out = Vec::new();
    rtmfp::wire::multiplex::mux(sid, &sealed, &mut out);
    *data = out;
    Ok(format!("rewritten by fault: {}", what.join(", ")))
}

// ------------------------------------------------------------- reference

/// The built-in reference implementation in the simulated network.
pub struct SimHarness {
    net: Network,
    tester: Rc<RefCell<Endpoint>>,
    target: Rc<RefCell<Endpoint>>,
    app: crate::liberties::TargetApp,
    faults: Rc<RefCell<Vec<NetFault>>>,
    /// What faults did: (time, datagram as sent on, note).
    notes: Notes,
    tester_addr: SocketAddr,
    alternate: SocketAddr,
    target_addr: SocketAddr,
    rebinds: u8,
}

impl SimHarness {
    pub fn new(
        seed: u64,
        tester_profile: Arc<dyn CryptoProfile>,
        target_profile: Arc<dyn CryptoProfile>,
        target_config: EndpointConfig,
        app: crate::liberties::AppSettings,
    ) -> Self {
        let mut net = Network::new(seed);
        net.record();
        let tester_addr: SocketAddr = "192.0.2.10:50000".parse().expect("valid");
        let alternate: SocketAddr = "192.0.2.10:50001".parse().expect("valid");
        let target_addr: SocketAddr = "198.51.100.20:1935".parse().expect("valid");
        let tester_config = EndpointConfig {
            tap: true,
            faults: Faults::default(),
            ..Default::default()
        };
        let mut t = Endpoint::new(tester_config, tester_profile, seed ^ 0x7e57);
        t.set_local_addresses(vec![tester_addr, alternate]);
        let tester = Rc::new(RefCell::new(t));
        let mut g = Endpoint::new(target_config, target_profile, seed ^ 0x7a46);
        g.set_local_addresses(vec![target_addr]);
        let target = Rc::new(RefCell::new(g));
        net.add_node(Box::new(tester.clone()), &[tester_addr, alternate]);
        net.add_node(Box::new(target.clone()), &[target_addr]);
        let faults: Rc<RefCell<Vec<NetFault>>> = Rc::default();
        let notes: Notes = Rc::default();
        let (hf, ht, hn) = (faults.clone(), tester.clone(), notes.clone());
        net.add_hook(Box::new(move |now, d: &mut SimDatagram| {
            let from_tester = d.dst == target_addr;
            let mut fl = hf.borrow_mut();
            if fl.is_empty() {
                return true;
            }
            let Ok(t) = ht.try_borrow() else { return true };
            let applied = apply_faults(&mut fl, &t, &mut d.data, from_tester);
            let note = |n: &str| hn.borrow_mut().push((now, d.data.clone(), n.to_string()));
            match applied {
                None => true,
                Some(Applied::Rewritten(n)) => {
                    note(&n);
                    true
                }
                Some(Applied::Drop(n)) => {
                    note(&n);
                    false
                }
                Some(Applied::Duplicate(n)) => {
                    note(&n);
                    d.copies = 2;
                    true
                }
                Some(Applied::Delay(by, n)) => {
                    note(&n);
                    d.extra_delay = by;
                    true
                }
            }
        }));
        SimHarness {
            net,
            tester,
            target,
            app: crate::liberties::TargetApp::new(app),
            faults,
            notes,
            tester_addr,
            alternate,
            target_addr,
            rebinds: 0,
        }
    }

    pub fn target(&self) -> Rc<RefCell<Endpoint>> {
        self.target.clone()
    }
}

impl Harness for SimHarness {
    fn now(&self) -> Instant {
        self.net.now()
    }
    fn tester(&self) -> Rc<RefCell<Endpoint>> {
        self.tester.clone()
    }
    fn target_addr(&self) -> Option<SocketAddr> {
        Some(self.target_addr)
    }
    fn tester_addr(&self) -> SocketAddr {
        self.tester_addr
    }
    fn alternate_addr(&self) -> SocketAddr {
        self.alternate
    }

    fn run(&mut self, deadline: Instant, on_event: &mut dyn FnMut(Instant, Event) -> bool) -> bool {
        let (tester, target) = (self.tester.clone(), self.target.clone());
        let app = &mut self.app;
        let mut stopped = false;
        let mut process = |now: Instant| {
            loop {
                let ev = target.borrow_mut().poll_event();
                let Some(ev) = ev else { break };
                if let Event::Session { session, event } = ev {
                    app.on_event(&mut target.borrow_mut(), now, session, event);
                }
            }
            app.flush(&mut target.borrow_mut(), now);
            loop {
                let ev = tester.borrow_mut().poll_event();
                let Some(ev) = ev else { break };
                if on_event(now, ev) {
                    stopped = true;
                }
            }
            stopped
        };
        if process(self.net.now()) {
            return true;
        }
        if !self.net.run_while(deadline, |net| process(net.now())) {
            // Nothing more happens before the deadline: the clock still gets there
            // (a `wait` or an unmet `within` spans its whole time).
            self.net.run_until(deadline);
        }
        stopped
    }

    fn add_fault(&mut self, f: NetFault) {
        self.faults.borrow_mut().push(f);
    }

    fn send_datagram(&mut self, data: Vec<u8>, alternate: bool) -> Result<(), String> {
        let src = if alternate {
            self.alternate
        } else {
            self.tester_addr
        };
        self.net.inject(src, self.target_addr, data);
        Ok(())
    }

    fn rebind(&mut self) -> SocketAddr {
        self.rebinds += 1;
        let new = SocketAddr::from(([203, 0, 113, self.rebinds], 40000 + u16::from(self.rebinds)));
        self.net.rebind(self.tester_addr, new);
        new
    }

    fn target_connect(&mut self, epd: Vec<u8>) -> Result<(), String> {
        let now = self.net.now();
        self.target
            .borrow_mut()
            .connect(now, epd, &[self.tester_addr]);
        Ok(())
    }

    fn supports(&self, _c: Capability) -> bool {
        true
    }

    /// Each datagram at the time it reached its receiver (or was sent, if it
    /// never arrived): the recording of a capture at both ends' receive side,
    /// causally ordered, where a delay fault on the tester's packets shows as
    /// a longer round trip, as it does for the target.
    fn records(&self) -> Vec<WireRecord> {
        let notes = self.notes.borrow();
        let mut v: Vec<WireRecord> = self
            .net
            .records
            .iter()
            .flatten()
            .map(|r| WireRecord {
                time: r.arrived.unwrap_or(r.sent),
                src: r.src,
                dst: r.dst,
                data: r.data.clone(),
                from_tester: r.dst == self.target_addr,
                note: notes
                    .iter()
                    .find(|n| n.0 == r.sent && n.1 == r.data)
                    .map(|n| n.2.clone())
                    .or(match r.fate {
                        rtmfp::sim::Fate::Delivered => None,
                        f => Some(format!("{f:?}").to_lowercase()),
                    }),
            })
            .collect();
        v.sort_by_key(|r| r.time);
        v
    }
}

// ------------------------------------------------------------------- UDP

/// A live stack over real UDP. The tester sends from `primary` (or `alternate`
/// after a rebind); in listen mode the target's address is learned from its first
/// datagram.
pub struct UdpHarness {
    tester: Rc<RefCell<Endpoint>>,
    sockets: [UdpSocket; 2],
    /// The sockets' addresses as the target sees them.
    locals: [SocketAddr; 2],
    active: usize,
    target: Option<SocketAddr>,
    origin: std::time::Instant,
    faults: Vec<NetFault>,
    /// Delayed datagrams: (release time, from_tester, socket index, dst, data).
    delayed: VecDeque<(Instant, bool, usize, SocketAddr, Vec<u8>)>,
    records: Vec<WireRecord>,
    pub echoes: bool,
    pub listen: bool,
    /// When a stop (Ctrl-C) was first seen: waits end soon after it.
    stop_seen: Option<Instant>,
    /// Listen mode: starts the stack's initiator when a case makes the target
    /// initiate (`run --initiator-cmd`).
    pub on_initiate: Option<Box<dyn FnMut() -> Result<(), String>>>,
}

impl UdpHarness {
    /// `bind` is the tester's address (port 0 for any); the alternate socket takes
    /// the same IP and another port.
    pub fn new(
        profile: Arc<dyn CryptoProfile>,
        target: Option<SocketAddr>,
        bind: SocketAddr,
        seed: u64,
    ) -> std::io::Result<Self> {
        let primary = UdpSocket::bind(bind)?;
        let alternate = UdpSocket::bind(SocketAddr::new(bind.ip(), 0))?;
        // Bound to the wildcard address: the address the target sees is the
        // one the route to it uses (a connected probe socket tells which).
        let seen_ip = match target {
            Some(t) if bind.ip().is_unspecified() => {
                let probe = UdpSocket::bind(SocketAddr::new(bind.ip(), 0))?;
                probe.connect(t)?;
                probe.local_addr()?.ip()
            }
            _ => bind.ip(),
        };
        let visible = |a: SocketAddr| SocketAddr::new(seen_ip, a.port());
        let locals = [
            visible(primary.local_addr()?),
            visible(alternate.local_addr()?),
        ];
        let mut t = Endpoint::new(
            EndpointConfig {
                tap: true,
                ..Default::default()
            },
            profile,
            seed,
        );
        t.set_local_addresses(locals.to_vec());
        Ok(UdpHarness {
            locals,
            tester: Rc::new(RefCell::new(t)),
            sockets: [primary, alternate],
            active: 0,
            target,
            origin: std::time::Instant::now(),
            faults: Vec::new(),
            delayed: VecDeque::new(),
            records: Vec::new(),
            echoes: true,
            listen: target.is_none(),
            stop_seen: None,
            on_initiate: None,
        })
    }

    fn clock(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn send_now(&mut self, sock: usize, dst: SocketAddr, data: &[u8], note: Option<String>) {
        let now = self.clock();
        let src = self.locals[sock];
        if note.as_deref() != Some("dropped by fault")
            && let Err(e) = self.sockets[sock].send_to(data, dst)
        {
            tracing_warn(&format!("send to {dst}: {e}"));
        }
        self.records.push(WireRecord {
            time: now,
            src,
            dst,
            data: data.to_vec(),
            from_tester: true,
            note,
        });
    }

    fn flush(&mut self) {
        loop {
            let t = self.tester.borrow_mut().poll_transmit();
            let Some(t) = t else { break };
            let sock = match t.src {
                Some(a) if a == self.locals[1] => 1,
                Some(_) => 0,
                None => self.active,
            };
            let mut data = t.data;
            let fault = {
                let tester = self.tester.borrow();
                apply_faults(&mut self.faults, &tester, &mut data, true)
            };
            match fault {
                None => self.send_now(sock, t.dst, &data, None),
                Some(Applied::Rewritten(n)) => self.send_now(sock, t.dst, &data, Some(n)),
                Some(Applied::Drop(n)) => self.send_now(sock, t.dst, &data, Some(n)),
                Some(Applied::Duplicate(n)) => {
                    self.send_now(sock, t.dst, &data, None);
                    self.send_now(sock, t.dst, &data, Some(n));
                }
                Some(Applied::Delay(by, _)) => {
                    let at = self.clock() + by;
                    self.hold((at, true, sock, t.dst, data));
                }
            }
        }
    }

    fn deliver(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: Vec<u8>,
        note: Option<String>,
    ) {
        self.records.push(WireRecord {
            time: now,
            src: from,
            dst: local,
            data: data.clone(),
            from_tester: false,
            note,
        });
        self.tester
            .borrow_mut()
            .handle_datagram(now, local, from, &data);
    }
}

fn tracing_warn(msg: &str) {
    eprintln!("rtmfp-conformance: {msg}");
}

impl UdpHarness {
    /// Queues a delayed datagram in release order (a shorter delay given later
    /// still goes out first).
    fn hold(&mut self, d: (Instant, bool, usize, SocketAddr, Vec<u8>)) {
        let at = self.delayed.partition_point(|x| x.0 <= d.0);
        self.delayed.insert(at, d);
    }
}

impl Harness for UdpHarness {
    fn now(&self) -> Instant {
        self.clock()
    }
    fn tester(&self) -> Rc<RefCell<Endpoint>> {
        self.tester.clone()
    }
    fn target_addr(&self) -> Option<SocketAddr> {
        self.target
    }
    fn tester_addr(&self) -> SocketAddr {
        self.locals[0]
    }
    fn alternate_addr(&self) -> SocketAddr {
        self.locals[1]
    }

    fn run(&mut self, deadline: Instant, on_event: &mut dyn FnMut(Instant, Event) -> bool) -> bool {
        let mut buf = vec![0u8; 65_536];
        let mut deadline = deadline;
        loop {
            if crate::interrupt::requested() {
                // Interrupted: the case in progress gets half a second more (to
                // send what is queued and close its session), not its full waits.
                let now = self.clock();
                let t = *self.stop_seen.get_or_insert(now);
                deadline = deadline.min(t + Duration::from_millis(500));
            }
            self.flush();
            let now = self.clock();
            // Release delayed datagrams.
            while self.delayed.front().is_some_and(|d| d.0 <= now) {
                let (_, from_tester, sock, dst, data) = self.delayed.pop_front().expect("front");
                if from_tester {
                    self.send_now(sock, dst, &data, Some("delayed by fault".into()));
                } else {
                    // Recorded when it arrived (the target's own order); the
                    // tester only sees it now.
                    let local = self.locals[sock];
                    self.tester
                        .borrow_mut()
                        .handle_datagram(now, local, dst, &data);
                }
            }
            let mut stop = false;
            loop {
                let ev = self.tester.borrow_mut().poll_event();
                let Some(ev) = ev else { break };
                stop |= on_event(now, ev);
            }
            if stop {
                self.flush();
                return true;
            }
            if now >= deadline {
                return false;
            }
            let mut next = deadline;
            if let Some(t) = self.tester.borrow().next_timeout() {
                next = next.min(t);
            }
            if let Some(d) = self.delayed.front() {
                next = next.min(d.0);
            }
            if next <= now {
                self.tester.borrow_mut().handle_timeout(now);
                continue;
            }
            let wait = (next - now)
                .min(Duration::from_millis(5))
                .max(Duration::from_micros(200));
            let mut got = None;
            for (i, s) in self.sockets.iter().enumerate() {
                let _ = s.set_read_timeout(Some(if i == 0 {
                    wait
                } else {
                    Duration::from_micros(100)
                }));
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    got = Some((i, from, buf[..n].to_vec()));
                    break;
                }
            }
            let now = self.clock();
            if let Some((i, from, data)) = got {
                if self.listen && self.target.is_none() {
                    self.target = Some(from);
                }
                let local = self.locals[i];
                let mut data = data;
                let fault = {
                    let tester = self.tester.borrow();
                    apply_faults(&mut self.faults, &tester, &mut data, false)
                };
                match fault {
                    None => self.deliver(now, local, from, data, None),
                    Some(Applied::Rewritten(n)) => self.deliver(now, local, from, data, Some(n)),
                    Some(Applied::Drop(n)) => self.records.push(WireRecord {
                        time: now,
                        src: from,
                        dst: local,
                        data,
                        from_tester: false,
                        note: Some(n),
                    }),
                    Some(Applied::Duplicate(n)) => {
                        // The recording holds what the target sent: one copy
                        // (the tester's duplicate is not the target's replay).
                        self.deliver(now, local, from, data.clone(), Some(n));
                        self.tester
                            .borrow_mut()
                            .handle_datagram(now, local, from, &data);
                    }
                    Some(Applied::Delay(by, n)) => {
                        // Recorded in the order the target sent it; judging a
                        // recording must not see the tester's own reordering.
                        self.records.push(WireRecord {
                            time: now,
                            src: from,
                            dst: local,
                            data: data.clone(),
                            from_tester: false,
                            note: Some(n),
                        });
                        self.hold((now + by, false, i, from, data));
                    }
                }
            }
            let now = self.clock();
            if self
                .tester
                .borrow()
                .next_timeout()
                .is_some_and(|t| t <= now)
            {
                self.tester.borrow_mut().handle_timeout(now);
            }
        }
    }

    fn add_fault(&mut self, f: NetFault) {
        self.faults.push(f);
    }

    fn send_datagram(&mut self, data: Vec<u8>, alternate: bool) -> Result<(), String> {
        let dst = self.target.ok_or("the target's address is not known yet")?;
        let sock = if alternate {
            1 - self.active
        } else {
            self.active
        };
        self.send_now(sock, dst, &data, None);
        Ok(())
    }

    fn rebind(&mut self) -> SocketAddr {
        self.active = 1 - self.active;
        let a = self.locals[self.active];
        self.tester.borrow_mut().set_local_addresses(vec![a]);
        a
    }

    fn target_connect(&mut self, _epd: Vec<u8>) -> Result<(), String> {
        if self.listen {
            match self.on_initiate.as_mut() {
                Some(start) => start(),
                None => Ok(()),
            }
        } else {
            Err("the live target cannot be told to connect (use --listen and start your stack's initiator)".into())
        }
    }

    fn supports(&self, c: Capability) -> bool {
        match c {
            Capability::Echo => self.echoes,
            Capability::Initiates => self.listen,
            Capability::ReferenceOnly => false,
            Capability::UserData => self.echoes,
        }
    }

    fn records(&self) -> Vec<WireRecord> {
        self.records.clone()
    }
}
