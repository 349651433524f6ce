//! Liberties: behaviours RFC 7016 allows that the reference implementation does
//! not use by default. The reference target can be told to take each one
//! (`run --liberty NAME`, `rtmfp-conformance liberties`); with any of them, and
//! with all of them together, no case may fail or warn (it may become
//! unsupported, with the reason). A liberty that makes a case fail is a bug of
//! the suite: an expectation that fits only our reference's habits.
//!
//! Engine-level liberties are settings of the reference's `EndpointConfig`;
//! application-level ones are settings of the reference target's application
//! ([`TargetApp`]).

use std::collections::BTreeMap;
use std::time::Duration;

use rtmfp::app::Echo;
use rtmfp::endpoint::{Endpoint, SessionHandle};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::{EndpointConfig, FIHelloMode};
use rtmfp::session::data::FlowOptions;
use rtmfp::time::Instant;

/// One liberty: its name, the RFC sentence that allows it, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Liberty {
    pub name: &'static str,
    /// The RFC section and the sentence that allows the behaviour.
    pub rfc: &'static str,
    pub what: &'static str,
}

/// Every liberty `--liberty` accepts (`all` takes them together).
pub const LIBERTIES: &[Liberty] = &[
    Liberty {
        name: "echo-next-user-data",
        rfc: "7016 §2.3.12: \"This chunk is equivalent to the User Data chunk for purposes of sending the user messages of a flow.\"",
        what: "the application echoes the messages delivered together in one go, so all but the first travel in Next User Data chunks",
    },
    Liberty {
        name: "return-metadata",
        rfc: "7016 §3.6.1.1: \"the user metadata is entirely reserved for the application.\"",
        what: "the application names each return flow with the forward flow's metadata plus \" return\" (as rtmfp-cpp's echoserver does)",
    },
    Liberty {
        name: "refuse-associated-flows",
        rfc: "7016 §3.6.2.10: \"The flow receiver can reject the flow at any time and for any reason.\"",
        what: "the application rejects every flow that names a return association",
    },
    Liberty {
        name: "large-path-mtu",
        rfc: "7016 §3.4: a packet unavoidably larger than the path MTU \"can be fragmented into segments that do not exceed the path MTU\"",
        what: "a 4 KB path MTU for startup packets: a large RHello or IIKeying is sent whole, not in Packet Fragments",
    },
    Liberty {
        name: "no-fragment-reassembly",
        rfc: "7016 §3.4: a packet larger than the path MTU \"can be fragmented\" (fragmentation is optional, so is reassembly for a stack that never needs it)",
        what: "received Packet Fragments are dropped, never reassembled",
    },
    Liberty {
        name: "one-ihello-per-packet",
        rfc: "7016 §3.5.1.1.2: a responder \"SHOULD\" answer an IHello selecting it; a second IHello in the same packet may go unanswered",
        what: "only the first IHello of a startup packet is answered",
    },
    Liberty {
        name: "fihello-ignored",
        rfc: "7016 §3.5.1.1.2: on an FIHello selecting it an endpoint SHOULD do one of: send an RHello, send an Implied Redirect, or \"3. Ignore this FIHello.\"",
        what: "Forwarded IHellos are ignored",
    },
    Liberty {
        name: "no-forwarding",
        rfc: "7016 §3.5.1.5: \"A Forwarder's endpoint address MAY be a candidate address for another endpoint.\" (forwarding is optional)",
        what: "IHellos for peers the target has a session with are not forwarded as FIHellos",
    },
    Liberty {
        name: "keepalive-period",
        rfc: "7016 §3.5.4.1: \"An endpoint can use a Ping to test for live bidirectional connectivity\" (when, the RFC leaves to the implementation)",
        what: "keepalive Pings after 3 s of silence instead of 10 s",
    },
    Liberty {
        name: "idle-close",
        rfc: "7016 §3.1: \"The session will be idle and quiescent. Either end may reliably close the session to recover its resources.\"",
        what: "a session without flows is closed in an orderly way (Close Request) after 5 s idle, instead of being kept",
    },
    Liberty {
        name: "long-erto",
        rfc: "7016 §3.5.2.2: \"The ERTO SHOULD be at least 250 milliseconds\" (a larger floor is allowed)",
        what: "the ERTO is never below 600 ms",
    },
    Liberty {
        name: "delayed-acks",
        rfc: "7016 §3.6.3.4.4: \"a flow receiver can delay sending an acknowledgement for up to 200 milliseconds after receiving user data\"",
        what: "no opportunistic acknowledgements piggybacked on data: acknowledgements go out only when obligatory or when the 200 ms DELACK_ALARM fires",
    },
    Liberty {
        name: "timestamp-origin",
        rfc: "7016 §2.2.4: \"The sender's clock MAY have its origin at any time in the past.\"",
        what: "the 250 Hz clock of every timestamp the target sends starts 12345 ticks ahead",
    },
    Liberty {
        name: DH_KEY_FROM_FIRST_OPTION,
        rfc: "7016 §2.3.7: \"The Cryptography Profile determines the syntax, algorithms, and interpretation of the initiatorCertificate\" (Flash-era servers, Cumulus and MonaServer, read the initiator's group-2 key from its certificate's first option, as Flash Player's carries it: flash-profile fact sheet §7.9)",
        what: "the target takes the initiator's Diffie-Hellman key from the first option of its certificate (Flash profile only); the tester then presents Flash Player's client identity unless --tester-identity says otherwise",
    },
];

