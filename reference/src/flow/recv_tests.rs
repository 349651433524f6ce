use super::*;
use crate::wire::UserDataFlags;

fn ud(seq: u64, fsn: u64, fra: Fragmentation, data: &[u8]) -> UserData {
    UserData {
        flags: UserDataFlags {
            fragment_control: fra,
            ..Default::default()
        },
        flow_id: 3,
        sequence_number: seq,
        fsn_offset: seq - fsn,
        options: None,
        user_data: data.to_vec(),
    }
}

const T: Instant = Instant::ZERO;

#[test]
fn s3_6_3_3_in_order_reassembly_and_gap_skip() {
    let mut f = RecvFlow::new(3, 1 << 20);
    let o = f.on_data(T, &ud(2, 0, Fragmentation::End, b"world"));
    assert!(o.messages.is_empty() && o.ack_now, "gap: ack now");
    let o = f.on_data(T, &ud(1, 0, Fragmentation::Begin, b"hello "));
    assert_eq!(o.messages, [b"hello world".to_vec()]);
    assert_eq!(f.buffered(), 0);
    // 3 lost for good: the sender moves the FSN past it; 4 (an End) is part
    // of an abandoned segment and is discarded with a gap indication.
    f.on_data(T, &ud(4, 2, Fragmentation::End, b"x"));
    let o = f.on_data(T, &ud(5, 4, Fragmentation::Whole, b"next"));
    assert_eq!(o.messages, [b"next".to_vec()]);
    assert!(o.gaps >= 1);
}

// Found by `rtmfp-conformance fuzz` against `rtmfp serve` (flash): a User Data
// chunk whose forward sequence number moves the cumulative ack to 2^64 - 1
// made the ack builder overflow (`cum + 1`) and the server panic.
#[test]
fn ack_at_the_largest_sequence_number_does_not_overflow() {
    let mut f = RecvFlow::new(3, 1 << 20);
    f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
    let mut top = ud(u64::MAX, u64::MAX - 1, Fragmentation::Whole, b"z");
    top.fsn_offset = 1;
    f.on_data(T, &top);
    f.should_ack = true;
    let (chunks, _) = f.build_ack(1000, true).expect("an ack");
    let cum = match &chunks[0] {
        Chunk::BitmapAck(b) => b.cumulative_ack,
        Chunk::RangeAck(r) => r.cumulative_ack,
        c => panic!("{c:?}"),
    };
    assert_eq!(cum, u64::MAX);
}

// Issue 15: sequence numbers (and the FSN) come from the far end, up to
// 2^64 - 1; reassembly after the largest one must not overflow (this runs
// with overflow checks in the test build).
#[test]
fn fragments_at_the_largest_sequence_number_do_not_overflow() {
    for unordered in [false, true] {
        let mut f = RecvFlow::new(3, 1 << 20);
        f.unordered = unordered;
        let mut top = ud(u64::MAX, u64::MAX - 1, Fragmentation::Begin, b"a");
        top.fsn_offset = 1;
        let o = f.on_data(T, &top);
        assert!(o.messages.is_empty());
        let mut mid = ud(u64::MAX - 1, u64::MAX - 2, Fragmentation::Begin, b"b");
        mid.fsn_offset = 1;
        f.on_data(T, &mid);
        f.should_ack = true;
        let (chunks, _) = f.build_ack(1000, true).expect("an ack");
        assert!(!chunks.is_empty());
        assert_eq!(f.csn(), Some(u64::MAX));
    }
}

