//! The pcap target's invariants on the independent implementation's captures
//! (which must pass), and on those captures with one thing changed (which must
//! be caught by the rule about that thing).

use std::path::PathBuf;

use rtmfp::decode::{DecodedPacket, Direction, KeyUsed, Status};
use rtmfp::wire::chunk::{Chunk, Fragmentation, NextUserData, PacketFragment, Ping};
use rtmfp::wire::packet::Mode;
use rtmfp_conformance::capture_check::{check_file, judge};
use rtmfp_conformance::invariants::Report;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

const NAMES: [&str; 4] = [
    "flash-echo",
    "flash-echo-hmac",
    "flash-redirect",
    "plain-session",
];

fn load(name: &str) -> Vec<DecodedPacket> {
    let v = vectors();
    check_file(
        &v.join(format!("{name}.pcap")),
        Some(&v.join(format!("{name}.keys"))),
    )
    .unwrap()
    .packets
}

fn judged(p: &[DecodedPacket]) -> Report {
    judge(p, |_| true)
}

fn assert_caught(r: &Report, rule: &str, what: &str) {
    let f: Vec<_> = r.findings_of(rule).collect();
    assert!(
        !f.is_empty(),
        "{what}: rule {rule} did not fire; findings: {:?}",
        r.findings
    );
}

#[test]
fn the_independent_captures_keep_every_invariant() {
    for name in NAMES {
        let c = check_file(
            &vectors().join(format!("{name}.pcap")),
            Some(&vectors().join(format!("{name}.keys"))),
        )
        .unwrap();
        assert!(
            c.report.findings.is_empty(),
            "{name}: {:#?}",
            c.report.findings
        );
        for rule in [
            "decodes",
            "modes",
            "handshake",
            "timestamps",
            "sequence-numbers",
            "metadata",
            "acks",
        ] {
            assert!(
                c.report.checked.get(rule).copied().unwrap_or(0) > 0,
                "{name}: nothing checked for {rule}"
            );
        }
    }
}

/// Index of the first packet matching `f`.
fn first(p: &[DecodedPacket], f: impl Fn(&DecodedPacket) -> bool) -> usize {
    p.iter().position(f).expect("a packet to mutate")
}

fn has(d: &DecodedPacket, f: impl Fn(&Chunk) -> bool) -> bool {
    d.packet.as_ref().is_some_and(|p| p.chunks.iter().any(f))
}

fn chunks(d: &mut DecodedPacket) -> &mut Vec<Chunk> {
    &mut d.packet.as_mut().unwrap().chunks
}

#[test]
fn an_undecodable_packet_is_caught() {
    let mut p = load("flash-echo");
    p[10].status = Status::Failed {
        reason: "HMAC mismatch".into(),
    };
    p[10].packet = None;
    assert_caught(&judged(&p), "decodes", "failed packet");
}

#[test]
fn a_wrong_mode_is_caught() {
    let mut p = load("flash-echo");
    let i = first(&p, |d| {
        d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::ResponderToInitiator)
    });
    p[i].packet.as_mut().unwrap().header.mode = Mode::Initiator;
    assert_caught(&judged(&p), "modes", "responder packet marked 1");
    let mut p = load("flash-echo");
    let i = first(&p, |d| d.key == Some(KeyUsed::Session));
    chunks(&mut p[i]).push(Chunk::IHello(rtmfp::wire::chunk::IHello {
        epd: vec![0x0a],
        tag: vec![1; 16],
    }));
    assert_caught(&judged(&p), "modes", "IHello in a session packet");
}

#[test]
fn handshake_mistakes_are_caught() {
    let base = load("flash-echo-hmac");
    let mut p = base.clone();
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::RHello(_))));
    for c in chunks(&mut p[i]) {
        if let Chunk::RHello(h) = c {
            h.tag_echo[0] ^= 1;
        }
    }
    assert_caught(&judged(&p), "handshake", "altered tag echo");
    let mut p = base.clone();
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::IIKeying(_))));
    for c in chunks(&mut p[i]) {
        if let Chunk::IIKeying(k) = c {
            k.cookie_echo[5] ^= 1;
        }
    }
    assert_caught(&judged(&p), "handshake", "altered cookie echo");
    let mut p = base;
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::RIKeying(_))));
    for c in chunks(&mut p[i]) {
        if let Chunk::RIKeying(k) = c {
            k.responder_session_id = 0;
        }
    }
    assert_caught(&judged(&p), "handshake", "session ID 0");
}

#[test]
fn an_unsolicited_ping_reply_is_caught() {
    let mut p = load("plain-session");
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::PingReply(_))));
    for c in chunks(&mut p[i]) {
        if let Chunk::PingReply(r) = c {
            r.message.push(0x99);
        }
    }
    assert_caught(&judged(&p), "ping-reply", "altered Ping Reply");
}

#[test]
fn a_wrong_timestamp_echo_is_caught() {
    let mut p = load("flash-echo");
    let i = p
        .iter()
        .rposition(|d| {
            d.packet
                .as_ref()
                .is_some_and(|p| p.header.timestamp_echo.is_some())
        })
        .unwrap();
    let h = &mut p[i].packet.as_mut().unwrap().header;
    h.timestamp_echo = h.timestamp_echo.map(|t| t.wrapping_add(5000));
    assert_caught(&judged(&p), "timestamps", "echo 20 s ahead");
}

fn first_user_data(p: &[DecodedPacket], skip: usize) -> usize {
    p.iter()
        .enumerate()
        .filter(|(_, d)| has(d, |c| matches!(c, Chunk::UserData(_))))
        .nth(skip)
        .unwrap()
        .0
}

