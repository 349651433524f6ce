//! The tokio driver: real UDP sockets (IPv4 and IPv6) and a real clock around the
//! sans-IO [`Endpoint`]. The protocol logic stays in the endpoint; this only moves
//! datagrams and time in and out.
//!
//! Datagrams move in batches through `quinn-udp`: `recvmmsg` (and UDP GRO) on
//! receive, UDP GSO on send where the OS has them, one datagram per `sendmsg`
//! otherwise. Socket buffers are set explicitly ([`SOCKET_BUFFER`]): the default
//! receive buffer (about 200 KiB on Linux) overflows under a 1 MiB receive window
//! and a lossless loopback then loses datagrams. The local address of each socket
//! is read once, at bind time. Receive buffers are allocated once per driver.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use quinn_udp::{BATCH_SIZE, RecvMeta, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::endpoint::{Endpoint, Event};
use crate::time::Instant;

/// What the event handler wants the driver to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// The send and receive buffer size asked of the OS for every socket (the OS
/// may grant less: Linux caps it at `net.core.rmem_max` / `wmem_max`).
pub const SOCKET_BUFFER: usize = 4 << 20;

/// Largest datagram (or GRO batch of datagrams) one receive buffer holds.
const RECV_BUFFER: usize = 65_536;

/// Largest GSO batch in bytes (a UDP payload is at most 65507 bytes).
const MAX_GSO_BYTES: usize = 64_000;

struct Socket {
    io: UdpSocket,
    state: UdpSocketState,
    /// The bound address, read once.
    local: SocketAddr,
}

/// An endpoint bound to one or more UDP sockets.
pub struct Driver {
    pub endpoint: Endpoint,
    sockets: Vec<Socket>,
    origin: std::time::Instant,
    /// Receive buffers, `BATCH_SIZE` of `RECV_BUFFER` bytes.
    recv_buf: Vec<u8>,
    /// The GSO batch being assembled.
    send_buf: Vec<u8>,
}

