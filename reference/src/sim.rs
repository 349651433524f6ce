//! A deterministic simulated network: several sans-IO nodes exchanging datagrams in
//! virtual time over links with seeded loss, duplication, reordering, delay, jitter,
//! a bandwidth limit with a drop-tail queue, and address changes (NAT rebinding).
//!
//! The same seed and the same nodes give the same bytes, every run: all randomness
//! comes from one seeded generator, and all ordering is by (time, sequence number).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::time::Instant;

/// A datagram a node wants sent (defined with the core, re-exported here).
pub use crate::transmit::Transmit;

/// What the simulator needs of a protocol participant (an RTMFP endpoint, a test
/// harness playing one, ...).
pub trait Node {
    /// A datagram arrived at local address `local` from `from`.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]);
    /// Time has advanced to `now` (called at or after `next_timeout`).
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit>;
    /// When `handle_timeout` wants to be called next.
    fn next_timeout(&self) -> Option<Instant>;
}

/// An RTMFP endpoint is a node (the simulator depends on the core, not the
/// reverse).
impl Node for crate::endpoint::Endpoint {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        crate::endpoint::Endpoint::handle_datagram(self, now, local, from, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        crate::endpoint::Endpoint::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Transmit> {
        crate::endpoint::Endpoint::poll_transmit(self)
    }
    fn next_timeout(&self) -> Option<Instant> {
        crate::endpoint::Endpoint::next_timeout(self)
    }
}

/// Lets a test keep a handle on a node it gave to the network.
impl<T: Node> Node for std::rc::Rc<std::cell::RefCell<T>> {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        self.borrow_mut().handle_datagram(now, local, from, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.borrow_mut().handle_timeout(now)
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.borrow_mut().poll_transmit(now)
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.borrow().next_timeout()
    }
}

/// Impairments of one direction of a path.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from [0, jitter) per datagram (reorders when
    /// larger than the spacing of datagrams).
    pub jitter: Duration,
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by `reorder_delay` (reordering).
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Bottleneck rate in bytes per second; `None` is unlimited.
    pub bandwidth: Option<u64>,
    /// Bytes the bottleneck queue holds before dropping (drop-tail).
    pub queue_bytes: usize,
    /// Datagrams larger than this are dropped (path MTU of the UDP payload).
    pub mtu: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(15),
            bandwidth: None,
            queue_bytes: 256 * 1024,
            mtu: 65_507,
        }
    }
}

/// What the network did with a datagram (for tests and traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Lost,
    QueueDrop,
    TooBig,
    NoRoute,
    /// Removed by a fault hook.
    Dropped,
}

/// A record of one datagram crossing the network.
#[derive(Debug, Clone)]
pub struct Record {
    pub sent: Instant,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
    pub fate: Fate,
    /// When it arrived (for delivered datagrams).
    pub arrived: Option<Instant>,
}

/// A hook that sees every datagram before the link does: it may rewrite it,
/// or return `false` to drop it. Used for fault injection.
pub type Hook = Box<dyn FnMut(Instant, &mut SimDatagram) -> bool>;

/// A datagram in the network.
#[derive(Debug, Clone)]
pub struct SimDatagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
    /// Extra delay a hook may add.
    pub extra_delay: Duration,
    /// Copies to deliver (a hook may set 2 to duplicate).
    pub copies: u32,
}

struct InFlight {
    node: usize,
    local: SocketAddr,
    from: SocketAddr,
    data: Vec<u8>,
    record: Option<usize>,
}

/// The simulated network.
pub struct Network {
    now: Instant,
    rng: ChaCha8Rng,
    nodes: Vec<Box<dyn Node>>,
    /// Node local address -> public address (NAT); identity when absent.
    nat: BTreeMap<SocketAddr, SocketAddr>,
    /// Public address -> (node, local address).
    routes: BTreeMap<SocketAddr, (usize, SocketAddr)>,
    local_addrs: Vec<Vec<SocketAddr>>,
    default_link: LinkConfig,
    links: BTreeMap<(SocketAddr, SocketAddr), LinkConfig>,
    /// Per-direction bottleneck: time the queue drains.
    busy_until: BTreeMap<(SocketAddr, SocketAddr), Instant>,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: BTreeMap<u64, InFlight>,
    seq: u64,
    /// Consecutive steps without time advancing (a stuck timer is a bug).
    stalled: u64,
    hooks: Vec<Hook>,
    /// Every datagram, if recording is on.
    pub records: Option<Vec<Record>>,
    /// Counters by fate.
    pub counts: BTreeMap<&'static str, u64>,
}