#[test]
fn sequence_number_mistakes_are_caught() {
    let base = load("flash-echo");
    // fsnOffset 0 without the abandon flag: parsed as a malformed chunk.
    let mut p = base.clone();
    let i = first_user_data(&p, 3);
    for c in chunks(&mut p[i]) {
        if let Chunk::UserData(u) = c {
            u.fsn_offset = 0;
        }
    }
    assert_caught(&judged(&p), "sequence-numbers", "fsnOffset 0");
    // The FSN going back.
    let mut p = base.clone();
    let i = first_user_data(&p, 40);
    for c in chunks(&mut p[i]) {
        if let Chunk::UserData(u) = c {
            u.fsn_offset = u.sequence_number;
        }
    }
    assert_caught(&judged(&p), "sequence-numbers", "FSN back to 0");
    // The first fragment of a message turned into a whole message (or the
    // reverse): its neighbour no longer fits.
    let mut p = base.clone();
    let i = first_user_data(&p, 0);
    for c in chunks(&mut p[i]) {
        if let Chunk::UserData(u) = c {
            u.flags.fragment_control = match u.flags.fragment_control {
                Fragmentation::Whole => Fragmentation::Begin,
                _ => Fragmentation::Whole,
            };
        }
    }
    assert_caught(&judged(&p), "sequence-numbers", "not contiguous");
    // A sequence number sent again with other content.
    let mut p = base;
    let i = first_user_data(&p, 0);
    let mut again = p[i].clone();
    for c in chunks(&mut again) {
        if let Chunk::UserData(u) = c {
            u.user_data.push(0);
        }
    }
    p.insert(i + 1, again);
    assert_caught(&judged(&p), "sequence-numbers", "same seq, other data");
}

#[test]
fn a_next_user_data_without_user_data_is_caught() {
    let mut p = load("flash-echo");
    let i = first_user_data(&p, 5);
    let c = chunks(&mut p[i]);
    let pos = c
        .iter()
        .position(|c| matches!(c, Chunk::UserData(_)))
        .unwrap();
    if let Chunk::UserData(u) = c[pos].clone() {
        c[pos] = Chunk::NextUserData(NextUserData {
            flags: u.flags,
            options: None,
            user_data: u.user_data,
        });
    }
    assert_caught(&judged(&p), "next-user-data", "NUD first");
}

#[test]
fn missing_metadata_is_caught() {
    let mut p = load("flash-echo");
    let i = first_user_data(&p, 0);
    for c in chunks(&mut p[i]) {
        if let Chunk::UserData(u) = c {
            u.options = None;
        }
    }
    assert_caught(&judged(&p), "metadata", "first chunk without metadata");
}

fn acks(p: &[DecodedPacket]) -> Vec<usize> {
    p.iter()
        .enumerate()
        .filter(|(_, d)| has(d, |c| matches!(c, Chunk::BitmapAck(_) | Chunk::RangeAck(_))))
        .map(|(i, _)| i)
        .collect()
}

fn set_cum(d: &mut DecodedPacket, f: impl Fn(u64) -> u64) {
    for c in chunks(d) {
        match c {
            Chunk::BitmapAck(a) => a.cumulative_ack = f(a.cumulative_ack),
            Chunk::RangeAck(a) => a.cumulative_ack = f(a.cumulative_ack),
            _ => {}
        }
    }
}

#[test]
fn acknowledgement_mistakes_are_caught() {
    let base = load("flash-echo");
    let a = acks(&base);
    // Acknowledging what was never sent.
    let mut p = base.clone();
    set_cum(&mut p[a[2]], |c| c + 50);
    assert_caught(&judged(&p), "acks", "cumulative ack beyond what was sent");
    // Falling below an FSN the receiver had.
    let mut p = base.clone();
    let last = *a.last().unwrap();
    set_cum(&mut p[last], |_| 0);
    for c in chunks(&mut p[last]) {
        if let Chunk::RangeAck(r) = c {
            r.ranges.clear();
        }
        if let Chunk::BitmapAck(b) = c {
            b.bitmap.clear();
        }
    }
    assert_caught(&judged(&p), "acks", "cumulative ack 0 at the end");
    // A selective ack beyond what was sent.
    let mut p = base;
    for c in chunks(&mut p[a[2]]) {
        if let Chunk::RangeAck(r) = c {
            r.ranges.push(rtmfp::wire::chunk::AckRange {
                holes_minus_one: 100,
                received_minus_one: 0,
            });
        }
        if let Chunk::BitmapAck(b) = c {
            b.bitmap.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
        }
    }
    assert_caught(&judged(&p), "acks", "selective ack of unsent");
}

#[test]
fn oversized_datagrams_are_caught() {
    let mut p = load("flash-echo");
    let i = first_user_data(&p, 2);
    p[i].length = 1480;
    assert_caught(&judged(&p), "packet-size", "1480-byte datagram");
}

#[test]
fn sending_after_close_ack_is_caught() {
    let mut p = load("plain-session");
    let i = first(&p, |d| {
        d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::ResponderToInitiator)
    });
    chunks(&mut p[i]).push(Chunk::CloseAck);
    assert_caught(&judged(&p), "close", "data after Close Ack");
}

#[test]
fn empty_or_misnumbered_packet_fragments_are_caught() {
    let mut p = load("flash-echo");
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
    let frag = |num, more, data: &[u8]| {
        Chunk::PacketFragment(PacketFragment {
            more_fragments: more,
            reserved: 0,
            packet_id: 7,
            fragment_num: num,
            packet_fragment: data.to_vec(),
        })
    };
    chunks(&mut p[i]).push(frag(1, true, b"ab"));
    chunks(&mut p[i]).push(frag(2, false, b""));
    let r = judged(&p);
    assert_caught(&r, "fragments", "empty fragment, no fragment 0");
    assert!(r.findings_of("fragments").count() >= 2, "{:?}", r.findings);
}

