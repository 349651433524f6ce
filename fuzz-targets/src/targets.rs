//! Parser, crypto and round-trip targets. Each calls the entry point production
//! code calls, and checks what must hold for every input: no panic, and where
//! the format allows, that the canonical encoding is a fixed point
//! (`emit(parse(emit(parse(b)))) == emit(parse(b))`, i.e. parse(emit(x)) == x).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use arbitrary::Unstructured;
use rtmfp::capture;
use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::flash::packet::{DirectionKeys, FlashCipher};
use rtmfp::crypto::plain::PlainCipher;
use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice};
use rtmfp::wire::{self, Address, Chunk, Header, Packet, Reader, vlu};

use crate::{arb, fixtures};

/// RFC 7016 §2.1.2. Any input decodes or fails cleanly; the value re-encodes to
/// its minimal form, which is the input itself unless the input was padded with
/// leading 0x80 bytes (legal, non-minimal).
pub fn vlu(data: &[u8]) {
    let Ok((v, used)) = vlu::decode(data, "fuzz VLU") else {
        return;
    };
    assert!((1..=data.len()).contains(&used));
    let e = vlu::to_vec(v);
    assert_eq!(e.len(), vlu::encoded_len(v));
    assert_eq!(vlu::decode(&e, "re-encoded"), Ok((v, e.len())));
    let minimal = used == 1 || data[0] != 0x80;
    if minimal {
        assert_eq!(&data[..used], &e[..], "minimal VLU re-encodes to itself");
    }
}

/// §2.1.3-4: an Option List inside a chunk, and a whole Option sequence (as the
/// crypto profile's certificates, EPDs and key components use).
pub fn option_list(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(list) = wire::option::read_list(&mut r, "fuzz option list") {
        let mut out = Vec::new();
        wire::option::emit_list(&list, &mut out);
        assert_eq!(out.len(), wire::option::list_encoded_len(&list));
        let mut r2 = Reader::new(&out);
        assert_eq!(
            wire::option::read_list(&mut r2, "re-emitted").as_ref(),
            Ok(&list)
        );
        assert!(r2.is_empty());
    }
    if let Ok(items) = wire::option::parse_sequence(data, "fuzz option sequence") {
        let mut out = Vec::new();
        wire::option::emit_sequence(&items, &mut out);
        assert_eq!(
            wire::option::parse_sequence(&out, "re-emitted").as_ref(),
            Ok(&items)
        );
    }
}

/// §2.1.5 address_t: parse and emit are exact inverses (no VLU inside).
pub fn address(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(a) = Address::read(&mut r) {
        let used = r.position();
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out.len(), a.encoded_len());
        assert_eq!(&out[..], &data[..used]);
    }
}

/// §2.2.4 header: exact inverse.
pub fn header(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(h) = Header::read(&mut r) {
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out.len(), h.encoded_len());
        assert_eq!(&out[..], &data[..r.position()]);
    }
}

/// Every chunk parser, chosen by the first byte (the chunk type). A payload either
/// parses or becomes `Malformed` (never a panic); what parsed re-emits to bytes
/// that parse to the same chunk, and the canonical form is a fixed point.
pub fn chunk(data: &[u8]) {
    let Some((&t, payload)) = data.split_first() else {
        return;
    };
    let c = Chunk::parse(t, payload);
    assert_eq!(c.chunk_type(), t);
    let mut out = Vec::new();
    if c.emit(&mut out).is_err() {
        assert!(payload.len() > wire::chunk::MAX_PAYLOAD);
        return;
    }
    assert_eq!(out.len(), c.encoded_len());
    let again = Chunk::parse(out[0], &out[3..]);
    assert_eq!(again, c, "parse(emit(parse(b))) == parse(b)");
    let mut out2 = Vec::new();
    again.emit(&mut out2).expect("re-emits");
    assert_eq!(out2, out, "canonical encoding is a fixed point");
}

/// §2.2.4 a whole plain packet, then the §2.2.2 datagram framing around it.
pub fn packet(data: &[u8]) {
    let Ok(p) = Packet::parse(data) else {
        return;
    };
    let Ok(out) = p.to_bytes() else {
        return;
    };
    let again = Packet::parse(&out).expect("re-emitted packet parses");
    assert_eq!(again, p, "parse(emit(parse(b))) == parse(b)");
    assert_eq!(again.to_bytes().as_ref(), Ok(&out));
}