impl Network {
    pub fn new(seed: u64) -> Self {
        Network {
            now: Instant::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: Vec::new(),
            nat: BTreeMap::new(),
            routes: BTreeMap::new(),
            local_addrs: Vec::new(),
            default_link: LinkConfig::default(),
            links: BTreeMap::new(),
            busy_until: BTreeMap::new(),
            queue: BinaryHeap::new(),
            pending: BTreeMap::new(),
            seq: 0,
            stalled: 0,
            hooks: Vec::new(),
            records: None,
            counts: BTreeMap::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Starts recording every datagram (for pcaps and assertions).
    pub fn record(&mut self) {
        self.records.get_or_insert_with(Vec::new);
    }

    /// Adds a node reachable at the given local addresses; returns its index.
    pub fn add_node(&mut self, node: Box<dyn Node>, addrs: &[SocketAddr]) -> usize {
        let i = self.nodes.len();
        self.nodes.push(node);
        self.local_addrs.push(addrs.to_vec());
        for &a in addrs {
            self.routes.insert(a, (i, a));
        }
        i
    }

    pub fn node(&mut self, i: usize) -> &mut dyn Node {
        self.nodes[i].as_mut()
    }

    /// Takes a node out (e.g. to inspect it by its concrete type).
    pub fn nodes_mut(&mut self) -> &mut [Box<dyn Node>] {
        &mut self.nodes
    }

    pub fn set_default_link(&mut self, l: LinkConfig) {
        self.default_link = l;
    }

    /// Impairments from public address `src` to `dst`.
    pub fn set_link(&mut self, src: SocketAddr, dst: SocketAddr, l: LinkConfig) {
        self.links.insert((src, dst), l);
    }

    pub fn add_hook(&mut self, h: Hook) {
        self.hooks.push(h);
    }

    /// NAT rebinding: from now on datagrams from `local` appear to come from
    /// `public`, and only `public` routes back to it.
    pub fn rebind(&mut self, local: SocketAddr, public: SocketAddr) {
        let Some(&(node, _)) = self.routes.get(&self.public_of(local)) else {
            return;
        };
        let old = self.public_of(local);
        self.routes.remove(&old);
        self.nat.insert(local, public);
        self.routes.insert(public, (node, local));
    }

    fn public_of(&self, local: SocketAddr) -> SocketAddr {
        self.nat.get(&local).copied().unwrap_or(local)
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// Sends one datagram into the network at the current time.
    pub fn inject(&mut self, src: SocketAddr, dst: SocketAddr, data: Vec<u8>) {
        let mut d = SimDatagram {
            src,
            dst,
            data,
            extra_delay: Duration::ZERO,
            copies: 1,
        };
        let now = self.now;
        let mut keep = true;
        for h in &mut self.hooks {
            if !h(now, &mut d) {
                keep = false;
                break;
            }
        }
        let record = self.records.as_mut().map(|r| {
            r.push(Record {
                sent: now,
                src: d.src,
                dst: d.dst,
                data: d.data.clone(),
                fate: Fate::Delivered,
                arrived: None,
            });
            r.len() - 1
        });
        let set_fate = |net: &mut Network, f: Fate| {
            if let (Some(i), Some(r)) = (record, net.records.as_mut()) {
                r[i].fate = f;
            }
        };
        if !keep {
            set_fate(self, Fate::Dropped);
            self.count("dropped_by_hook");
            return;
        }
        let link = self
            .links
            .get(&(d.src, d.dst))
            .cloned()
            .unwrap_or_else(|| self.default_link.clone());
        let Some(&(node, local)) = self.routes.get(&d.dst) else {
            set_fate(self, Fate::NoRoute);
            self.count("no_route");
            return;
        };
        if d.data.len() > link.mtu {
            set_fate(self, Fate::TooBig);
            self.count("too_big");
            return;
        }
        // Bottleneck queue (serialization at `bandwidth`, drop-tail at `queue_bytes`).
        let mut depart = now;
        if let Some(bw) = link.bandwidth {
            let key = (d.src, d.dst);
            let busy = self.busy_until.get(&key).copied().unwrap_or(now).max(now);
            let backlog = (busy - now).as_secs_f64() * bw as f64;
            if backlog + d.data.len() as f64 > link.queue_bytes as f64 {
                set_fate(self, Fate::QueueDrop);
                self.count("queue_drop");
                return;
            }
            let tx = Duration::from_secs_f64(d.data.len() as f64 / bw as f64);
            depart = busy + tx;
            self.busy_until.insert(key, depart);
        }
        if self.rng.gen_bool(link.loss.clamp(0.0, 1.0)) {
            set_fate(self, Fate::Lost);
            self.count("lost");
            return;
        }
        let copies = d.copies.max(1) + u32::from(self.rng.gen_bool(link.duplicate.clamp(0.0, 1.0)));
        for copy in 1..=copies {
            let mut delay = link.delay + d.extra_delay;
            if !link.jitter.is_zero() {
                delay +=
                    Duration::from_micros(self.rng.gen_range(0..link.jitter.as_micros() as u64));
            }
            if self.rng.gen_bool(link.reorder.clamp(0.0, 1.0)) {
                delay += link.reorder_delay;
            }
            let at = depart + delay;
            self.seq += 1;
            self.queue.push(Reverse((at, self.seq)));
            self.pending.insert(
                self.seq,
                InFlight {
                    node,
                    local,
                    from: d.src,
                    // The last copy takes the datagram itself.
                    data: if copy == copies {
                        std::mem::take(&mut d.data)
                    } else {
                        d.data.clone()
                    },
                    record,
                },
            );
        }
        self.count("sent");
    }

    fn collect_transmits(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].poll_transmit(self.now) {
                let local = t.src.unwrap_or(self.local_addrs[i][0]);
                let src = self.public_of(local);
                self.inject(src, t.dst, t.data);
            }
        }
    }

    /// The next event time: a delivery or a node timer.
    pub fn next_event(&self) -> Option<Instant> {
        let delivery = self.queue.peek().map(|Reverse((t, _))| *t);
        let timer = self.nodes.iter().filter_map(|n| n.next_timeout()).min();
        match (delivery, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs one step: the earliest event, if it is not after `limit`.
    /// Returns false when nothing is left to do before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.collect_transmits();
        let Some(t) = self.next_event() else {
            return false;
        };
        if t > limit {
            return false;
        }
        if t <= self.now {
            self.stalled += 1;
            // A node whose next_timeout stays in the past would spin forever.
            if self.stalled >= 1_000_000 {
                let stuck: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| self.nodes[i].next_timeout().is_some_and(|x| x <= self.now))
                    .collect();
                panic!(
                    "simulated time stuck at {}: next_timeout of node(s) {stuck:?} is not advancing",
                    self.now
                );
            }
        } else {
            self.stalled = 0;
        }
        self.now = self.now.max(t);
        // Deliveries due now, in order.
        while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
            if at > self.now {
                break;
            }
            self.queue.pop();
            if let Some(f) = self.pending.remove(&seq) {
                if let (Some(i), Some(r)) = (f.record, self.records.as_mut()) {
                    r[i].arrived.get_or_insert(self.now);
                }
                self.nodes[f.node].handle_datagram(self.now, f.local, f.from, &f.data);
                self.count("delivered");
            }
        }
        let now = self.now;
        for n in &mut self.nodes {
            if n.next_timeout().is_some_and(|t| t <= now) {
                n.handle_timeout(now);
            }
        }
        self.collect_transmits();
        true
    }

