use super::*;

fn flow() -> SendFlow {
    SendFlow::new(2, b"meta".to_vec(), None, 0, false)
}

fn send_all(f: &mut SendFlow, room: usize, tsn: &mut u64) -> Vec<Chunk> {
    let mut out = Vec::new();
    f.assemble(room, tsn, &mut out);
    out
}

#[test]
fn s3_6_2_3_first_chunk_user_data_then_next_user_data_with_options() {
    let mut f = flow();
    for _ in 0..3 {
        f.write(b"abc", 100, None).unwrap();
    }
    let mut tsn = 1;
    let out = send_all(&mut f, 1000, &mut tsn);
    assert_eq!(out.len(), 3);
    let Chunk::UserData(u) = &out[0] else {
        panic!()
    };
    // First sequence number 1 (§2.3.11 SHOULD), FSN 0, metadata option.
    assert_eq!((u.flow_id, u.sequence_number, u.fsn_offset), (2, 1, 1));
    assert_eq!(u.metadata(), Some(&b"meta"[..]));
    assert!(matches!(
        out[1],
        Chunk::NextUserData(NextUserData { options: None, .. })
    ));
    assert_eq!(
        f.outstanding(),
        out.iter().map(|c| c.encoded_len()).sum::<usize>()
    );
    assert_eq!(tsn, 4);
}

#[test]
fn s2_3_11_1_1_metadata_on_every_packet_until_acked() {
    let mut f = flow();
    f.write(&[0; 300], 100, None).unwrap();
    let mut tsn = 1;
    // Two packets of room for one fragment each: both carry the metadata.
    let a = send_all(&mut f, 140, &mut tsn);
    let b = send_all(&mut f, 140, &mut tsn);
    for p in [&a, &b] {
        let Chunk::UserData(u) = &p[0] else {
            panic!("{p:?}")
        };
        assert!(u.metadata().is_some());
    }
    f.on_ack(Instant::ZERO, &[(0, 1)], 65536);
    let c = send_all(&mut f, 140, &mut tsn);
    let Chunk::UserData(u) = &c[0] else { panic!() };
    assert!(u.options.is_none(), "not after the flow is acknowledged");
}

#[test]
fn s3_6_2_5_three_naks_is_a_loss_then_retransmit() {
    let mut f = flow();
    for _ in 0..5 {
        f.write(b"x", 100, None).unwrap();
    }
    let mut tsn = 1;
    for _ in 0..5 {
        send_all(&mut f, 30, &mut tsn);
    }
    assert_eq!(f.in_flight_seqs(), [1, 2, 3, 4, 5]);
    // Acks for 2, then 3, then 4 (tsn 2, 3, 4): seq 1 gets three naks.
    for (k, s) in [2u64, 3, 4].iter().enumerate() {
        let o = f.on_ack(Instant::ZERO, &[(*s, *s)], 65536);
        let (naks, losses) = f.nak_pass(o.max_tsn);
        assert_eq!(losses, u32::from(k == 2), "ack {s}");
        assert!(naks >= 1);
    }
    assert_eq!(f.in_flight_seqs(), [5]);
    let out = send_all(&mut f, 30, &mut tsn);
    let Chunk::UserData(u) = &out[0] else {
        panic!()
    };
    assert_eq!(u.sequence_number, 1, "the lost fragment goes again first");
    assert_eq!(f.stats.retransmissions, 1);
}

#[test]
fn s3_6_2_3_fsn_rules_and_fsn_update() {
    let mut f = flow();
    f.write(b"a", 100, Some(Instant::from_millis(10))).unwrap();
    f.write(b"b", 100, None).unwrap();
    let mut tsn = 1;
    send_all(&mut f, 1000, &mut tsn);
    // Message 1 expires while in flight; it was not abandoned when sent, so
    // the FSN stays below it (MUST NOT equal an outstanding, non-abandoned SN).
    assert_eq!(f.expire(Instant::from_millis(20)), [(0, true)]);
    assert_eq!(f.trim_and_fsn(), 0);
    // Timeout: nothing in flight. The abandoned head is trimmed (two entries
    // remain) and the FSN moves to 1, carried by the retransmission of 2.
    assert!(f.on_timeout());
    let out = send_all(&mut f, 1000, &mut tsn);
    let Chunk::UserData(u) = &out[0] else {
        panic!()
    };
    assert_eq!((u.sequence_number, u.forward_sequence_number()), (2, 1));
    assert!(!u.flags.abandon);
    // §3.6.2.7: abandoned fragments are never un-abandoned.
    assert!(f.expire(Instant::from_millis(30)).is_empty());

    // §3.6.2.7.1: with nothing else to send, an abandoned head goes out as an
    // FSN Update: abandon flag, fsnOffset 0, no data.
    let mut g = flow();
    g.write(b"a", 100, Some(Instant::from_millis(10))).unwrap();
    assert_eq!(g.expire(Instant::from_millis(20)), [(0, false)]);
    let out = send_all(&mut g, 1000, &mut tsn);
    let Chunk::UserData(u) = &out[0] else {
        panic!()
    };
    assert!(u.flags.abandon);
    assert_eq!((u.sequence_number, u.fsn_offset), (1, 0));
    assert!(u.user_data.is_empty());
}