/// What `rtmfp dump` and the reports show for a parsed packet (text lines and
/// JSON of every chunk, the header flags) never panics. Apart from [`packet`]
/// so that the parser target stays fast (formatting is most of the time here).
pub fn describe(data: &[u8]) {
    let Ok(p) = Packet::parse(data) else {
        return;
    };
    for c in &p.chunks {
        let _ = rtmfp::describe::chunk_line(c, None, true);
        let _ = rtmfp::describe::chunk_json(c, Some(rtmfp::decode::Profile::Flash));
    }
    let _ = rtmfp::describe::header_flags(&p.header);
}

/// §2.2.2: unscrambling a datagram's session ID, and the inverse.
pub fn multiplex(data: &[u8]) {
    let Ok((sid, enc)) = wire::multiplex::demux(data) else {
        return;
    };
    let mut out = Vec::new();
    wire::multiplex::mux(sid, enc, &mut out);
    assert_eq!(out, data);
}

fn open_and_parse(cipher: &mut dyn PacketCipher, encrypted: &[u8]) {
    if let Ok(o) = cipher.open(encrypted)
        && let Ok(p) = Packet::parse(&o.packet)
    {
        let _ = p.to_bytes();
    }
}

/// RFC 7425 §4.1: a startup datagram under the Default Session Key, then parsed.
pub fn flash_open_default(data: &[u8]) {
    let Ok((_, enc)) = wire::multiplex::demux(data) else {
        return;
    };
    open_and_parse(&mut FlashCipher::default_key(), enc);
}

/// A fixed session key, in the framing the first byte selects: HMAC length
/// (none, 4, 10, 32) × session sequence numbers (off, on), then a few packets
/// (split on the second byte's lengths) through the same cipher, so the replay
/// window is exercised too.
pub fn flash_open_session(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut c = session_cipher(sel);
    for part in rest.split(|&b| b == 0xa5) {
        open_and_parse(&mut c, part);
    }
}

/// The fixed session cipher of [`flash_open_session`] for selector `sel`.
pub fn session_cipher(sel: u8) -> FlashCipher {
    const KEY: [u8; 16] = *b"fuzz session key";
    const HKEY: [u8; 32] = *b"fuzz session hmac key, 32 bytes!";
    let hmac = match sel & 3 {
        0 => None,
        1 => Some((HKEY, 4)),
        2 => Some((HKEY, 10)),
        _ => Some((HKEY, 32)),
    };
    let keys = DirectionKeys::new(KEY, hmac, sel & 4 != 0);
    FlashCipher::new(keys.clone(), keys)
}

/// The plain profile: startup (salt 0) and a session salt from the first two bytes.
pub fn plain_open(data: &[u8]) {
    open_and_parse(&mut PlainCipher::default(), data);
    if let [a, b, rest @ ..] = data {
        let salt = u16::from_be_bytes([*a, *b]);
        open_and_parse(
            &mut PlainCipher {
                tx_salt: 0,
                rx_salt: salt,
            },
            rest,
        );
    }
}

/// Seal then open gives back the packet (with 0xff padding after it) for every
/// input seal accepts, in every framing; the opened packet is never shorter.
/// open_in agrees with open, and seal_many with seal one by one.
pub fn flash_seal_open(data: &[u8]) {
    let Some((&sel, packet)) = data.split_first() else {
        return;
    };
    for c in [FlashCipher::default_key(), session_cipher(sel)] {
        let mut tx = c.clone();
        let mut rx = c.clone();
        let mut enc = Vec::new();
        tx.seal(packet, &mut enc);
        let o = rx
            .open(&enc)
            .unwrap_or_else(|e| panic!("open refused what seal made ({e}), framing {sel:#04x}"));
        assert!(o.packet.len() >= packet.len());
        assert_eq!(&o.packet[..packet.len()], packet);
        assert!(o.packet[packet.len()..].iter().all(|&b| b == 0xff));
        assert!(o.packet.len() - packet.len() <= 16);
        // open_in (into a reused buffer) finds what open found.
        let mut buf = vec![0xee; 7];
        let i = c.clone().open_in(&enc, &mut buf).expect("open_in refused");
        assert_eq!(&buf[i.start..], &o.packet[..]);
        assert_eq!((i.integrity, i.sseq), (o.integrity, o.sseq));
        // A flush seals several packets together (their CBC chains side by
        // side): the same bytes as sealing them one by one.
        let parts: [&[u8]; 3] = [packet, &packet[..packet.len() / 2], packet];
        let mut singly = c.clone();
        let want: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| {
                let mut out = Vec::new();
                singly.seal(p, &mut out);
                out
            })
            .collect();
        let mut got = vec![Vec::new(); parts.len()];
        c.clone().seal_many(&parts, &mut got);
        assert_eq!(got, want, "seal_many differs from seal, framing {sel:#04x}");
    }
}