/// §3.6.3.5: a receiver holds no more than it advertised (plus OVERCOMMIT
/// for data in flight). Out-of-order data beyond it is dropped and not
/// acknowledged; the fragment that fills the gap still gets in.
#[test]
fn s3_6_3_5_holds_no_more_than_advertised() {
    let mut f = RecvFlow::new(3, 4096);
    let chunk = [0; 1000];
    let fits = (4096 + OVERCOMMIT) / 1000;
    for s in 2..2 + fits as u64 {
        let o = f.on_data(T, &ud(s, 0, Fragmentation::Whole, &chunk));
        assert_eq!(o.dropped, None, "{s}");
    }
    assert_eq!(f.advertised_blocks(), 1, "over capacity: still one block");
    let next = 2 + fits as u64;
    let o = f.on_data(T, &ud(next, 0, Fragmentation::Whole, &chunk));
    assert_eq!(
        o.dropped,
        Some(crate::stats::DropReason::ReceiveBufferOverrun)
    );
    assert!(!f.sequence_set().contains(next), "not acknowledged");
    assert_eq!(f.buffered(), fits * 1000);
    // The gap's fragment is delivered with everything after it.
    let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, &[0; 96]));
    assert_eq!(o.dropped, None);
    assert_eq!(o.messages.len(), fits + 1);
    // The session's limit: data beyond `room` is dropped too, unless it is
    // the next in sequence.
    f.consumed(fits * 1000 + 96);
    let o = f.on_data_within(T, &ud(next + 2, 0, Fragmentation::Whole, &[0; 100]), 50, 50);
    assert_eq!(
        o.dropped,
        Some(crate::stats::DropReason::SessionBufferLimit)
    );
    assert!(!f.sequence_set().contains(next + 2));
}

/// §3.6.3.5: the advertised window shrinks while delivered messages are not
/// consumed by the user, and reopens when they are.
#[test]
fn s3_6_3_5_window_shrinks_until_the_user_consumes() {
    let mut f = RecvFlow::new(3, 8 * 1024);
    assert_eq!(f.advertised_blocks(), 8);
    let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, &[0; 3072]));
    assert_eq!(o.messages.len(), 1);
    assert_eq!((f.buffered(), f.held()), (0, 3072));
    assert_eq!(f.advertised_blocks(), 5);
    f.consumed(3072);
    assert_eq!(f.advertised_blocks(), 8);
}

#[test]
fn s3_6_3_4_ack_encodes_sequence_set_compactly() {
    let mut f = RecvFlow::new(5, 127 * 1024);
    // Figure 4's set: 0-16, 18, 21-24, 27, 28.
    for s in (1..=16).chain([18, 21, 22, 23, 24, 27, 28]) {
        f.on_data(T, &ud(s, 0, Fragmentation::Whole, b""));
    }
    let (chunks, _) = f.build_ack(1000, true).unwrap();
    // A bitmap (2 bytes of bits) beats the ranges here.
    let Chunk::BitmapAck(b) = &chunks[0] else {
        panic!("{chunks:?}")
    };
    assert_eq!(b.cumulative_ack, 16);
    assert_eq!(b.bitmap, [0x79, 0x06]);
    assert_eq!(b.ranges(), [(18, 18), (21, 24), (27, 28)]);
    assert!(!f.should_ack);
    // Truncation drops the highest information only.
    f.should_ack = true;
    let (t, size) = f.build_ack(7, true).unwrap();
    assert!(size <= 7);
    let acked = match &t[0] {
        Chunk::BitmapAck(b) => b.ranges(),
        Chunk::RangeAck(r) => r.ranges(),
        c => panic!("{c:?}"),
    };
    assert!(acked.iter().all(|&(s, e)| s >= 18 && e <= 28));
    assert!(f.build_ack(3, true).is_none());
}

#[test]
fn s3_6_3_7_reject_sends_exception_before_ack() {
    let mut f = RecvFlow::new(5, 1 << 16);
    f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
    assert!(f.reject(7));
    let (chunks, _) = f.build_ack(1000, true).unwrap();
    assert_eq!(
        chunks[0],
        Chunk::FlowExceptionReport(FlowExceptionReport {
            flow_id: 5,
            exception: 7
        })
    );
    assert!(matches!(
        chunks[1],
        Chunk::BitmapAck(_) | Chunk::RangeAck(_)
    ));
    // Data after rejection is acknowledged but not delivered.
    let o = f.on_data(T, &ud(2, 0, Fragmentation::Whole, b"b"));
    assert!(o.messages.is_empty() && o.ack_now);
}

