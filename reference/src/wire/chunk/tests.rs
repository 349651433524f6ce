use super::*;

fn chunk(bytes: &[u8]) -> Chunk {
    let len = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
    assert_eq!(len, bytes.len() - 3);
    let c = Chunk::parse(bytes[0], &bytes[3..]);
    let mut out = Vec::new();
    c.emit(&mut out).unwrap();
    assert_eq!(out, bytes, "re-emit of {c:?}");
    c
}

// RFC 7016 §2.3.12 Figure 3.
#[test]
fn figure3_next_user_data() {
    let Chunk::UserData(u) = chunk(&[0x10, 0x00, 0x07, 0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02])
    else {
        panic!()
    };
    assert_eq!(
        (u.flow_id, u.sequence_number, u.forward_sequence_number()),
        (2, 5, 2)
    );
    assert_eq!(u.flags.fragment_control, Fragmentation::Whole);
    assert_eq!(u.user_data, [0, 1, 2]);
    let Chunk::NextUserData(n) = chunk(&[0x11, 0x00, 0x04, 0x00, 0x03, 0x04, 0x05]) else {
        panic!()
    };
    let u2 = n.expand(&u).unwrap();
    assert_eq!(
        (u2.flow_id, u2.sequence_number, u2.forward_sequence_number()),
        (2, 6, 2)
    );
    assert_eq!(u2.user_data, [3, 4, 5]);
}

// RFC 7016 §2.3.13 Figure 4: acknowledges 0-16, 18, 21-24, 27, 28.
#[test]
fn figure4_bitmap_ack() {
    let Chunk::BitmapAck(a) = chunk(&[0x50, 0x00, 0x05, 0x05, 0x7f, 0x10, 0x79, 0x06]) else {
        panic!()
    };
    assert_eq!(
        (a.flow_id, a.buffer_blocks_available, a.cumulative_ack),
        (5, 127, 16)
    );
    assert_eq!(
        a.selective().collect::<Vec<_>>(),
        [18, 21, 22, 23, 24, 27, 28]
    );
    assert_eq!(a.ranges(), [(18, 18), (21, 24), (27, 28)]);
}

// RFC 7016 §2.3.14 Figure 5: acknowledges 0-16, 18, 21-24.
#[test]
fn figure5_range_ack() {
    let Chunk::RangeAck(a) = chunk(&[0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x03])
    else {
        panic!()
    };
    assert_eq!(a.ranges(), [(18, 18), (21, 24)]);
    assert_eq!(RangeAck::from_ranges(5, 127, 16, &[(18, 18), (21, 24)]), a);
}

// RFC 7016 §2.3.14 Figure 6 (its bytes; the figure's "length=9" is a typo for 7):
// the truncated last range is ignored, the rest processed.
#[test]
fn figure6_truncated_range_ack() {
    let Chunk::RangeAck(a) = chunk(&[0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x83])
    else {
        panic!()
    };
    assert_eq!(a.ranges(), [(18, 18)]);
    assert_eq!(a.truncated, [0x01, 0x83]);
}

#[test]
fn user_data_rules() {
    // seq 0
    assert!(matches!(
        Chunk::parse(0x10, &[0x00, 0x02, 0x00, 0x00]),
        Chunk::Malformed(_)
    ));
    // fsnOffset 0 without ABN
    assert!(matches!(
        Chunk::parse(0x10, &[0x00, 0x02, 0x01, 0x00]),
        Chunk::Malformed(_)
    ));
    // fsnOffset 0 with ABN is fine
    assert!(matches!(
        Chunk::parse(0x10, &[0x02, 0x02, 0x01, 0x00]),
        Chunk::UserData(_)
    ));
    // fsnOffset > seq
    assert!(matches!(
        Chunk::parse(0x10, &[0x00, 0x02, 0x01, 0x02]),
        Chunk::Malformed(_)
    ));
    // OPT set but no marker
    assert!(matches!(
        Chunk::parse(0x10, &[0x80, 0x02, 0x01, 0x01, 0x02, 0x0a, 0x05]),
        Chunk::Malformed(MalformedChunk {
            error: WireError::UnterminatedOptionList { .. },
            ..
        })
    ));
}