/// The Flash-era liberty: a profile setting of the target's identity
/// (`FlashConfig::dh_key_from_first_option`), not of its engine.
pub const DH_KEY_FROM_FIRST_OPTION: &str = "dh-key-from-first-option";

/// Finds a liberty by name.
pub fn find(name: &str) -> Option<&'static Liberty> {
    LIBERTIES.iter().find(|l| l.name == name)
}

/// Expands `all` and checks the names.
pub fn expand(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out: Vec<&'static str> = Vec::new();
    for n in names {
        if n == "all" {
            out.extend(LIBERTIES.iter().map(|l| l.name));
            continue;
        }
        match find(n) {
            Some(l) => out.push(l.name),
            None => {
                return Err(format!(
                    "unknown liberty `{n}` (known: all, {})",
                    LIBERTIES
                        .iter()
                        .map(|l| l.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Settings of the reference target's application.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// Sink instead of echo.
    pub sink: bool,
    pub echo_next_user_data: bool,
    pub return_metadata: bool,
    pub refuse_associated_flows: bool,
}

/// Applies the named liberties (already checked with [`expand`]) to the
/// reference target's engine and application settings.
pub fn apply(names: &[&str], cfg: &mut EndpointConfig, app: &mut AppSettings) {
    for n in names {
        match *n {
            "echo-next-user-data" => app.echo_next_user_data = true,
            "return-metadata" => app.return_metadata = true,
            "refuse-associated-flows" => app.refuse_associated_flows = true,
            "large-path-mtu" => cfg.max_startup_packet = 4096,
            "no-fragment-reassembly" => cfg.reassemble_fragments = false,
            "one-ihello-per-packet" => cfg.one_ihello_per_packet = true,
            "fihello-ignored" => cfg.fihello = FIHelloMode::Ignore,
            "no-forwarding" => cfg.forwarder = false,
            "keepalive-period" => cfg.keepalive = Duration::from_secs(3),
            "idle-close" => cfg.idle_close = Some(Duration::from_secs(5)),
            "long-erto" => cfg.min_erto = Duration::from_millis(600),
            "delayed-acks" => cfg.no_opportunistic_acks = true,
            "timestamp-origin" => cfg.timestamp_origin = 12345,
            // A setting of the target's identity: see `Options::target_first_option`.
            DH_KEY_FROM_FIRST_OPTION => {}
            _ => {}
        }
    }
}

/// The reference target's application: `rtmfp serve`'s echo, or (with an
/// application-level liberty) an echo that takes that liberty.
#[derive(Debug)]
pub struct TargetApp {
    settings: AppSettings,
    echo: Echo,
    /// Return flow per (session, forward flow), for the liberty variants.
    returns: BTreeMap<(SessionHandle, u64), u64>,
    /// Messages waiting to be echoed together (echo-next-user-data).
    pending: Vec<(SessionHandle, u64, Vec<u8>)>,
}

impl TargetApp {
    pub fn new(settings: AppSettings) -> Self {
        TargetApp {
            settings,
            echo: Echo::new(settings.sink),
            returns: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    fn plain(&self) -> bool {
        let s = self.settings;
        s.sink || !(s.echo_next_user_data || s.return_metadata || s.refuse_associated_flows)
    }

    /// Reacts to one session event of the target.
    pub fn on_event(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        event: SessionEvent,
    ) {
        if self.plain() {
            return self.echo.on_event(ep, now, session, event);
        }
        match event {
            SessionEvent::FlowOpened {
                flow,
                metadata,
                association,
            } => {
                if self.settings.refuse_associated_flows && association.is_some() {
                    // Exception code 0: the application's own refusal.
                    let _ = ep.reject_flow(now, session, flow, 0);
                    return;
                }
                let mut md = metadata;
                if self.settings.return_metadata {
                    md.extend_from_slice(b" return");
                }
                if let Ok(r) = ep.open_flow(now, session, md, Some(flow), FlowOptions::default()) {
                    self.returns.insert((session, flow), r);
                }
            }
            SessionEvent::Message { flow, data } => {
                if let Some(&r) = self.returns.get(&(session, flow)) {
                    if self.settings.echo_next_user_data {
                        self.pending.push((session, r, data));
                    } else {
                        let deadline = Some(now + Duration::from_secs(60));
                        let _ = ep.send(now, session, r, &data, deadline);
                    }
                }
            }
            SessionEvent::FlowComplete { flow } => {
                self.flush(ep, now);
                if let Some(r) = self.returns.remove(&(session, flow)) {
                    let _ = ep.close_flow(now, session, r);
                }
            }
            SessionEvent::SendFlowException { flow, .. } => {
                self.returns.retain(|_, r| *r != flow);
            }
            SessionEvent::Aborted { .. } => {
                self.returns.retain(|(s, _), _| *s != session);
                self.pending.retain(|p| p.0 != session);
            }
            _ => {}
        }
    }

    /// Sends the echoes held back so far, all of a session's in one packet
    /// where they fit (echo-next-user-data).
    pub fn flush(&mut self, ep: &mut Endpoint, now: Instant) {
        let pending = std::mem::take(&mut self.pending);
        let mut by_session: BTreeMap<SessionHandle, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
        for (s, r, data) in pending {
            by_session.entry(s).or_default().push((r, data));
        }
        for (s, msgs) in by_session {
            ep.with_data(now, s, |d| {
                for (r, data) in msgs {
                    let _ = d.send(r, &data, Some(now + Duration::from_secs(60)));
                }
            });
        }
    }
}
