//! RFC 7016 §3.5.1.1.1 initiator: IHellos to each candidate address on its own
//! backoff (§3.5.1.7: a parallel open to several candidates, the first
//! acceptable RHello wins), Redirects adding candidates, the first acceptable RHello selecting
//! the responder (S_KEYING_SENT), one Cookie Change (§3.5.1.2), the IIKeying
//! retransmission, and the RIKeying that opens the session; the ultimate open
//! timeout.

use std::net::SocketAddr;

use rand::RngCore;

use super::Endpoint;
use crate::session::handshake::{Candidate, Retry};
use crate::session::{Event, Opening, Role, Session, SessionHandle, State};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{Chunk, IHello, IIKeying, RHello, RHelloCookieChange, RIKeying, Redirect};

impl Endpoint {
    /// Starts opening a session to the endpoint named by `epd`, sending IHellos to
    /// each candidate address (§3.5.1.1.1).
    pub fn connect(
        &mut self,
        now: Instant,
        epd: Vec<u8>,
        candidates: &[SocketAddr],
    ) -> SessionHandle {
        let h = self.new_handle();
        // §3.5.1.1.1: a new, unique, cryptographically pseudorandom tag of at least
        // 8 bytes (16 bytes for Flash-era peers, fact sheet D3).
        let mut tag = vec![0u8; 16];
        self.rng.fill_bytes(&mut tag);
        let opening = Opening {
            epd,
            tag,
            candidates: Vec::new(),
            deadline: now + self.config.open_timeout,
            cookie: Vec::new(),
            cookie_changed: false,
            far_certificate: Vec::new(),
            keying: None,
            iikeying: None,
            retry: None,
        };
        let mut secret = [0u8; 16];
        self.rng.fill_bytes(&mut secret);
        let first = candidates
            .first()
            .copied()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        let session = Session::initiator(h, &self.config, now, opening, first, secret);
        self.sessions.insert(h, Box::new(session));
        for &a in candidates {
            self.add_candidate(now, h, a);
        }
        self.service_openings(now);
        h
    }

    /// Adds a candidate address to an opening session (bounded by REDIRECT_THRESHOLD).
    pub fn add_candidate(&mut self, now: Instant, h: SessionHandle, addr: SocketAddr) -> bool {
        let limit = self.config.redirect_threshold;
        let first = self.config.startup_retry;
        let Some(o) = self.sessions.get_mut(&h).and_then(|s| s.opening.as_mut()) else {
            return false;
        };
        if o.candidates.iter().any(|c| c.addr == addr) || o.candidates.len() >= limit {
            return false;
        }
        o.candidates.push(Candidate::new(addr, now, first));
        true
    }

    fn opening_by_tag(&self, tag: &[u8]) -> Option<SessionHandle> {
        self.sessions
            .values()
            .find(|s| s.opening.as_ref().is_some_and(|o| o.tag == tag))
            .map(|s| s.handle)
    }

    /// §3.5.1.1.1: a Redirect for an S_IHELLO_SENT session adds candidates.
    pub(super) fn on_redirect(&mut self, now: Instant, from: SocketAddr, r: Redirect) {
        let Some(h) = self.opening_by_tag(&r.tag_echo) else {
            return self.stats.drop(DropReason::RedirectUnknownTag);
        };
        if self.sessions[&h].state != State::S_IHELLO_SENT {
            return self.stats.drop(DropReason::RedirectWrongState);
        }
        // §2.3.5: no destinations = an Implied Redirect to the packet's source.
        let dests: Vec<SocketAddr> = if r.redirect_destinations.is_empty() {
            vec![from]
        } else {
            r.redirect_destinations.iter().map(|a| a.addr).collect()
        };
        for d in dests {
            self.add_candidate(now, h, d);
        }
        self.service_openings(now);
    }