#[test]
fn reusing_a_completed_flow_id_is_caught() {
    // A flow that finishes, then starts again under the same ID at once.
    let base = load("plain-session");
    let mut p = base.clone();
    // Find the last User Data chunk of some flow carrying the fin flag and
    // the ack covering it, then replay that flow's first packet afterwards.
    let fin = p.iter().position(|d| {
        has(d, |c| matches!(c, Chunk::UserData(u) if u.flags.fin))
            || has(d, |c| matches!(c, Chunk::NextUserData(u) if u.flags.fin))
    });
    let Some(fin) = fin else {
        panic!("plain-session has a flow that finishes");
    };
    let flow = p[..=fin]
        .iter()
        .rev()
        .find_map(|d| {
            d.packet
                .as_ref()?
                .chunks
                .iter()
                .rev()
                .find_map(|c| match c {
                    Chunk::UserData(u) => Some(u.flow_id),
                    _ => None,
                })
        })
        .unwrap();
    let opening = first(&p, |d| {
        has(
            d,
            |c| matches!(c, Chunk::UserData(u) if u.flow_id == flow && u.options.is_some()),
        )
    });
    let mut replay = p[opening].clone();
    replay.time = p.last().unwrap().time + 1.0;
    p.push(replay);
    assert_caught(&judged(&p), "flow-id-reuse", "flow reopened at once");
    // The same replay 131 s later is fine.
    let mut p = base;
    let mut replay = p[opening].clone();
    replay.time = p.last().unwrap().time + 131.0;
    p.push(replay);
    assert_eq!(judged(&p).findings_of("flow-id-reuse").count(), 0);
}

#[test]
fn should_level_sender_habits_are_caught() {
    let base = load("flash-echo");
    // Metadata sent again long after the flow was acknowledged.
    let mut p = base.clone();
    let i = p
        .iter()
        .rposition(|d| {
            has(
                d,
                |c| matches!(c, Chunk::UserData(u) if u.options.is_none()),
            )
        })
        .unwrap();
    let flow = p[i]
        .packet
        .as_ref()
        .unwrap()
        .chunks
        .iter()
        .find_map(|c| match c {
            Chunk::UserData(u) if u.options.is_none() => Some(u.flow_id),
            _ => None,
        })
        .unwrap();
    let src = p[i].src;
    let options = p
        .iter()
        .filter(|d| d.src == src)
        .find_map(|d| {
            d.packet.as_ref()?.chunks.iter().find_map(|c| match c {
                Chunk::UserData(u) if u.flow_id == flow && u.options.is_some() => u.options.clone(),
                _ => None,
            })
        })
        .unwrap();
    for c in chunks(&mut p[i]) {
        if let Chunk::UserData(u) = c
            && u.flow_id == flow
        {
            u.options = Some(options.clone());
        }
    }
    // This capture takes 25 ms; leave the in-flight grace (0.5 s) behind.
    let t = p[i].time;
    p[i].time = t + 1.0;
    let r = judged(&p);
    assert_eq!(r.findings_of("metadata").count(), 0, "{:?}", r.findings);
    assert_caught(&r, "metadata-economy", "metadata after the ack");
    // Reserved header bits.
    let mut p = base.clone();
    p[20].packet.as_mut().unwrap().header.reserved = 1;
    assert_caught(&judged(&p), "reserved-zero", "reserved header bits");
    // A packet without chunks.
    let mut p = base;
    chunks(&mut p[30]).clear();
    assert_caught(&judged(&p), "non-empty-packets", "empty packet");
}

#[test]
fn packet_fragments_in_an_open_session_are_caught() {
    let mut p = load("flash-echo");
    let i = first_user_data(&p, 4);
    chunks(&mut p[i]).push(Chunk::PacketFragment(PacketFragment {
        more_fragments: false,
        reserved: 0,
        packet_id: 1,
        fragment_num: 0,
        packet_fragment: vec![1, 2, 3],
    }));
    let r = judged(&p);
    assert!(
        r.findings_of("fragments")
            .any(|f| f.message.contains("session")),
        "{:?}",
        r.findings
    );
}

// ---------------------------------------------------------------------------
// Named mutations: each breaks exactly one rule on a real capture. The
// coverage table (`rtmfp_conformance::proofs`) cites them by name; the test
// below proves each one is caught by its rule (the unmutated captures pass
// every rule: `the_independent_captures_keep_every_invariant`).

type Apply = fn(&mut Vec<DecodedPacket>);

/// (name, rule that must catch it, capture, mutation)
/// The capture with its clock slowed 10000 times: loopback round trips of a
/// fraction of a millisecond become seconds, long enough for the ERTO >= RTT
/// rule to judge a resend (the slowed capture alone is still legal for it).
fn slowed(p: &mut [DecodedPacket]) {
    let t0 = p[0].time;
    for d in p.iter_mut() {
        d.time = t0 + (d.time - t0) * 10_000.0;
    }
}