    /// Runs until `limit` or until nothing is left to do.
    pub fn run_until(&mut self, limit: Instant) {
        while self.step(limit) {}
        self.now = self.now.max(limit);
    }

    /// Runs until `done` holds (checked after every step) or `limit` passes.
    /// Returns whether `done` held.
    pub fn run_while(
        &mut self,
        limit: Instant,
        mut done: impl FnMut(&mut Network) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                // Nothing left before `limit`: time still passes until it, as in
                // `run_until` (otherwise a wait ends early, before timers due later).
                self.now = self.now.max(limit);
                return done(self);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    /// Sends `count` numbered datagrams to a peer at start; records what arrives.
    struct Pinger {
        to: SocketAddr,
        out: VecDeque<Vec<u8>>,
        got: Vec<(Instant, SocketAddr, Vec<u8>)>,
    }

    impl Node for Pinger {
        fn handle_datagram(&mut self, now: Instant, _l: SocketAddr, from: SocketAddr, data: &[u8]) {
            self.got.push((now, from, data.to_vec()));
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_transmit(&mut self, _now: Instant) -> Option<Transmit> {
            self.out.pop_front().map(|data| Transmit {
                src: None,
                dst: self.to,
                data,
            })
        }
        fn next_timeout(&self) -> Option<Instant> {
            None
        }
    }

    type Sent = Vec<(Instant, SocketAddr, Vec<u8>)>;

    fn run(seed: u64, link: LinkConfig) -> (Sent, BTreeMap<&'static str, u64>) {
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:2000".parse().unwrap();
        let mut net = Network::new(seed);
        net.record();
        net.set_default_link(link);
        let out = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        net.add_node(
            Box::new(Pinger {
                to: b,
                out,
                got: vec![],
            }),
            &[a],
        );
        let sink = Rc::new(RefCell::new(Pinger {
            to: a,
            out: VecDeque::new(),
            got: vec![],
        }));
        net.add_node(Box::new(sink.clone()), &[b]);
        net.run_until(Instant::from_millis(10_000));
        let counts = net.counts.clone();
        assert_eq!(sink.borrow().got.len() as u64, counts["delivered"]);
        let got = net
            .records
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.sent, r.src, r.data))
            .collect();
        (got, counts)
    }