/// The plain profile's seal and open (and open_in) are exact inverses (no padding).
pub fn plain_seal_open(data: &[u8]) {
    let salt = data
        .get(..2)
        .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]));
    let mut tx = PlainCipher {
        tx_salt: salt,
        rx_salt: 0,
    };
    let mut rx = PlainCipher {
        tx_salt: 0,
        rx_salt: salt,
    };
    let mut enc = Vec::new();
    tx.seal(data, &mut enc);
    let o = rx.open(&enc).expect("plain open refused what seal made");
    assert_eq!(o.packet, data);
    let mut buf = vec![0xee; 3];
    let i = rx.open_in(&enc, &mut buf).expect("plain open_in refused");
    assert_eq!(&buf[i.start..], data);
}

/// RFC 7425 §4.2 certificate, and what is derived from one.
pub fn certificate(data: &[u8]) {
    use rtmfp::crypto::flash::cert;
    if let Ok(c) = cert::Certificate::parse(data) {
        let _ = c.groups();
        let _ = c.is_static();
        for g in c.groups() {
            let _ = c.static_key(g);
        }
        assert!(c.canonical_len <= data.len());
    }
    let _ = cert::fingerprint(data);
    let epd = rtmfp::crypto::flash::epd::canonical(data);
    let _ = rtmfp::crypto::flash::epd::Epd::parse(&epd);
}

/// RFC 7425 §4.4 endpoint discriminator, as bytes and as the command line's spec.
pub fn epd(data: &[u8]) {
    use rtmfp::crypto::flash::epd::Epd;
    if let Ok(e) = Epd::parse(data) {
        let bytes = e.to_bytes();
        let again = Epd::parse(&bytes).expect("re-emitted EPD parses");
        assert_eq!(again.to_bytes(), bytes, "canonical EPD is a fixed point");
        let _ = e.selects(fixtures::profile(fixtures::ProfileKind::Flash, true).certificate());
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(b) = Epd::from_spec(s)
    {
        let _ = Epd::parse(&b);
    }
}

/// RFC 7425 §4.3 session key components (SKIC/SKRC).
pub fn keying_component(data: &[u8]) {
    let _ = rtmfp::crypto::flash::keying::Component::parse(data);
}

/// RFC 7425 §5.1.3 TC metadata: exact inverse when minimal.
pub fn tc_metadata(data: &[u8]) {
    use rtmfp::crypto::flash::tc::TcMetadata;
    if let Ok(m) = TcMetadata::parse(data) {
        let out = m.to_bytes();
        assert_eq!(TcMetadata::parse(&out), Ok(m));
    }
}

/// Key log text (vectors/*.keys and `--keylog` files).
pub fn keylog(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(log) = rtmfp::keylog::KeyLog::parse(text, "fuzz") {
        for s in &log.sessions {
            for (name, _) in &s.facts {
                let _ = s.bytes(name);
                let _ = s.number(name);
                let _ = s.flag(name);
                let _ = s.session_id(name);
            }
        }
    }
}

/// A conformance scenario file: errors are values, never panics.
pub fn scenario_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = rtmfp_conformance::scenario::Scenario::parse(
        text,
        Path::new("fuzz.yaml"),
        fixtures::known_requirements(),
    );
}

/// A conformance expectations file.
pub fn expectations_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = rtmfp_conformance::suite::Expectations::parse(text, "fuzz.yaml");
}