    /// §3.5.1.1.1: the first acceptable RHello selects the responder.
    pub(super) fn on_rhello(&mut self, now: Instant, from: SocketAddr, r: RHello) {
        let Some(h) = self.opening_by_tag(&r.tag_echo) else {
            return self.stats.drop(DropReason::RHelloUnknownTag);
        };
        let s = &self.sessions[&h];
        if s.state != State::S_IHELLO_SENT {
            return self.stats.drop(DropReason::RHelloWrongState);
        }
        let epd = s.opening.as_ref().expect("opening").epd.clone();
        if !self
            .profile
            .epd_selects_certificate(&epd, &r.responder_certificate)
        {
            return self.stats.drop(DropReason::RHelloCertificateNotSelected);
        }
        if let Err(e) = self.profile.validate_certificate(&r.responder_certificate) {
            return self
                .stats
                .drop_with(DropReason::RHelloCertificateInvalid, e);
        }
        // §3.5.1.1.1 step 1: a duplicate of an existing S_KEYING_SENT/S_OPEN session
        // with the same canonical EPD SHOULD be aborted in favour of that one.
        let canon = self.profile.canonical_epd(&r.responder_certificate);
        let dup = self.sessions.values().find(|o| {
            o.handle != h
                && matches!(o.state, State::S_KEYING_SENT | State::S_OPEN)
                && !o.far_certificate.is_empty()
                && self.profile.canonical_epd(&o.far_certificate) == canon
                && self
                    .profile
                    .epd_selects_certificate(&epd, &o.far_certificate)
        });
        if let Some(d) = dup {
            let reason = format!("duplicate of session {}", d.handle.0);
            return self.fail_open(h, &reason);
        }
        let keying = match self
            .profile
            .initiate(&mut self.rng, &r.responder_certificate)
        {
            Ok(k) => k,
            Err(e) => return self.fail_open(h, &format!("keying: {e}")),
        };
        let local_sid = self.new_sid();
        let ii = IIKeying {
            initiator_session_id: local_sid,
            cookie_echo: r.cookie.clone(),
            initiator_certificate: self.profile.certificate().to_vec(),
            skic: keying.skic().to_vec(),
            signature: Vec::new(),
        };
        let ii = IIKeying {
            signature: self.profile.sign(&ii.signed_parameters()),
            ..ii
        };
        self.by_sid.insert(local_sid, h);
        let retry = Retry::start(now, self.config.startup_retry);
        let s = self.sessions.get_mut(&h).expect("present");
        // §3.5.1.1.1 step 2: S_KEYING_SENT, DESTADDR = the RHello's source.
        s.state = State::S_KEYING_SENT;
        s.dest = from;
        s.local_sid = local_sid;
        s.far_certificate = r.responder_certificate.clone();
        let o = s.opening.as_mut().expect("opening");
        o.cookie = r.cookie;
        o.far_certificate = r.responder_certificate;
        o.keying = Some(keying);
        o.iikeying = Some(ii.clone());
        o.retry = Some(retry);
        self.initiating = true;
        self.send_startup(now, from, 0, vec![Chunk::IIKeying(ii)]);
        self.initiating = false;
    }

    /// §3.5.1.2: the initiator adopts a new cookie once.
    pub(super) fn on_cookie_change(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sid: u32,
        c: RHelloCookieChange,
    ) {
        let Some(&h) = self.by_sid.get(&sid) else {
            return;
        };
        let s = self.sessions.get_mut(&h).expect("indexed");
        let Some(o) = s.opening.as_mut() else { return };
        if s.state != State::S_KEYING_SENT || o.cookie != c.old_cookie {
            return self.stats.drop(DropReason::CookieChangeMismatch);
        }
        // §3.5.1.2: SHOULD NOT change the cookie more than once.
        if o.cookie_changed {
            return self.stats.drop(DropReason::SecondCookieChange);
        }
        o.cookie_changed = true;
        o.cookie = c.new_cookie.clone();
        let Some(ii) = o.iikeying.as_mut() else {
            return;
        };
        ii.cookie_echo = c.new_cookie;
        ii.signature = Vec::new();
        let signed = ii.signed_parameters();
        ii.signature = self.profile.sign(&signed);
        let ii = ii.clone();
        let dest = s.dest;
        let _ = from;
        self.initiating = true;
        self.send_startup(now, dest, 0, vec![Chunk::IIKeying(ii)]);
        self.initiating = false;
    }