const MUTATIONS: &[(&str, &str, &str, Apply)] = &[
    (
        "resent-before-a-round-trip",
        "retransmit-timing",
        "flash-echo-hmac",
        |p| {
            // A packet of user data sent again 1 ms after itself, with round
            // trips of half a second.
            slowed(p);
            let i = first_user_data(p, 20);
            let mut again = p[i].clone();
            again.time += 0.001;
            p.insert(i + 1, again);
        },
    ),
    ("undecodable-packet", "decodes", "flash-echo", |p| {
        p[10].status = Status::Failed {
            reason: "HMAC mismatch".into(),
        };
        p[10].packet = None;
    }),
    ("responder-marks-mode-1", "modes", "flash-echo", |p| {
        let i = first(p, |d| {
            d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::ResponderToInitiator)
        });
        p[i].packet.as_mut().unwrap().header.mode = Mode::Initiator;
    }),
    ("initiator-marks-mode-2", "modes", "plain-session", |p| {
        let i = first(p, |d| {
            d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::InitiatorToResponder)
        });
        p[i].packet.as_mut().unwrap().header.mode = Mode::Responder;
    }),
    ("ping-in-startup-packet", "modes", "flash-echo", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        chunks(&mut p[i]).push(Chunk::Ping(Ping { message: vec![1] }));
    }),
    ("session-packet-to-id-0", "session-ids", "flash-echo", |p| {
        let i = first(p, |d| d.key == Some(KeyUsed::Session));
        p[i].session_id = Some(0);
    }),
    (
        "session-packet-default-key",
        "session-ids",
        "plain-session",
        |p| {
            let i = first(p, |d| d.key == Some(KeyUsed::Session));
            p[i].key = Some(KeyUsed::Default);
        },
    ),
    ("ihello-to-nonzero-id", "session-ids", "flash-echo", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        p[i].session_id = Some(7);
    }),
    (
        "rikeying-to-other-id",
        "session-ids",
        "flash-echo-hmac",
        |p| {
            let i = first(p, |d| has(d, |c| matches!(c, Chunk::RIKeying(_))));
            p[i].session_id = p[i].session_id.map(|s| s ^ 1);
        },
    ),
    (
        "rhello-tag-echo-altered",
        "handshake",
        "flash-echo-hmac",
        |p| {
            let i = first(p, |d| has(d, |c| matches!(c, Chunk::RHello(_))));
            for c in chunks(&mut p[i]) {
                if let Chunk::RHello(h) = c {
                    h.tag_echo[0] ^= 1;
                }
            }
        },
    ),
    (
        "iikeying-cookie-altered",
        "handshake",
        "flash-echo-hmac",
        |p| {
            let i = first(p, |d| has(d, |c| matches!(c, Chunk::IIKeying(_))));
            for c in chunks(&mut p[i]) {
                if let Chunk::IIKeying(k) = c {
                    k.cookie_echo[5] ^= 1;
                }
            }
        },
    ),
    (
        "rikeying-session-id-0",
        "handshake",
        "flash-echo-hmac",
        |p| {
            let i = first(p, |d| has(d, |c| matches!(c, Chunk::RIKeying(_))));
            for c in chunks(&mut p[i]) {
                if let Chunk::RIKeying(k) = c {
                    k.responder_session_id = 0;
                }
            }
        },
    ),
    ("ping-reply-altered", "ping-reply", "plain-session", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::PingReply(_))));
        for c in chunks(&mut p[i]) {
            if let Chunk::PingReply(r) = c {
                r.message.push(0x99);
            }
        }
    }),
    ("timestamp-echo-ahead", "timestamps", "flash-echo", |p| {
        let i = p
            .iter()
            .rposition(|d| {
                d.packet
                    .as_ref()
                    .is_some_and(|p| p.header.timestamp_echo.is_some())
            })
            .unwrap();
        let h = &mut p[i].packet.as_mut().unwrap().header;
        h.timestamp_echo = h.timestamp_echo.map(|t| t.wrapping_add(5000));
    }),
    ("fsn-offset-0", "sequence-numbers", "flash-echo", |p| {
        let i = first_user_data(p, 3);
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c {
                u.fsn_offset = 0;
            }
        }
    }),
    ("sequence-number-0", "sequence-numbers", "flash-echo", |p| {
        let i = first_user_data(p, 3);
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c {
                u.sequence_number = 0;
                u.fsn_offset = 0;
            }
        }
    }),
    (
        "fsn-offset-above-seq",
        "sequence-numbers",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 3);
            for c in chunks(&mut p[i]) {
                if let Chunk::UserData(u) = c {
                    u.fsn_offset = u.sequence_number + 1;
                }
            }
        },
    ),
    ("fsn-goes-back", "sequence-numbers", "flash-echo", |p| {
        let i = first_user_data(p, 40);
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c {
                u.fsn_offset = u.sequence_number;
            }
        }
    }),
    (
        "fragments-not-contiguous",
        "sequence-numbers",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 0);
            for c in chunks(&mut p[i]) {
                if let Chunk::UserData(u) = c {
                    u.flags.fragment_control = match u.flags.fragment_control {
                        Fragmentation::Whole => Fragmentation::Begin,
                        _ => Fragmentation::Whole,
                    };
                }
            }
        },
    ),
    (
        "abandoned-fragment-unabandoned",
        "sequence-numbers",
        "flash-echo",
        |p| {
            // The abandoned final fragment of a rejected return flow, sent again
            // without the abandon flag.
            let i = first(p, |d| {
                has(d, |c| matches!(c, Chunk::UserData(u) if u.flags.abandon))
            });
            let mut again = p[i].clone();
            again.time += 0.0001;
            for c in chunks(&mut again) {
                if let Chunk::UserData(u) = c {
                    u.flags.abandon = false;
                    u.fsn_offset = 1;
                }
            }
            p.insert(i + 1, again);
        },
    ),
    ("data-beyond-fin", "final-fragment", "plain-session", |p| {
        let i = first(p, |d| {
            has(d, |c| matches!(c, Chunk::UserData(u) if u.flags.fin))
        });
        let mut more = p[i].clone();
        more.time += 0.0001;
        for c in chunks(&mut more) {
            if let Chunk::UserData(u) = c {
                u.flags.fin = false;
                u.sequence_number += 1;
                u.fsn_offset += 1;
            }
        }
        p.insert(i + 1, more);
    }),
    (
        "first-sequence-number-5",
        "first-sequence-number",
        "plain-session",
        |p| {
            // Every chunk of one flow renumbered from 5 (FSN 0 at the start).
            let flow = p
                .iter()
                .find_map(|d| {
                    d.packet.as_ref()?.chunks.iter().find_map(|c| match c {
                        Chunk::UserData(u) => Some(u.flow_id),
                        _ => None,
                    })
                })
                .unwrap();
            let src = p[first_user_data(p, 0)].src;
            for d in p.iter_mut().filter(|d| d.src == src) {
                for c in chunks_of(d) {
                    if let Chunk::UserData(u) = c
                        && u.flow_id == flow
                    {
                        u.sequence_number += 4;
                        u.fsn_offset += 4;
                    }
                }
            }
            for d in p.iter_mut().filter(|d| d.src != src) {
                for c in chunks_of(d) {
                    match c {
                        Chunk::RangeAck(a) if a.flow_id == flow => a.cumulative_ack += 4,
                        Chunk::BitmapAck(a) if a.flow_id == flow => a.cumulative_ack += 4,
                        _ => {}
                    }
                }
            }
        },
    ),
    (
        "next-user-data-first",
        "next-user-data",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 5);
            let c = chunks(&mut p[i]);
            let pos = c
                .iter()
                .position(|c| matches!(c, Chunk::UserData(_)))
                .unwrap();
            if let Chunk::UserData(u) = c[pos].clone() {
                c[pos] = Chunk::NextUserData(NextUserData {
                    flags: u.flags,
                    options: None,
                    user_data: u.user_data,
                });
            }
        },
    ),
    ("metadata-missing", "metadata", "flash-echo", |p| {
        let i = first_user_data(p, 0);
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c {
                u.options = None;
            }
        }
    }),
    (
        "metadata-oversized",
        "metadata-economy",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 0);
            for c in chunks(&mut p[i]) {
                if let Chunk::UserData(u) = c
                    && let Some(o) = u.options.as_mut().and_then(|o| o.first_mut())
                {
                    o.value = vec![b'm'; 513];
                }
            }
        },
    ),
    (
        "window-shrunk-to-1k",
        "receive-window",
        "plain-session",
        |p| {
            // Once the receiver's window opens, it advertises 1 KB instead.
            for d in p.iter_mut().filter(|d| d.time - 0.0 > 0.0) {
                let late = d.time;
                for c in chunks_of(d) {
                    if let Chunk::RangeAck(a) = c
                        && a.buffer_blocks_available > 1
                        && late > 0.0
                    {
                        a.buffer_blocks_available = 1;
                    }
                }
            }
        },
    ),
    (
        "no-acks-at-all",
        "congestion-window",
        "plain-session",
        |p| {
            // The receiver's acknowledgements vanish: 240 KB go out unacked.
            for d in p.iter_mut() {
                for c in chunks_of(d) {
                    if let Chunk::RangeAck(a) = c {
                        a.flow_id += 1000;
                    }
                    if let Chunk::BitmapAck(a) = c {
                        a.flow_id += 1000;
                    }
                }
            }
        },
    ),
    ("cumulative-ack-beyond-sent", "acks", "flash-echo", |p| {
        let a = acks(p);
        set_cum(&mut p[a[2]], |c| c + 50);
    }),
    ("cumulative-ack-below-fsn", "acks", "flash-echo", |p| {
        let a = acks(p);
        let last = *a.last().unwrap();
        set_cum(&mut p[last], |_| 0);
        for c in chunks(&mut p[last]) {
            if let Chunk::RangeAck(r) = c {
                r.ranges.clear();
            }
            if let Chunk::BitmapAck(b) = c {
                b.bitmap.clear();
            }
        }
    }),
    ("bitmap-ack-padded", "ack-format", "flash-echo", |p| {
        // A cumulative-only ack sent as a Bitmap Ack with 4 empty bytes.
        let a = acks(p);
        for c in chunks(&mut p[a[3]]) {
            if let Chunk::RangeAck(r) = c {
                *c = Chunk::BitmapAck(rtmfp::wire::chunk::BitmapAck {
                    flow_id: r.flow_id,
                    buffer_blocks_available: r.buffer_blocks_available,
                    cumulative_ack: r.cumulative_ack,
                    bitmap: vec![0; 4],
                });
            }
        }
    }),
    (
        "range-ack-where-bitmap-is-shorter",
        "ack-format",
        "plain-session",
        |p| {
            // A Range Ack of one sequence number past a one-number hole: as a
            // Bitmap Ack it takes a byte less.
            let a = acks(p);
            for c in chunks(&mut p[a[3]]) {
                if let Chunk::RangeAck(r) = c {
                    r.ranges = vec![rtmfp::wire::chunk::AckRange {
                        holes_minus_one: 0,
                        received_minus_one: 0,
                    }];
                }
            }
        },
    ),
    ("empty-packet-fragment", "fragments", "flash-echo", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        chunks(&mut p[i]).push(fragment(0, false, b""));
    }),
    ("fragment-0-missing", "fragments", "flash-echo", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        chunks(&mut p[i]).push(fragment(1, false, b"ab"));
    }),
    ("fragment-modes-differ", "fragments", "flash-echo", |p| {
        // Fragment 0 of a packet in a startup packet, its last fragment in a
        // packet marked with another mode.
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        let mut a = p[i].clone();
        *chunks(&mut a) = vec![fragment(0, true, b"ab")];
        let mut b = a.clone();
        b.time += 0.001;
        *chunks(&mut b) = vec![fragment(1, false, b"cd")];
        b.packet.as_mut().unwrap().header.mode = Mode::Responder;
        p.insert(i + 1, b);
        p.insert(i + 1, a);
    }),
    ("fragments-burst", "fragment-pacing", "flash-echo", |p| {
        // Nine datagrams of Packet Fragments to one destination in 200 ms.
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
        for n in 0u32..9 {
            let mut f = p[i].clone();
            f.time += 0.001 * f64::from(n);
            chunks(&mut f).push(fragment(u64::from(n), n < 8, b"ab"));
            p.insert(i + 1 + n as usize, f);
        }
    }),
    (
        "fragments-five",
        "fragment-pacing-recommended",
        "flash-echo",
        |p| {
            let i = first(p, |d| has(d, |c| matches!(c, Chunk::IHello(_))));
            for n in 0u32..5 {
                let mut f = p[i].clone();
                f.time += 0.001 * f64::from(n);
                chunks(&mut f).push(fragment(u64::from(n), n < 4, b"ab"));
                p.insert(i + 1 + n as usize, f);
            }
        },
    ),
    ("datagram-1480-bytes", "packet-size", "flash-echo", |p| {
        let i = first_user_data(p, 2);
        p[i].length = 1480;
    }),
    ("ping-after-close-ack", "close", "plain-session", |p| {
        let i = first(p, |d| has(d, |c| matches!(c, Chunk::CloseAck)));
        let mut more = p[i].clone();
        more.time += 0.0001;
        chunks(&mut more).push(Chunk::Ping(Ping { message: vec![9] }));
        p.insert(i + 1, more);
    }),
    (
        "packet-without-chunks",
        "non-empty-packets",
        "flash-echo",
        |p| {
            chunks(&mut p[30]).clear();
        },
    ),
    (
        "sequence-number-reused",
        "sequence-numbers",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 0);
            let mut again = p[i].clone();
            for c in chunks(&mut again) {
                if let Chunk::UserData(u) = c {
                    u.user_data.push(0);
                }
            }
            p.insert(i + 1, again);
        },
    ),
    (
        "return-association-dropped",
        "metadata",
        "flash-echo",
        |p| {
            // The second packet of a return flow, still unacknowledged, without
            // its return association.
            let i = p
                .iter()
                .enumerate()
                .filter(|(_, d)| has(d, |c| matches!(c, Chunk::UserData(u) if has_assoc(u))))
                .nth(1)
                .unwrap()
                .0;
            for c in chunks(&mut p[i]) {
                if let Chunk::UserData(u) = c
                    && let Some(o) = u.options.as_mut()
                {
                    o.retain(|o| o.kind != 0x0a);
                }
            }
        },
    ),
    ("return-association-late", "metadata", "flash-echo", |p| {
        // The first transmission of a return flow without its association.
        let i = first(p, |d| {
            has(d, |c| matches!(c, Chunk::UserData(u) if has_assoc(u)))
        });
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c
                && let Some(o) = u.options.as_mut()
            {
                o.retain(|o| o.kind != 0x0a);
            }
        }
    }),
    ("two-return-associations", "metadata", "flash-echo", |p| {
        let i = first(p, |d| {
            has(d, |c| matches!(c, Chunk::UserData(u) if has_assoc(u)))
        });
        for c in chunks(&mut p[i]) {
            if let Chunk::UserData(u) = c
                && let Some(o) = u.options.as_mut()
            {
                o.push(rtmfp::wire::Opt {
                    kind: 0x0a,
                    value: vec![0x05],
                });
            }
        }
    }),
    (
        "packet-fragment-in-session",
        "fragments",
        "flash-echo",
        |p| {
            let i = first_user_data(p, 4);
            chunks(&mut p[i]).push(fragment(0, false, b"abc"));
        },
    ),
    (
        "flow-reopened-at-once",
        "flow-id-reuse",
        "plain-session",
        |p| {
            // A flow that completed, opened again under its ID a second later.
            let fin = first(p, |d| {
                has(d, |c| matches!(c, Chunk::UserData(u) if u.flags.fin))
            });
            let flow = p[fin]
                .packet
                .as_ref()
                .unwrap()
                .chunks
                .iter()
                .find_map(|c| match c {
                    Chunk::UserData(u) if u.flags.fin => Some(u.flow_id),
                    _ => None,
                })
                .unwrap();
            let opening = first(p, |d| {
                has(
                    d,
                    |c| matches!(c, Chunk::UserData(u) if u.flow_id == flow && u.options.is_some()),
                )
            });
            let mut replay = p[opening].clone();
            replay.time = p.last().unwrap().time + 1.0;
            p.push(replay);
        },
    ),
    ("header-reserved-bits", "reserved-zero", "flash-echo", |p| {
        p[20].packet.as_mut().unwrap().header.reserved = 1;
    }),
    (
        "slow-start-under-tcr",
        "tcr-clamp",
        "flash-echo-hmac",
        |p| {
            let _ = burst_after_third_ack(p, TCR_BURST, true);
        },
    ),
];