    #[test]
    fn run_while_reaches_the_limit_when_idle() {
        let mut net = Network::new(1);
        let limit = Instant::from_millis(60_000);
        assert!(!net.run_while(limit, |_| false));
        assert_eq!(net.now(), limit, "an idle wait still lasts until its limit");
        assert!(net.run_while(Instant::from_millis(70_000), |_| true));
        assert_eq!(net.now(), limit, "a wait that ends at once takes no time");
    }

    #[test]
    fn deterministic_and_impaired() {
        let link = LinkConfig {
            loss: 0.05,
            duplicate: 0.05,
            reorder: 0.1,
            jitter: Duration::from_millis(3),
            ..Default::default()
        };
        let (_, c1) = run(7, link.clone());
        let (_, c2) = run(7, link.clone());
        assert_eq!(c1, c2, "same seed, same outcome");
        let (_, c3) = run(8, link);
        assert_ne!(c1, c3, "another seed, another outcome");
        let lost = c1["lost"];
        assert!((25..=80).contains(&lost), "about 5% of 1000 lost: {lost}");
        // delivered = sent - lost + duplicates
        assert!(c1["delivered"] > 1000 - lost);
    }

    #[test]
    fn bandwidth_queue_drops() {
        let link = LinkConfig {
            bandwidth: Some(10_000),
            queue_bytes: 400,
            ..Default::default()
        };
        let (_, c) = run(1, link);
        // 4-byte datagrams, 400-byte queue: about 100 fit, the rest of the burst drops.
        assert!(c["queue_drop"] > 800, "{c:?}");
    }

    #[test]
    fn rebinding_changes_source_and_route() {
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let a2: SocketAddr = "10.9.9.9:5555".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:2000".parse().unwrap();
        let mut net = Network::new(1);
        net.record();
        net.add_node(
            Box::new(Pinger {
                to: b,
                out: VecDeque::from([vec![1]]),
                got: vec![],
            }),
            &[a],
        );
        net.add_node(
            Box::new(Pinger {
                to: a,
                out: VecDeque::new(),
                got: vec![],
            }),
            &[b],
        );
        net.run_until(Instant::from_millis(100));
        net.rebind(a, a2);
        net.inject(b, a, vec![2]); // old address: no route any more
        net.inject(b, a2, vec![3]);
        net.run_until(Instant::from_millis(200));
        let r = net.records.unwrap();
        assert_eq!(r[0].src, a);
        assert_eq!(r[1].fate, Fate::NoRoute);
        assert_eq!(r[2].fate, Fate::Delivered);
    }
}