    /// §3.5.1.1.1: RIKeying completes the initiator's handshake.
    pub(super) fn on_rikeying(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sid: u32,
        r: RIKeying,
        ts: Option<u16>,
    ) {
        let Some(&h) = self.by_sid.get(&sid) else {
            return;
        };
        // RFC 7016 §3.3: session ID 0 MUST NOT be used for an active session.
        if r.responder_session_id == 0 {
            return self.stats.drop(DropReason::RIKeyingSessionIdZero);
        }
        let s = self.sessions.get_mut(&h).expect("indexed");
        if s.state != State::S_KEYING_SENT {
            return self.stats.drop(DropReason::RIKeyingWrongState);
        }
        let o = s.opening.as_mut().expect("opening");
        let skic = o
            .iikeying
            .as_ref()
            .map(|i| i.skic.clone())
            .unwrap_or_default();
        let signed = [r.signed_parameters_portion(), skic].concat();
        if !self
            .profile
            .verify(&o.far_certificate, &signed, &r.signature)
        {
            return self.stats.drop(DropReason::RIKeyingSignature);
        }
        let Some(keying) = o.keying.take() else {
            return;
        };
        let keys = match keying.complete(&super::derivation_input(
            &self.config,
            self.profile.as_ref(),
            &r.skrc,
        )) {
            Ok(k) => k,
            Err(e) => {
                let reason = format!("keying: {e}");
                return self.fail_open(h, &reason);
            }
        };
        s.opening = None;
        s.state = State::S_OPEN;
        s.remote_sid = r.responder_session_id;
        s.set_cipher(keys.cipher, &self.config);
        s.near_nonce = keys.near_nonce;
        s.far_nonce = keys.far_nonce;
        s.opened_at = now;
        s.last_heard = now;
        s.data.on_open(now);
        // The RIKeying's timestamp starts the echo (as the RFC author's stack does).
        s.data.seed_timestamp(now, ts);
        let _ = from;
        let (dest, cert) = (s.dest, s.far_certificate.clone());
        let local = self
            .local
            .first()
            .copied()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        self.push_keylog(h, local, dest, keys.keylog);
        self.events.push_back(Event::SessionOpened {
            session: h,
            role: Role::Initiator,
            far_address: dest,
            far_certificate: cert,
        });
    }

    /// IHello backoff per candidate, IIKeying retransmission, open timeout.
    pub(super) fn service_openings(&mut self, now: Instant) {
        let hs: Vec<_> = self
            .sessions
            .values()
            .filter(|s| s.opening.is_some())
            .map(|s| s.handle)
            .collect();
        for h in hs {
            let s = self.sessions.get_mut(&h).expect("present");
            let o = s.opening.as_mut().expect("opening");
            if now >= o.deadline {
                // §3.5.1.1.1: the ultimate open timeout moves the session to S_OPEN_FAILED.
                self.fail_open(h, "ultimate open timeout");
                continue;
            }
            match s.state {
                State::S_IHELLO_SENT => {
                    let mut sends = Vec::new();
                    for c in o.candidates.iter_mut().filter(|c| c.next_send <= now) {
                        c.sent_at(now);
                        sends.push(c.addr);
                    }
                    let ih = IHello {
                        epd: o.epd.clone(),
                        tag: o.tag.clone(),
                    };
                    self.initiating = true;
                    for a in sends {
                        self.send_startup(now, a, 0, vec![Chunk::IHello(ih.clone())]);
                    }
                    self.initiating = false;
                }
                State::S_KEYING_SENT => {
                    if let (Some(r), Some(ii)) = (o.retry.as_mut(), o.iikeying.as_ref())
                        && r.next <= now
                    {
                        r.backoff(now);
                        let (ii, dest) = (ii.clone(), s.dest);
                        self.initiating = true;
                        self.send_startup(now, dest, 0, vec![Chunk::IIKeying(ii)]);
                        self.initiating = false;
                    }
                }
                _ => {}
            }
        }
    }
}
