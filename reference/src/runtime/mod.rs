//! The tokio driver: real UDP sockets (IPv4 and IPv6) and a real clock around the
//! sans-IO [`Endpoint`]. The protocol logic stays in the endpoint; this only moves
//! datagrams and time in and out.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::endpoint::{Endpoint, Event};
use crate::time::Instant;

/// What the event handler wants the driver to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// An endpoint bound to one or more UDP sockets.
pub struct Driver {
    pub endpoint: Endpoint,
    sockets: Vec<UdpSocket>,
    origin: std::time::Instant,
}

/// Largest datagram we accept (the fact sheet's largest receive buffer is 8192).
const RECV_BUFFER: usize = 65_536;

impl Driver {
    /// Binds every address (e.g. one IPv4 and one IPv6).
    pub async fn bind(mut endpoint: Endpoint, addrs: &[SocketAddr]) -> io::Result<Self> {
        let mut sockets = Vec::new();
        for a in addrs {
            sockets.push(UdpSocket::bind(a).await?);
        }
        let locals = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        endpoint.set_local_addresses(locals);
        Ok(Driver {
            endpoint,
            sockets,
            origin: std::time::Instant::now(),
        })
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// The endpoint's clock: time since the driver started.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn socket_for(&self, dst: SocketAddr) -> Option<&UdpSocket> {
        self.sockets
            .iter()
            .find(|s| s.local_addr().is_ok_and(|l| l.is_ipv4() == dst.is_ipv4()))
            .or(self.sockets.first())
    }

    /// Sends everything the endpoint has queued.
    pub async fn flush(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Some(s) = self.socket_for(t.dst)
                && let Err(e) = s.send_to(&t.data, t.dst).await
            {
                tracing::warn!(dst = %t.dst, error = %e, "send failed");
            }
        }
    }

    /// Runs the endpoint until the handler says stop, `limit` passes, or the
    /// `stop` future completes (e.g. a signal). The handler sees every event and
    /// may act on the endpoint.
    pub async fn run<F, S>(
        &mut self,
        limit: Option<Duration>,
        stop: S,
        mut handler: F,
    ) -> io::Result<()>
    where
        F: FnMut(&mut Endpoint, Instant, Event) -> Control,
        S: std::future::Future<Output = ()>,
    {
        tokio::pin!(stop);
        let end = limit.map(|l| tokio::time::Instant::now() + l);
        let mut bufs: Vec<Vec<u8>> = self
            .sockets
            .iter()
            .map(|_| vec![0u8; RECV_BUFFER])
            .collect();
        loop {
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
            let recv = async {
                // Wait on every socket; the first datagram wins.
                let futs = sockets.iter().zip(bufs.iter_mut()).map(|(s, b)| {
                    Box::pin(async move {
                        let local = s.local_addr();
                        s.recv_from(b)
                            .await
                            .map(|(n, from)| (local, from, b[..n].to_vec()))
                    })
                });
                futures_util::future::select_all(futs).await.0
            };
            let origin = self.origin;
            let now = || Instant::from_micros(origin.elapsed().as_micros() as u64);
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep_until(deadline) => {
                    if end.is_some_and(|e| tokio::time::Instant::now() >= e) {
                        return Ok(());
                    }
                    self.endpoint.handle_timeout(now());
                }
                res = recv => {
                    match res {
                        Ok((local, from, data)) => {
                            let local = local.unwrap_or(from);
                            self.endpoint.handle_datagram(now(), local, from, &data);
                        }
                        // ICMP errors (e.g. port unreachable) surface here on some systems.
                        Err(e) => tracing::debug!(error = %e, "receive error"),
                    }
                }
            }
        }
    }
}