/// The error messages people read for a bad scenario or expectations file (the
/// CLI's text: `file:line:column: message`, then the line with a caret under
/// the place). The first byte picks the loader (even: scenario, odd:
/// expectations), the rest is the text. The parser targets only check
/// `is_err()`, which no longer renders anything: this one renders.
pub fn yaml_errors(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let msg = if sel % 2 == 0 {
        match rtmfp_conformance::scenario::Scenario::parse(
            text,
            Path::new("fuzz.yaml"),
            fixtures::known_requirements(),
        ) {
            Ok(_) => return,
            Err(e) => rtmfp_conformance::diagnostic::render_in(&e, text, false),
        }
    } else {
        match rtmfp_conformance::suite::Expectations::parse(text, "fuzz.yaml") {
            Ok(_) => return,
            Err(e) => e.to_string(),
        }
    };
    assert!(msg.starts_with("fuzz.yaml:"), "{msg}");
}

/// One captured frame: link type from the first byte (Ethernet, null/loopback,
/// raw IP, Linux cooked), frame after it.
pub fn capture_frame(data: &[u8]) {
    const LINKS: [u32; 6] = [1, 0, 108, 101, 12, 113];
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    let orig = frame.len() + usize::from(sel >> 7) * 16;
    let _ = capture::decode_frame(link, frame, orig);
}

/// A whole pcap or pcapng file through the reader and the decoder (with the
/// vectors' key logs, so the captures' sessions decrypt), as `rtmfp dump` does.
pub fn capture_file(data: &[u8]) {
    let Ok(cap) = capture::read_bytes(data) else {
        return;
    };
    let mut d = Decoder::new(Some(fixtures::vector_keylog()), ProfileChoice::Auto);
    for r in &cap.records {
        if let capture::RecordKind::Udp(u) = &r.kind {
            let p = d.decode(DatagramRef {
                index: r.index,
                time: r.timestamp,
                src: u.src,
                dst: u.dst,
                payload: &u.payload,
            });
            let _ = d.reencode(&p);
        }
    }
}

/// parse(emit(x)) == x for arbitrary valid chunks, and emit(parse(b)) == b for
/// their (canonical) encodings.
pub fn chunk_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(c) = arb::chunk(&mut u) else {
        return;
    };
    let mut out = Vec::new();
    c.emit(&mut out).expect("small chunk emits");
    let back = Chunk::try_parse(out[0], &out[3..]).unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert_eq!(back, c);
    let mut again = Vec::new();
    back.emit(&mut again).expect("re-emits");
    assert_eq!(again, out);
}

/// parse(emit(x)) == x for arbitrary valid packets, sealed and opened in both
/// profiles on the way.
pub fn packet_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(p) = arb::packet(&mut u) else {
        return;
    };
    let bytes = p.to_bytes().expect("small packet emits");
    assert_eq!(Packet::parse(&bytes).as_ref(), Ok(&p));
    let mut plain = PlainCipher::default();
    let mut enc = Vec::with_capacity(bytes.len() + 32);
    plain.seal(&bytes, &mut enc);
    assert_eq!(plain.open(&enc).map(|o| o.packet).as_ref(), Ok(&bytes));
    // Keyed once per process: AES key expansion is not what this tests.
    static DEFAULT_KEY: LazyLock<FlashCipher> = LazyLock::new(FlashCipher::default_key);
    let mut flash = DEFAULT_KEY.clone();
    enc.clear();
    flash.seal(&bytes, &mut enc);
    let o = flash.open(&enc).expect("flash opens what it sealed");
    let reparsed = Packet::parse(&o.packet).expect("opened packet parses");
    assert_eq!(reparsed.header, p.header);
    assert_eq!(
        &reparsed.chunks[..p.chunks.len()],
        &p.chunks[..],
        "chunks survive the 0xff padding"
    );
}

/// A datagram source address chosen by a byte (a few IPv4 and IPv6 peers).
pub fn source(sel: u8) -> SocketAddr {
    const SOURCES: [&str; 5] = [
        fixtures::CLIENT,
        "10.0.0.3:5000",
        "10.0.0.1:5001",
        "[2001:db8::1]:4000",
        "192.0.2.9:1935",
    ];
    fixtures::addr(SOURCES[usize::from(sel) % SOURCES.len()])
}

/// Up to this much virtual time per step of a stateful target.
pub const MAX_STEP: Duration = Duration::from_secs(30);