/// Packets of data in the burst of `slow-start-under-tcr`: 40960 bytes (the
/// sender's s15..s54), beyond twice linear growth from the 8464 bytes
/// acknowledged when TCR began (2 × (4380 + 8464 + 2 × 3000) + 3000 = 40688)
/// and within twice slow start from the 15064 acknowledged by then
/// (2 × (4380 + 15064) + 3000 = 41888).
const TCR_BURST: usize = 40;

/// The bulk sender of the capture answers the receiver's third
/// acknowledgement (from then on it has the three round trip samples the
/// rule waits for) with the next `burst` packets of data it sent, all at
/// once: within what the congestion-window rule allows (twice slow start's
/// window, since a capture cannot tell fragments the sender declared lost).
/// With `tcr`, that acknowledgement and every later packet of the receiver
/// carry Time Critical Reverse (RFC 7016 §2.2.4), so the window may only
/// grow linearly from what it was when TCR arrived (§3.5.2.1): the rule
/// judges the sender on what it knew, the TCR and the acknowledgement
/// received before the burst.
///
/// On loopback the TCR clamp (`rounds` × 2 × SMSS, twice over, from the
/// bytes acknowledged when TCR began) can only be exceeded within one round
/// trip of an acknowledgement of more than 6000 bytes: the round trip is a
/// few tens of µs, in which the receiver acknowledges no more than that.
/// flash-echo-hmac's third acknowledgement covers 6600 bytes (s9..s14, 54 µs
/// after s14 was sent); the burst goes out in the 22 µs before the next
/// packet of the capture.
///
/// rtmfp-cpp marks this flow's data Time Critical, which exempts the sender
/// ("unless the sender is itself currently sending time critical data"):
/// the sender's marks are cleared.
///
/// Returns the index of that acknowledgement (the burst follows it).
fn burst_after_third_ack(p: &mut Vec<DecodedPacket>, burst: usize, tcr: bool) -> usize {
    let sender = p[first_user_data(p, 0)].src;
    let is_ack = |c: &Chunk| matches!(c, Chunk::RangeAck(_) | Chunk::BitmapAck(_));
    let at = p
        .iter()
        .enumerate()
        .filter(|(_, d)| d.src != sender && has(d, is_ack))
        .nth(2)
        .expect("a third acknowledgement")
        .0;
    for (i, d) in p.iter_mut().enumerate() {
        let from_sender = d.src == sender;
        let session = d.key == Some(KeyUsed::Session);
        if let Some(pk) = d.packet.as_mut() {
            if from_sender {
                pk.header.time_critical = false;
            } else if tcr && session && i >= at {
                pk.header.time_critical_reverse = true;
            }
        }
    }
    let only_data = |d: &DecodedPacket| {
        d.src == sender
            && d.packet.as_ref().is_some_and(|p| {
                p.chunks
                    .iter()
                    .all(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)))
            })
    };
    let mut moved = Vec::new();
    let mut j = at + 1;
    while moved.len() < burst {
        if only_data(&p[j]) {
            moved.push(p.remove(j));
        } else {
            j += 1;
        }
    }
    let t = p[at].time;
    let gap = p[at + 1].time - t;
    for (k, mut d) in moved.into_iter().enumerate() {
        d.time = t + gap * (k + 1) as f64 / (burst + 1) as f64;
        p.insert(at + 1 + k, d);
    }
    at
}