#[test]
fn s3_6_3_5_advertises_at_least_one_block() {
    let mut f = RecvFlow::new(1, 2048);
    assert_eq!(f.advertised_blocks(), 2);
    f.suspended = true;
    f.on_data(T, &ud(1, 0, Fragmentation::Whole, &[0; 3000]));
    assert_eq!(
        f.advertised_blocks(),
        0,
        "suspended and full: closed window"
    );
    f.suspended = false;
    assert_eq!(
        f.advertised_blocks(),
        1,
        "MUST advertise one block when not suspended"
    );
    let mut z = RecvFlow::new(1, 0);
    assert_eq!(z.advertised_blocks(), 0, "unless the capacity is 0");
    z.capacity = 1;
    assert_eq!(z.advertised_blocks(), 1);
}

#[test]
fn s3_6_3_8_complete_and_linger() {
    let mut f = RecvFlow::new(1, 1 << 16);
    let mut last = ud(2, 0, Fragmentation::Whole, b"b");
    last.flags.fin = true;
    let o = f.on_data(T, &last);
    assert!(!o.complete);
    let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
    assert_eq!(o.messages.len(), 2);
    assert!(o.complete);
    assert_eq!(f.state, RecvState::RF_COMPLETE_LINGER);
    assert!(!f.linger(T + Duration::from_secs(119)));
    assert!(f.linger(T + Duration::from_secs(120)));
}

#[test]
fn hostile_sequence_numbers_cost_bounded_state() {
    let mut f = RecvFlow::new(1, 1 << 16);
    let mut dropped = 0;
    for k in 0..10_000u64 {
        let s = (k + 1) * 1_000_000_007;
        let o = f.on_data(T, &ud(s, 0, Fragmentation::Whole, b"z"));
        dropped += u64::from(o.dropped.is_some());
    }
    assert!(f.sequence_set().len() <= MAX_RANGES);
    assert!(dropped > 0);
    // An enormous sequence number is one range.
    let mut g = RecvFlow::new(1, 1 << 16);
    g.on_data(T, &ud(u64::MAX - 5, 0, Fragmentation::Begin, b"z"));
    assert_eq!(g.sequence_set().len(), 2);
}

#[test]
fn unordered_delivery_delivers_on_arrival() {
    let mut f = RecvFlow::new(1, 1 << 16);
    f.unordered = true;
    let o = f.on_data(T, &ud(3, 0, Fragmentation::Whole, b"c"));
    assert_eq!(o.messages, [b"c".to_vec()]);
    let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
    assert_eq!(o.messages, [b"a".to_vec()]);
    // A duplicate of 3 is not delivered twice.
    let o = f.on_data(T, &ud(3, 0, Fragmentation::Whole, b"c"));
    assert!(o.messages.is_empty());
}

#[test]
fn s3_6_3_4_2_truncated_ack_with_many_holes_keeps_the_lowest_ranges() {
    let mut f = RecvFlow::new(5, 16 << 20);
    // 1 and then every third sequence number: 3000 holes, far beyond what
    // a Bitmap Ack spans.
    for s in std::iter::once(1).chain((1..=3000).map(|k| 1 + 3 * k)) {
        f.on_data(T, &ud(s, 0, Fragmentation::Whole, b"x"));
    }
    assert!(f.sequence_set().len() > 3000);
    let (chunks, size) = f.build_ack(1100, true).unwrap();
    let Chunk::RangeAck(r) = &chunks[0] else {
        panic!("{chunks:?}")
    };
    assert_eq!(size, chunks[0].encoded_len());
    assert!(size <= 1100);
    assert_eq!(r.cumulative_ack, 1);
    let got = r.ranges();
    // The lowest ranges, in order, as many as fit: one more would not.
    let want: Vec<(u64, u64)> = (1..=got.len() as u64)
        .map(|k| (1 + 3 * k, 1 + 3 * k))
        .collect();
    assert_eq!(got, want);
    assert!(size + 2 > 1100, "one more range (2 bytes) would not fit");
    // Not allowed to truncate: no ack.
    f.should_ack = true;
    assert!(f.build_ack(1100, false).is_none());
}
