//! RFC 7016 §3.5.1.1.2 responder: an IHello is answered with an RHello (no
//! state kept: the cookie carries it), an IIKeying with a valid cookie and
//! signature opens a session (with Cookie Change §3.5.1.2, Glare §3.5.1.3,
//! retransmitted IIKeyings and session override).

use std::net::SocketAddr;

use rand::RngCore;

use super::Endpoint;
use crate::session::config::FIHelloMode;
use crate::session::cookie::CookieCheck;
use crate::session::{Event, Role, Session, State};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{
    Chunk, Header, IIKeying, Mode, Packet, RHello, RHelloCookieChange, RIKeying, Redirect,
    multiplex,
};

impl Endpoint {
    /// §3.5.1.1.2 / §3.5.1.4 / §3.5.1.5: an IHello (or, with `forwarded_by`, an
    /// FIHello treated as one) from `from`.
    pub(super) fn on_ihello(
        &mut self,
        now: Instant,
        from: SocketAddr,
        epd: &[u8],
        tag: &[u8],
        forwarded: Option<()>,
    ) {
        if self.profile.epd_selects_me(epd) {
            if forwarded.is_some() && self.config.fihello == FIHelloMode::ImpliedRedirect {
                let r = Redirect {
                    tag_echo: tag.to_vec(),
                    redirect_destinations: vec![],
                };
                return self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
            }
            // §3.5.1.1.2: no persistent state for an IHello; the cookie carries it.
            let cookie = self.cookies.make(now, from);
            let mut tag_echo = tag.to_vec();
            if fault!(self.config, alter_tag_echo)
                && let Some(b) = tag_echo.last_mut()
            {
                *b ^= 1;
            }
            let rh = RHello {
                tag_echo,
                cookie,
                responder_certificate: self.profile.certificate().to_vec(),
            };
            return self.send_startup(now, from, 0, vec![Chunk::RHello(rh)]);
        }
        self.redirect_or_forward(now, from, epd, tag, forwarded.is_some());
    }