// ../shared/specs/flash-profile.md §13.7 (KAT-T): control-flow option lists.
#[test]
fn user_data_options_kat_t() {
    let mut payload = vec![0x80 | 0x10 /* OPT, begin */, 0x03, 0x01, 0x01];
    payload.extend([0x05, 0x00, 0x54, 0x43, 0x04, 0x00, 0x02, 0x0a, 0x02, 0x00]);
    payload.extend(b"hello");
    let Chunk::UserData(u) = Chunk::parse(0x10, &payload) else {
        panic!()
    };
    assert_eq!(u.metadata(), Some(&[0x54, 0x43, 0x04, 0x00][..]));
    assert_eq!(u.return_flow_association(), Some(Ok(2)));
    assert_eq!(u.flags.fragment_control, Fragmentation::Begin);
    assert_eq!(u.user_data, b"hello");
    let mut out = Vec::new();
    u.emit(&mut out);
    assert_eq!(out, payload);
}

#[test]
fn close_has_no_payload() {
    assert_eq!(chunk(&[0x0c, 0, 0]), Chunk::Close);
    assert_eq!(chunk(&[0x4c, 0, 0]), Chunk::CloseAck);
    assert!(matches!(Chunk::parse(0x0c, &[0]), Chunk::Malformed(_)));
}

#[test]
fn unknown_and_padding_kept_raw() {
    assert_eq!(
        chunk(&[0xec, 0x00, 0x01, 0x03]),
        Chunk::Unknown {
            chunk_type: 0xec,
            payload: vec![3]
        }
    );
    assert_eq!(chunk(&[0x00, 0x00, 0x00]).name(), "Ignore/Padding");
}

#[test]
fn startup_chunks_round_trip() {
    let ii = IIKeying {
        initiator_session_id: 0x0200_0000,
        cookie_echo: vec![7; 64],
        initiator_certificate: vec![1; 132],
        skic: vec![2; 76],
        signature: vec![0x58],
    };
    let c = Chunk::IIKeying(ii.clone());
    let mut out = Vec::new();
    c.emit(&mut out).unwrap();
    // KAT-R: `38 0119 02000000 40 ... 81 04 ... 4c ... 58`
    assert_eq!(&out[..8], &[0x38, 0x01, 0x19, 0x02, 0x00, 0x00, 0x00, 0x40]);
    assert_eq!(Chunk::parse(out[0], &out[3..]), c);
    let fi = Chunk::FIHello(FIHello {
        epd: vec![0x21, 0x0f],
        reply_address: Address::new(
            "[2001:db8::1]:1935".parse().unwrap(),
            super::super::Origin::Observed,
        ),
        tag: vec![9; 16],
    });
    let mut out = Vec::new();
    fi.emit(&mut out).unwrap();
    assert_eq!(Chunk::parse(out[0], &out[3..]), fi);
}

#[test]
fn oversize_payload_is_an_error() {
    let c = Chunk::Ping(Ping {
        message: vec![0; 70_000],
    });
    let mut out = vec![1, 2];
    assert!(c.emit(&mut out).is_err());
    assert_eq!(out, [1, 2]);
}

/// encoded_len computes the size of the chunks the data plane sizes per packet
/// without emitting them: it must equal the size of the bytes they parsed from
/// (hand-built payloads, RFC 7016 §2.3.11-§2.3.15, with options, multi-byte
/// VLUs, a truncated last range).
#[test]
fn encoded_len_without_emitting() {
    let mut long = vec![0x80, 0x02, 0x01, b'x', 0x00];
    long.extend_from_slice(&[0x55; 1000]);
    let cases: Vec<(u8, Vec<u8>)> = vec![
        // User Data: OPT, flow 5, seq 128, fsnOffset 1, option (0x0a, "ab"), marker, data.
        (
            0x10,
            [
                &[0x80, 0x05, 0x81, 0x00, 0x01, 0x03, 0x0a, b'a', b'b', 0x00][..],
                b"hello",
            ]
            .concat(),
        ),
        (0x10, vec![0x00, 0x01, 0x02, 0x01]),
        (0x11, long),
        (0x11, vec![0x00]),
        (0x50, vec![0x01, 0x7f, 0x82, 0x80, 0x01, 0xff, 0x01]),
        (0x51, vec![0x01, 0x10, 0x05, 0x00, 0x01, 0x81, 0x00, 0x02]),
        (0x51, vec![0x01, 0x10, 0x05, 0x00, 0x01, 0x81]),
        (0x18, vec![0x83, 0x01]),
        (0x01, vec![0x42; 100]),
        (0x41, vec![]),
        (0x0c, vec![]),
        (0x4c, vec![]),
    ];
    for (t, payload) in cases {
        let c = Chunk::parse(t, &payload);
        assert!(!matches!(c, Chunk::Malformed(_)), "{t:#x}: {c:?}");
        assert_eq!(c.encoded_len(), 3 + payload.len(), "{t:#x}: {c:?}");
    }
}