#[test]
fn s3_6_2_11_close_final_and_linger() {
    let mut f = flow();
    f.write(b"a", 100, None).unwrap();
    f.close();
    assert_eq!(f.final_sn, Some(1), "unsent tail becomes the final SN");
    assert!(f.write(b"b", 100, None).is_err());
    let mut tsn = 1;
    let out = send_all(&mut f, 1000, &mut tsn);
    let Chunk::UserData(u) = &out[0] else {
        panic!()
    };
    assert!(u.flags.fin);
    let o = f.on_ack(Instant::from_millis(5), &[(0, 1)], 65536);
    assert!(o.completed);
    assert_eq!(f.state, SendState::F_COMPLETE_LINGER);
    assert!(!f.linger(Instant::from_millis(5) + Duration::from_secs(129)));
    assert!(f.linger(Instant::from_millis(5) + Duration::from_secs(130)));
    // Closing after a sent tail adds an abandoned final entry.
    let mut g = flow();
    g.write(b"a", 100, None).unwrap();
    send_all(&mut g, 1000, &mut tsn);
    g.close();
    assert_eq!(g.final_sn, Some(2));
}

#[test]
fn s3_6_2_9_window_and_buffer_probe() {
    let mut f = flow();
    for _ in 0..10 {
        f.write(&[1; 100], 100, None).unwrap();
    }
    let mut tsn = 1;
    send_all(&mut f, 120, &mut tsn);
    // Window closes: acknowledged, zero buffer.
    f.on_ack(Instant::ZERO, &[(0, 1)], 0);
    assert!(!f.is_ready());
    assert!(send_all(&mut f, 10_000, &mut tsn).is_empty());
    assert!(!f.probe_due(Instant::from_millis(999), Duration::from_millis(250)));
    assert!(f.probe_due(Instant::from_millis(1000), Duration::from_millis(250)));
    let next = f.next_probe().unwrap();
    assert!(next >= Instant::from_millis(2000));
    f.on_ack(Instant::from_millis(1500), &[(0, 1)], 2048);
    assert!(f.next_probe().is_none());
    assert!(f.is_ready());
}

#[test]
fn s3_6_2_10_exception_abandons_and_closes() {
    let mut f = flow();
    f.write(b"a", 100, None).unwrap();
    f.write(b"b", 100, None).unwrap();
    assert!(f.on_exception(0));
    assert_eq!(f.state, SendState::F_CLOSING);
    assert_eq!(f.exception, Some(0));
    let mut tsn = 1;
    let out = send_all(&mut f, 1000, &mut tsn);
    // Only the head (an FSN update) and the final SN go out, abandoned.
    assert!(!out.is_empty());
    for c in &out {
        match c {
            Chunk::UserData(u) => assert!(u.flags.abandon && u.user_data.is_empty()),
            Chunk::NextUserData(n) => assert!(n.flags.abandon),
            _ => panic!(),
        }
    }
}

#[test]
fn acks_for_unsent_sequence_numbers_are_ignored() {
    let mut f = flow();
    f.write(b"a", 100, None).unwrap();
    f.write(b"b", 100, None).unwrap();
    let mut tsn = 1;
    // Room for the first fragment (with its metadata) only.
    assert_eq!(send_all(&mut f, 16, &mut tsn).len(), 1);
    let o = f.on_ack(Instant::ZERO, &[(0, 5)], 65536);
    assert_eq!(f.queued(), 1, "seq 2 was never sent");
    assert!(o.acked_bytes > 0);
}

/// The in-flight, lost and acknowledged indexes always agree with a walk of
/// the whole queue, through random loss, range acks, timeouts and deadlines,
/// and the transfer still completes.
#[test]
fn indexes_match_the_queue_under_random_loss() {
    use rand::{Rng, SeedableRng};
    for seed in 0..20u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut f = flow();
        let mut received = crate::flow::rangeset::RangeSet::new();
        let mut tsn = 1;
        for m in 0..60u64 {
            let deadline = (m % 7 == 3).then(|| Instant::from_millis(5 + m));
            f.write(&vec![m as u8; rng.gen_range(1..400)], 100, deadline)
                .unwrap();
        }
        f.close();
        for step in 0..2000u64 {
            let now = Instant::from_millis(step);
            f.expire(now);
            let mut sent = Vec::new();
            f.assemble(rng.gen_range(50..600), &mut tsn, &mut sent);
            for c in &sent {
                if rng.gen_bool(0.25) {
                    continue; // lost
                }
                let seq = match c {
                    Chunk::UserData(u) => u.sequence_number,
                    Chunk::NextUserData(_) => continue, // numbering checked elsewhere
                    _ => unreachable!(),
                };
                received.insert(seq, seq);
            }
            // Every Next User Data follows its User Data: recover their numbers.
            let mut last = 0;
            for c in &sent {
                match c {
                    Chunk::UserData(u) => last = u.sequence_number,
                    Chunk::NextUserData(_) => {
                        last += 1;
                        if rng.gen_bool(0.75) {
                            received.insert(last, last);
                        }
                    }
                    _ => {}
                }
            }
            f.check_indexes();
            if rng.gen_bool(0.6) {
                let mut acked = vec![(0, received.contiguous_from_zero().unwrap_or(0))];
                acked.extend(received.iter().filter(|r| r.0 != 0));
                let o = f.on_ack(now, &acked, 65536);
                f.nak_pass(o.max_tsn);
                f.check_indexes();
            }
            if rng.gen_bool(0.02) {
                f.on_timeout();
                f.check_indexes();
            }
            if f.state == SendState::F_COMPLETE_LINGER {
                break;
            }
        }
        assert_eq!(f.state, SendState::F_COMPLETE_LINGER, "seed {seed}");
        assert_eq!(f.queued_bytes(), 0);
    }
}