    /// §3.5.1.1.2 responder processing of IIKeying, with Cookie Change (§3.5.1.2),
    /// Glare (§3.5.1.3), retransmission and session override.
    pub(super) fn on_iikeying(&mut self, now: Instant, from: SocketAddr, ii: IIKeying) {
        // RFC 7016 §3.3: session ID 0 is reserved for session startup and MUST NOT be
        // used for an active session, so an IIKeying asking for it opens nothing.
        if ii.initiator_session_id == 0 {
            return self.stats.drop(DropReason::IIKeyingSessionIdZero);
        }
        match self.cookies.check(now, &ii.cookie_echo, from) {
            CookieCheck::Invalid if !fault!(self.config, accept_bad_cookie) => {
                return self.stats.drop(DropReason::IIKeyingBadCookie);
            }
            CookieCheck::Invalid => {}
            CookieCheck::WrongAddress => {
                // §3.5.1.2: SHOULD send an RHello Cookie Change to the IIKeying's source,
                // to the IIKeying's session ID, under the Default Session Key.
                let cc = RHelloCookieChange {
                    old_cookie: ii.cookie_echo.clone(),
                    new_cookie: self.cookies.make(now, from),
                };
                self.stats.drop(DropReason::IIKeyingCookieWrongAddress);
                return self.send_startup(
                    now,
                    from,
                    ii.initiator_session_id,
                    vec![Chunk::RHelloCookieChange(cc)],
                );
            }
            CookieCheck::Valid => {}
        }
        if let Err(e) = self.profile.validate_certificate(&ii.initiator_certificate) {
            return self
                .stats
                .drop_with(DropReason::IIKeyingCertificateInvalid, e);
        }
        if !self.profile.verify(
            &ii.initiator_certificate,
            &ii.signed_parameters(),
            &ii.signature,
        ) {
            return self.stats.drop(DropReason::IIKeyingSignature);
        }
        // 1. Glare: an opening session to this address.
        let glare = self
            .sessions
            .values()
            .find(|s| {
                matches!(s.state, State::S_IHELLO_SENT | State::S_KEYING_SENT)
                    && (s.dest == from
                        || s.opening
                            .as_ref()
                            .is_some_and(|o| o.candidates.iter().any(|c| c.addr == from)))
            })
            .map(|s| s.handle);
        if let Some(g) = glare {
            // §3.5.1.3: if the near end prevails, ignore the IIKeying.
            let mut near_wins = self.profile.glare_near_wins(&ii.initiator_certificate);
            // (The invert-glare fault decides the other way round.)
            if fault!(self.config, invert_glare) {
                near_wins = !near_wins;
            }
            if near_wins {
                return self.stats.drop(DropReason::IIKeyingLostGlare);
            }
            // The far end prevails: abort our opening session if the incoming
            // certificate is the one it wanted, then carry on as responder.
            let s = &self.sessions[&g];
            let o = s.opening.as_ref().expect("opening");
            let overrides = if o.far_certificate.is_empty() {
                self.profile
                    .epd_selects_certificate(&o.epd, &ii.initiator_certificate)
            } else {
                self.profile
                    .same_identity(&o.far_certificate, &ii.initiator_certificate)
            };
            if overrides {
                self.fail_open(g, "glare: the far end prevailed");
            }
        }
        // 2. An S_OPEN session with this address.
        let existing = self
            .sessions
            .values()
            .find(|s| s.dest == from && matches!(s.state, State::S_OPEN))
            .map(|s| s.handle);
        if let Some(e) = existing {
            let s = &self.sessions[&e];
            if s.role == Role::Responder && s.iikeying.as_ref() == Some(&ii) {
                // 2.1 A retransmission: resend the RIKeying under the default key.
                if let Some(rik) = s.rikeying.clone() {
                    let sid = s.remote_sid;
                    if !self.may_answer(now, from) {
                        return;
                    }
                    return self.resend_rikeying(from, sid, rik);
                }
                return;
            }
            // 2.2 Not an override: ignore. 2.3 Override: the old session is stale.
            if !self
                .profile
                .same_identity(&s.far_certificate, &ii.initiator_certificate)
            {
                return self.stats.drop(DropReason::IIKeyingNotOverride);
            }
            self.with_session(now, e, |s, io| {
                s.enter_closed(io, "overridden by a new session from the same identity")
            });
        }
        // 3. A new S_OPEN session, if the limits allow (otherwise no RIKeying: the
        // initiator's open times out, §3.5.1.1.1).
        if self.sessions.len() >= self.config.limits.max_sessions {
            return self.stats.drop(DropReason::SessionLimit);
        }
        if self.sessions.values().filter(|s| s.half_open()).count()
            >= self.config.limits.max_half_open
        {
            return self.stats.drop(DropReason::HalfOpenLimit);
        }
        // 3. A new S_OPEN session.
        let component = super::derivation_input(&self.config, self.profile.as_ref(), &ii.skic);
        let (skrc, keys) =
            match self
                .profile
                .respond(&mut self.rng, &ii.initiator_certificate, &component)
            {
                Ok(x) => x,
                Err(e) => {
                    return self.stats.drop_with(DropReason::IIKeyingKeyComponent, e);
                }
            };
        let local_sid = self.new_sid();
        let rik = RIKeying {
            responder_session_id: local_sid,
            skrc,
            signature: Vec::new(),
        };
        let signed = [rik.signed_parameters_portion(), ii.skic.clone()].concat();
        let rik = RIKeying {
            signature: self.profile.sign(&signed),
            ..rik
        };
        let h = self.new_handle();
        let mut secret = [0u8; 16];
        self.rng.fill_bytes(&mut secret);
        let mut header = Header::new(Mode::Startup);
        // Liberty (config.timestamp_origin): §2.2.4 the clock's origin is free.
        header.timestamp = Some(
            now.timestamp_250hz()
                .wrapping_add(self.config.timestamp_origin),
        );
        let rik_plain = Packet::new(header, vec![Chunk::RIKeying(rik)])
            .to_bytes()
            .unwrap_or_default();
        let mut s = Session::responder(h, &self.config, now, from, secret);
        s.local_sid = local_sid;
        s.remote_sid = ii.initiator_session_id;
        s.far_certificate = ii.initiator_certificate.clone();
        s.near_nonce = keys.near_nonce;
        s.far_nonce = keys.far_nonce;
        s.set_cipher(keys.cipher, &self.config);
        s.iikeying = Some(ii.clone());
        s.rikeying = Some(rik_plain.clone());
        self.sessions.insert(h, Box::new(s));
        self.by_sid.insert(local_sid, h);
        self.sessions
            .get_mut(&h)
            .expect("inserted")
            .data
            .on_open(now);
        self.resend_rikeying(from, ii.initiator_session_id, rik_plain);
        let local = self
            .local
            .first()
            .copied()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        self.push_keylog(h, from, local, keys.keylog);
        self.events.push_back(Event::SessionOpened {
            session: h,
            role: Role::Responder,
            far_address: from,
            far_certificate: ii.initiator_certificate,
        });
    }

    /// §3.5.1.1.2 3.: the RIKeying goes to the initiator's session ID under the
    /// Default Session Key.
    fn resend_rikeying(&mut self, to: SocketAddr, sid: u32, plain: Vec<u8>) {
        let mut enc = Vec::new();
        self.default_cipher.seal(&plain, &mut enc);
        let mut d = Vec::new();
        multiplex::mux(sid, &enc, &mut d);
        self.send_raw(to, d);
    }
}