/// A non-blocking UDP socket with explicit buffer sizes, bound to `addr`.
fn open(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (what, r) in [
        ("receive", s.set_recv_buffer_size(SOCKET_BUFFER)),
        ("send", s.set_send_buffer_size(SOCKET_BUFFER)),
    ] {
        if let Err(e) = r {
            tracing::warn!(%addr, error = %e, "cannot set the socket {what} buffer size");
        }
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

impl Driver {
    /// Binds every address (e.g. one IPv4 and one IPv6).
    pub async fn bind(mut endpoint: Endpoint, addrs: &[SocketAddr]) -> io::Result<Self> {
        let mut sockets = Vec::new();
        for &a in addrs {
            let std = open(a)?;
            let state = UdpSocketState::new((&std).into())?;
            let io = UdpSocket::from_std(std)?;
            let local = io.local_addr()?;
            tracing::debug!(
                %local,
                recv_buffer = ?socket2::SockRef::from(&io).recv_buffer_size(),
                send_buffer = ?socket2::SockRef::from(&io).send_buffer_size(),
                gso_segments = state.max_gso_segments(),
                gro_segments = state.gro_segments(),
                "socket"
            );
            sockets.push(Socket { io, state, local });
        }
        endpoint.set_local_addresses(sockets.iter().map(|s| s.local).collect());
        Ok(Driver {
            endpoint,
            sockets,
            origin: std::time::Instant::now(),
            recv_buf: vec![0u8; BATCH_SIZE * RECV_BUFFER],
            send_buf: Vec::with_capacity(MAX_GSO_BYTES),
        })
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|s| s.local).collect()
    }

    /// The endpoint's clock: time since the driver started.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn socket_for(sockets: &[Socket], dst: SocketAddr) -> Option<usize> {
        sockets
            .iter()
            .position(|s| s.local.is_ipv4() == dst.is_ipv4())
            .or((!sockets.is_empty()).then_some(0))
    }

    /// Sends everything the endpoint has queued: runs of datagrams of one size
    /// (the last may be shorter) to one destination go out as one GSO send.
    pub async fn flush(&mut self) {
        let mut batch: Option<(usize, SocketAddr, usize, bool)> = None; // socket, dst, segment, closed
        self.send_buf.clear();
        while let Some(t) = self.endpoint.poll_transmit() {
            let Some(si) = Self::socket_for(&self.sockets, t.dst) else {
                continue;
            };
            let max_segments = self.sockets[si].state.max_gso_segments();
            let fits = batch.is_some_and(|(bs, dst, seg, closed)| {
                bs == si
                    && dst == t.dst
                    && !closed
                    && t.data.len() <= seg
                    && self.send_buf.len() / seg < max_segments
                    && self.send_buf.len() + t.data.len() <= MAX_GSO_BYTES
            });
            if !fits {
                if let Some((bs, dst, seg, _)) = batch.take() {
                    Self::send_batch(&self.sockets[bs], &self.send_buf, dst, seg).await;
                }
                self.send_buf.clear();
                batch = Some((si, t.dst, t.data.len().max(1), false));
            } else if let Some(b) = batch.as_mut() {
                // A shorter datagram ends a GSO batch.
                b.3 = t.data.len() < b.2;
            }
            self.send_buf.extend_from_slice(&t.data);
            self.endpoint.recycle(t.data);
        }
        if let Some((bs, dst, seg, _)) = batch {
            Self::send_batch(&self.sockets[bs], &self.send_buf, dst, seg).await;
        }
    }

    /// Sends `contents` (datagrams of `seg` bytes, the last maybe shorter).
    /// (Borrows only what it needs: the future stays `Send`.)
    async fn send_batch(s: &Socket, contents: &[u8], dst: SocketAddr, seg: usize) {
        let transmit = quinn_udp::Transmit {
            destination: dst,
            ecn: None,
            contents,
            segment_size: (contents.len() > seg).then_some(seg),
            src_ip: None,
        };
        loop {
            match s.io.try_io(Interest::WRITABLE, || {
                s.state.try_send((&s.io).into(), &transmit)
            }) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = s.io.writable().await {
                        tracing::warn!(%dst, error = %e, "send failed");
                        return;
                    }
                }
                Err(e) if transmit.segment_size.is_some() => {
                    // GSO refused (quinn-udp turns it off for this socket): one by one.
                    tracing::debug!(%dst, error = %e, "segmented send failed; sending singly");
                    for d in contents.chunks(seg) {
                        let one = quinn_udp::Transmit {
                            contents: d,
                            segment_size: None,
                            ..transmit.clone()
                        };
                        loop {
                            match s.io.try_io(Interest::WRITABLE, || {
                                s.state.try_send((&s.io).into(), &one)
                            }) {
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                    if s.io.writable().await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(%dst, error = %e, "send failed");
                                    break;
                                }
                                Ok(()) => break,
                            }
                        }
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(%dst, error = %e, "send failed");
                    return;
                }
            }
        }
    }

    /// Receives one batch from socket `si` into the endpoint; false when the
    /// socket had nothing (readiness is then cleared).
    fn receive_batch(&mut self, si: usize) -> bool {
        let now = self.now();
        let Driver {
            endpoint,
            sockets,
            recv_buf,
            ..
        } = self;
        let s = &sockets[si];
        let mut metas = [RecvMeta::default(); BATCH_SIZE];
        let mut chunks = recv_buf.chunks_mut(RECV_BUFFER);
        let mut iovs: [IoSliceMut<'_>; BATCH_SIZE] =
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().expect("BATCH_SIZE buffers")));
        let n = match s.io.try_io(Interest::READABLE, || {
            s.state.recv((&s.io).into(), &mut iovs, &mut metas)
        }) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            // ICMP errors (e.g. port unreachable) surface here on some systems.
            Err(e) => {
                tracing::debug!(error = %e, "receive error");
                return true;
            }
        };
        let local = s.local;
        endpoint.begin_batch();
        for (meta, buf) in metas.iter().zip(iovs.iter()).take(n) {
            let stride = meta.stride.max(1);
            for d in buf[..meta.len].chunks(stride) {
                endpoint.handle_datagram(now, local, meta.addr, d);
            }
        }
        endpoint.end_batch(now);
        true
    }

    /// Runs the endpoint until the handler says stop, `limit` passes, or the
    /// `stop` future completes (e.g. a signal). The handler sees every event and
    /// may act on the endpoint.
    pub async fn run<F, S>(
        &mut self,
        limit: Option<Duration>,
        stop: S,
        handler: F,
    ) -> io::Result<()>
    where
        F: FnMut(&mut Endpoint, Instant, Event) -> Control,
        S: std::future::Future<Output = ()>,
    {
        self.run_with_tick(limit, stop, handler, |_, _| {}).await
    }

    /// As [`Driver::run`], calling `tick` once per turn of the loop (after each
    /// batch of received datagrams or timer), before the events are handled:
    /// e.g. to keep a send buffer topped up as it drains.
    pub async fn run_with_tick<F, S, T>(
        &mut self,
        limit: Option<Duration>,
        stop: S,
        mut handler: F,
        mut tick: T,
    ) -> io::Result<()>
    where
        F: FnMut(&mut Endpoint, Instant, Event) -> Control,
        S: std::future::Future<Output = ()>,
        T: FnMut(&mut Endpoint, Instant),
    {
        tokio::pin!(stop);
        let end = limit.map(|l| tokio::time::Instant::now() + l);
        loop {
            let now = self.now();
            tick(&mut self.endpoint, now);
            // Drain events first: a handler may queue work.
            while let Some(ev) = self.endpoint.poll_event() {
                let now = self.now();
                if handler(&mut self.endpoint, now, ev) == Control::Stop {
                    self.flush().await;
                    return Ok(());
                }
            }
            self.flush().await;
            let timeout = self.endpoint.next_timeout().map(|t| {
                let wait = t.saturating_duration_since(self.now());
                tokio::time::Instant::now() + wait
            });
            let deadline = match (timeout, end) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a
                    .or(b)
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)),
            };
            let sockets = &self.sockets;
            // Wait on every socket; the first readable one wins.
            let readable = std::future::poll_fn(|cx| {
                for (i, s) in sockets.iter().enumerate() {
                    if let Poll::Ready(r) = s.io.poll_recv_ready(cx) {
                        return Poll::Ready((i, r));
                    }
                }
                Poll::Pending
            });
            let ready = tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep_until(deadline) => {
                    if end.is_some_and(|e| tokio::time::Instant::now() >= e) {
                        return Ok(());
                    }
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                    None
                }
                (i, r) = readable => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "receive error");
                    }
                    Some(i)
                }
            };
            if let Some(i) = ready {
                self.receive_batch(i);
            }
        }
    }
}