fn fragment(num: u64, more: bool, data: &[u8]) -> Chunk {
    Chunk::PacketFragment(PacketFragment {
        more_fragments: more,
        reserved: 0,
        packet_id: 7,
        fragment_num: num,
        packet_fragment: data.to_vec(),
    })
}

fn has_assoc(u: &rtmfp::wire::chunk::UserData) -> bool {
    u.options
        .as_ref()
        .is_some_and(|o| o.iter().any(|o| o.kind == 0x0a))
}

fn chunks_of(d: &mut DecodedPacket) -> &mut [Chunk] {
    match d.packet.as_mut() {
        Some(p) => &mut p.chunks,
        None => &mut [],
    }
}

fn mutated(name: &str) -> (&'static str, Report) {
    let (_, rule, capture, apply) = MUTATIONS
        .iter()
        .find(|m| m.0 == name)
        .unwrap_or_else(|| panic!("no mutation named {name}"));
    let mut p = load(capture);
    apply(&mut p);
    (rule, judged(&p))
}

#[test]
fn every_named_mutation_is_caught_by_its_rule() {
    let mut missed = Vec::new();
    for (name, ..) in MUTATIONS {
        let (rule, r) = mutated(name);
        if r.findings_of(rule).next().is_none() {
            missed.push(format!("{name}: {rule} silent; others: {:?}", r.findings));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

/// Every rule of the pcap target has a mutation of a real capture it
/// catches.
#[test]
fn every_invariant_has_a_mutation() {
    let missing: Vec<&str> = rtmfp_conformance::invariants::INVARIANTS
        .iter()
        .map(|i| i.name)
        .filter(|n| !MUTATIONS.iter().any(|m| m.1 == *n))
        .collect();
    assert!(missing.is_empty(), "rules without a mutation: {missing:?}");
}

/// The coverage table's mutation proofs name mutations that exist and whose
/// rule is the invariant the proof cites.
#[test]
fn mutation_proofs_cite_real_mutations() {
    for p in rtmfp_conformance::proofs::MUTATION_PROOFS {
        let m = MUTATIONS
            .iter()
            .find(|m| m.0 == p.mutation)
            .unwrap_or_else(|| {
                panic!(
                    "proof of {:?} cites unknown mutation {}",
                    p.requirements, p.mutation
                )
            });
        assert_eq!(
            m.1, p.invariant,
            "mutation {} is caught by {}, not {}",
            m.0, m.1, p.invariant
        );
    }
}

/// FIHello travels in packets of an established session (RFC 7016 §2.3.3):
/// one in a mode 2 packet is legal, and fires nothing.
#[test]
fn a_fihello_in_a_session_packet_is_legal() {
    let mut p = load("flash-echo");
    let i = first(&p, |d| {
        d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::ResponderToInitiator)
    });
    chunks(&mut p[i]).push(Chunk::FIHello(rtmfp::wire::chunk::FIHello {
        epd: vec![0x0a],
        reply_address: rtmfp::wire::Address::new(
            "127.0.0.1:1935".parse().unwrap(),
            rtmfp::wire::Origin::default(),
        ),
        tag: vec![1; 16],
    }));
    let r = judged(&p);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

/// One malformed User Data chunk is one finding (decodes), not a cascade of
/// orphaned Next User Data chunks.
#[test]
fn a_malformed_user_data_chunk_is_reported_once() {
    let mut p = load("plain-session");
    let i = first(&p, |d| has(d, |c| matches!(c, Chunk::NextUserData(_))));
    let c = chunks(&mut p[i]);
    let pos = c
        .iter()
        .position(|c| matches!(c, Chunk::UserData(_)))
        .unwrap();
    c[pos] = Chunk::Malformed(rtmfp::wire::chunk::MalformedChunk {
        chunk_type: 0x10,
        payload: vec![0x80],
        error: rtmfp::wire::WireError::Truncated {
            what: "User Data",
            need: 2,
            have: 1,
        },
    });
    let r = judged(&p);
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].invariant, "decodes");
}

/// Without a key log a flash capture is inconclusive, not conformant.
#[test]
fn a_flash_capture_without_keys_is_inconclusive() {
    let c = check_file(&vectors().join("flash-echo.pcap"), None).unwrap();
    let why = c.inconclusive.expect("inconclusive");
    assert!(why.starts_with("581 of 585 datagrams"), "{why}");
    assert!(why.contains("no key log"), "{why}");
    assert!(c.report.findings.is_empty(), "{:?}", c.report.findings);
    // With its key log, everything opens.
    let c = check_file(
        &vectors().join("flash-echo.pcap"),
        Some(&vectors().join("flash-echo.keys")),
    )
    .unwrap();
    assert_eq!(c.inconclusive, None);
}

/// A key log whose keys are wrong for the session is said to be so, instead
/// of hundreds of integrity "violations" by the implementation.
#[test]
fn a_key_log_that_does_not_match_is_said_to_be_so() {
    let keys = std::fs::read_to_string(vectors().join("flash-echo.keys")).unwrap();
    let wrong: String = keys
        .lines()
        .map(|l| match l.split_once("dh_shared_secret=") {
            Some((a, v)) => format!(
                "{a}dh_shared_secret={}{}\n",
                if v.starts_with('0') { '1' } else { '0' },
                &v[1..]
            ),
            None if l.contains("_encrypt_key") || l.contains("_hmac_send_key") => String::new(),
            None => format!("{l}\n"),
        })
        .collect();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-check");
    std::fs::create_dir_all(&dir).unwrap();
    let k = dir.join("wrong.keys");
    std::fs::write(&k, wrong).unwrap();
    let c = check_file(&vectors().join("flash-echo.pcap"), Some(&k)).unwrap();
    let why = c.inconclusive.expect("inconclusive");
    assert!(why.contains("does not match"), "{why}");
    assert_eq!(
        c.report.findings_of("decodes").count(),
        0,
        "{:?}",
        c.report.findings
    );
}

/// A capture cut inside a record is judged up to the cut, which is named.
#[test]
fn a_truncated_capture_is_judged_up_to_the_cut() {
    let bytes = std::fs::read(vectors().join("plain-session.pcap")).unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-cut");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cut.pcap");
    std::fs::write(&f, &bytes[..300_000]).unwrap();
    let c = check_file(&f, None).unwrap();
    let cut = c.truncated.expect("the cut is named");
    assert!(cut.contains("cut inside record 330"), "{cut}");
    assert_eq!(c.datagrams, 329);
    assert!(c.report.findings.is_empty(), "{:?}", c.report.findings);
}

