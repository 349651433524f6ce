//! RFC 7016 §3.5.1.4 Redirector and §3.5.1.5 Forwarder (with §3.5.1.6, the
//! initiator's observed address in the FIHello and the optional Redirect to the
//! peer for NAT traversal): what an endpoint does with an IHello whose EPD does
//! not select it — a Redirect by static rule, or an FIHello to an open session's far end
//! that the EPD selects (and, optionally, a Redirect to it).

use std::net::SocketAddr;

use super::Endpoint;
use crate::session::State;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{Address, Chunk, FIHello, Origin, Redirect};

impl Endpoint {
    /// An IHello (or, with `forwarded`, an FIHello) that does not select us.
    pub(super) fn redirect_or_forward(
        &mut self,
        now: Instant,
        from: SocketAddr,
        epd: &[u8],
        tag: &[u8],
        forwarded: bool,
    ) {
        if forwarded {
            return self.stats.drop(DropReason::FIHelloNotForUs);
        }
        // Redirector (§3.5.1.4): static rules.
        let rule = self
            .config
            .redirects
            .iter()
            .find(|r| r.epd.as_ref().is_none_or(|e| e.as_slice() == epd))
            .cloned();
        if let Some(rule) = rule {
            let r = Redirect {
                tag_echo: tag.to_vec(),
                redirect_destinations: rule
                    .to
                    .iter()
                    .map(|&a| Address::new(a, Origin::Unknown))
                    .collect(),
            };
            return self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
        }
        // Forwarder (§3.5.1.5): an S_OPEN session whose far certificate the EPD selects.
        if self.config.forwarder {
            let target = self
                .sessions
                .values()
                .find(|s| {
                    s.state == State::S_OPEN
                        && self
                            .profile
                            .epd_selects_certificate(epd, &s.far_certificate)
                })
                .map(|s| (s.handle, s.dest));
            if let Some((h, peer)) = target {
                let fi = FIHello {
                    epd: epd.to_vec(),
                    reply_address: Address::new(from, Origin::Observed),
                    tag: tag.to_vec(),
                };
                self.with_session(now, h, |s, io| s.send_chunks(io, vec![Chunk::FIHello(fi)]));
                if self.config.redirect_to_forwarded_peer {
                    let r = Redirect {
                        tag_echo: tag.to_vec(),
                        redirect_destinations: vec![Address::new(peer, Origin::Observed)],
                    };
                    self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
                }
                return;
            }
        }
        self.stats.drop(DropReason::IHelloNotForUs);
    }
}
