//! The key-agreement check: a session the tester opened is only "open" for a
//! case once a packet from the target under the new session key has been
//! verified (decrypted and its checksum or HMAC checked, RFC 7016 §2.2.3; an
//! acknowledgement of ours comes in such a packet too). A handshake can
//! complete with both ends holding different keys (RFC 7425 §4.6.5: each end
//! derives them alone; Flash-era servers, for one, read the initiator's key
//! from the first option of its certificate, fact sheet §7.9): then the
//! target drops every later packet and stays silent, and each case would blame
//! its own rule for that silence. Such a case is inconclusive, never a fail.

use std::time::Duration;

use rtmfp::endpoint::{Crafted, Event, SessionHandle, State};
use rtmfp::time::Instant;
use rtmfp::wire::chunk::{Chunk, Ping};

use crate::harness::Harness;

/// The start of every keying-failure reason (reports and tests look for it).
pub const KEYING_FAILED: &str = "keying failed";

/// How long the probe waits for the target's answer (times the run's scale).
pub const PROBE_WAIT: Duration = Duration::from_secs(2);

/// What the tester saw of one session under its session key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionKeyEvidence {
    /// Packets from the target that decrypted and verified under the session key.
    pub verified: usize,
    /// Datagrams to the tester's session ID that did not decrypt or verify.
    pub undecodable: usize,
}

impl SessionKeyEvidence {
    pub fn keyed(&self) -> bool {
        self.verified > 0
    }

    /// Counts an event of the tester's endpoint for session `h` (whose local
    /// session ID is `local_sid`, when known).
    pub fn absorb(&mut self, ev: &Event, h: SessionHandle, local_sid: Option<u32>) {
        match ev {
            Event::Packet {
                session,
                default_key: false,
                ..
            } if *session == Some(h) => self.verified += 1,
            Event::Undecodable {
                session_id: Some(sid),
                ..
            } if Some(*sid) == local_sid => self.undecodable += 1,
            _ => {}
        }
    }
}

/// The reason of a case (or a preflight) whose session never keyed.
pub fn failure_reason(e: &SessionKeyEvidence, probe: &str) -> String {
    let seen = if e.undecodable > 0 {
        format!(
            "{} datagram(s) to the tester's session ID did not decrypt or verify under the session key",
            e.undecodable
        )
    } else {
        "no datagram came back for the session".to_string()
    };
    format!(
        "{KEYING_FAILED}: the target did not answer under the session key ({probe}; {seen}); \
         both ends completed the handshake but derived different keys or the target dropped \
         the session (try another --tester-identity)"
    )
}

/// Probes an open session: sends a Ping under the session key and waits (up
/// to `within`) for any packet from the target that verifies under it. Ok with
/// the evidence when the target answered; Err with a "keying failed: ..."
/// reason otherwise. Usable by a preflight right after its handshake; every
/// event the tester's endpoint gives meanwhile is passed on to `sink`.
pub fn probe(
    h: &mut dyn Harness,
    session: SessionHandle,
    within: Duration,
    sink: &mut dyn FnMut(Instant, Event),
) -> Result<SessionKeyEvidence, String> {
    let tester = h.tester();
    let (local_sid, open) = match tester.borrow().session(session) {
        Some(s) => (Some(s.local_sid()), s.state() == State::S_OPEN),
        None => (None, false),
    };
    if !open {
        return Err(format!(
            "{KEYING_FAILED}: the session is not open, so it cannot be probed"
        ));
    }
    let now = h.now();
    let dst = h.target_addr();
    // Four Pings of four lengths, in four packets: a target whose only fault is
    // in framing some lengths (an odd-byte checksum rule, say) still answers one.
    for n in 0..4 {
        let mut message = b"keying?".to_vec();
        message.extend(std::iter::repeat_n(b'!', n));
        tester
            .borrow_mut()
            .send_crafted(
                now,
                dst,
                Crafted {
                    session: Some(session),
                    chunks: vec![Chunk::Ping(Ping { message })],
                    ..Default::default()
                },
            )
            .map_err(|e| format!("{KEYING_FAILED}: cannot send the probe Ping: {e}"))?;
    }
    let mut ev = SessionKeyEvidence::default();
    h.run(now + within, &mut |t, e| {
        ev.absorb(&e, session, local_sid);
        sink(t, e);
        ev.keyed()
    });
    if ev.keyed() {
        Ok(ev)
    } else {
        Err(failure_reason(
            &ev,
            &format!("Pings sent under the session key got no verified answer in {within:?}"),
        ))
    }
}

/// A whole key-agreement check for a run's preflight: the tester connects to
/// the target with `epd`, then probes the session. Ok(()) when the target
/// answered under the session key; Err with one "keying failed: ..." (or
/// "handshake failed: ...") line that says what the tester sent and saw.
pub fn preflight(h: &mut dyn Harness, epd: Vec<u8>, within: Duration) -> Result<(), String> {
    let target = h
        .target_addr()
        .ok_or("handshake failed: the target's address is not known")?;
    let now = h.now();
    let tester = h.tester();
    let session = tester.borrow_mut().connect(now, epd, &[target]);
    let mut outcome: Option<Result<(), String>> = None;
    h.run(now + within, &mut |_, e| {
        match e {
            Event::SessionOpened { session: s, .. } if s == session => outcome = Some(Ok(())),
            Event::SessionOpenFailed { session: s, reason } if s == session => {
                outcome = Some(Err(format!("handshake failed: {reason}")))
            }
            _ => {}
        }
        outcome.is_some()
    });
    match outcome {
        None => {
            return Err(format!(
                "handshake failed: no session with {target} within {within:?}"
            ));
        }
        Some(Err(e)) => return Err(e),
        Some(Ok(())) => {}
    }
    let r = probe(h, session, within, &mut |_, _| {}).map(|_| ());
    let now = h.now();
    tester.borrow_mut().close(now, session, true);
    h.run(now + Duration::from_millis(50), &mut |_, _| false);
    r
}