/// Legal variations of a passing capture fire nothing: an unknown chunk type
/// in a session packet (receivers ignore it, RFC 7016 §2.3; rtmfp-cpp sends
/// 0xec) and an extra Ping in a session packet.
#[test]
fn legal_variations_fire_nothing() {
    let mut p = load("plain-session");
    let i = first(&p, |d| {
        d.key == Some(KeyUsed::Session) && d.direction == Some(Direction::ResponderToInitiator)
    });
    chunks(&mut p[i]).push(Chunk::Unknown {
        chunk_type: 0x20,
        payload: vec![1, 2],
    });
    chunks(&mut p[i + 2]).insert(0, Chunk::Ping(Ping { message: vec![7] }));
    let r = judged(&p);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

/// The burst of `slow-start-under-tcr` fires nothing without TCR (it is
/// within the congestion-window bound), TCR alone fires nothing (the real
/// sender grows within the clamp, which is judged), and both together are
/// caught by the TCR clamp and by nothing else.
#[test]
fn a_burst_is_caught_only_under_tcr() {
    let base = load("flash-echo-hmac");
    let mut p = base.clone();
    burst_after_third_ack(&mut p, TCR_BURST, false);
    let r = judged(&p);
    assert!(r.findings.is_empty(), "burst alone: {:#?}", r.findings);
    let mut p = base.clone();
    burst_after_third_ack(&mut p, 0, true);
    let r = judged(&p);
    assert!(r.checked.get("tcr-clamp").copied().unwrap_or(0) > 0);
    assert!(r.findings.is_empty(), "TCR alone: {:#?}", r.findings);
    let mut p = base;
    let at = burst_after_third_ack(&mut p, TCR_BURST, true);
    let r = judged(&p);
    let rules: Vec<_> = r.findings.iter().map(|f| f.invariant).collect();
    assert_eq!(rules, ["tcr-clamp"], "{:#?}", r.findings);
    // Everything sent before the burst was acknowledged by then: in flight
    // is the burst, caught at its last packet.
    let burst_bytes: usize = p[at + 1..=at + TCR_BURST]
        .iter()
        .flat_map(|d| &d.packet.as_ref().unwrap().chunks)
        .map(|c| match c {
            Chunk::UserData(u) => u.user_data.len(),
            Chunk::NextUserData(u) => u.user_data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(burst_bytes, 40960);
    assert!(
        r.findings[0]
            .message
            .starts_with(&format!("{burst_bytes} bytes in flight")),
        "{}",
        r.findings[0].message
    );
}

/// Slowing a real capture's clock (as the resend mutation does) is legal for
/// the ERTO >= RTT rule: nothing was resent early.
#[test]
fn a_slowed_capture_keeps_retransmit_timing() {
    for name in NAMES {
        let mut p = load(name);
        slowed(&mut p);
        let r = judged(&p);
        assert_eq!(r.findings_of("retransmit-timing").count(), 0, "{name}");
    }
}
