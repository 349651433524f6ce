//! KAT-R (../shared/specs/flash-profile.md §13.2): the real handshake between Flash
//! Player 13 and Adobe's cc.rtmfp.net server, from APNIC-Labs/rtmfp-probe. These
//! bytes come from Adobe's own client and server, so they are the best evidence of
//! what the Flash profile is on the wire.

use rtmfp::crypto::flash::cert::{self, Certificate};
use rtmfp::crypto::flash::keying::Component;
use rtmfp::crypto::flash::{FlashCipher, epd};
use rtmfp::crypto::{Integrity, PacketCipher};
use rtmfp::wire::{Chunk, Mode, Packet, multiplex};

const IHELLO_DATAGRAM: &[&str] = &[
    "7ec60dab48a2a66b3664abc0af23e0c89634118f0d423863f988da53ac9c2f0b",
    "acbfb1238447bf5b9ff305faeb82f6d31eafee29",
];
const IHELLO_PLAINTEXT: &[&str] = &[
    "99f90b132d30002716150a72746d66703a2f2f63632e72746d66702e6e657412",
    "af718559bbeea27a125b08236c4318ff",
];

const RHELLO_DATAGRAM: &[&str] = &[
    "5058eeb6976d54b1c735ba077a6681cf62b4dd4ac87380cdbc7b27389d103c77",
    "5cc37804a971c3c4dbd7ef0c292072ec3ef11ecc619910583e7465f5b31aed1f",
    "646481798027825bf160904cec0829a6f0c29e34d3d0dd067c44730eb79713aa",
    "4fdaa83fda1538ef93f3f48850faa50787c29afb979670571e14d1f20f676321",
    "6740013a41ab9311899e4437e3a6a253aeb88857df19b7f0fd447566677a00d7",
    "63e5c40404f3894fdb534842655806f6c97317e4",
];
const RHELLO_PLAINTEXT: &[&str] = &[
    "f0bc0b374570009f1012af718559bbeea27a125b08236c4318409c24e20ce1cb",
    "9f51c3893104c9967e31f172e8b7965feb34e602360658678a549b98d438e192",
    "e4bbfd04d4ba9c64d0f847f67c8072004f0d9c3a87f03ef8e47a010a410e9b86",
    "82f1b1d8d72e184526241f19e194a6208f2d1e18ab7692d76ae3194300aec345",
    "b975df285830dc835f6f5ab9febff1cd42bce95f82f1384bfeea7e259a090215",
    "0202150502150effffffffffffffffff",
];

const IIKEYING_DATAGRAM: &[&str] = &[
    "24d163c310d26a8b340309480edf2a238938f2c43d76c6f4d4b86ff12fa9799f",
    "ba8c7dbde871b0643337ad3e2ece22af6683acc05b7a866b23ca6da092fdf3ac",
    "0a1df7665dcfd08264466d143d3fe925e63ea52965a632dba58d0cf36e6590d4",
    "392fe4c1ac962b8e47f9c340e2d971499f28c2483ed787bae2b9d0c57790880c",
    "cc5ab86c9e2ecc01053a763e16b67d6d35493e82cb9831027240f5b544095c26",
    "88aebdc8017ee6229e856796d640df1d2e8fdbac60a00cf6e6f805968f0f23e9",
    "322e5d34239ea6fc6b91beba9d3e00039694e47084afdd111e083d449b2ca01c",
    "04d2a155b9da5bc71188049d5cbfd7ec7f2ddbb8f7166d26e1f72b89cde81eed",
    "b88a93d24f631e41123e4a3efda90c2e6f0f6ed2cc8d9dd0754b866db1c33d24",
    "ad2821a4d80bd0910460caa79d3a7a785a0d6c19",
];
const IIKEYING_PLAINTEXT: &[&str] = &[
    "ac130b136838011902000000409c24e20ce1cb9f51c3893104c9967e31f172e8",
    "b7965feb34e602360658678a549b98d438e192e4bbfd04d4ba9c64d0f847f67c",
    "8072004f0d9c3a87f03ef8e47a810481021d0289f7ea812923cc71861b6e5aa4",
    "24a852c3922cc0d274412e827376f2759d21aa4a651402ecde2f0079986b7628",
    "8b101d8cd3a7369a874f7a8857b72f25b01d2e9c54d659929410079f3d0464bf",
    "e2375d1545714719863206858f2a9488dee587ede6fc4ebe53f4bfe2a588e182",
    "66c476962ec70eae4077a126b7c393355ea6e14c021d02410ebf536b12751ff5",
    "abefa374b5f0e871e945e542780a89c0d94954ab377b99458de85aa032f071ad",
    "b09194fddd44355d9565cc28f7140d91e224c611b13901c93d031a020a021e02",
    "58ffffffffffffffffffffffffffffff",
];

const RIKEYING_DATAGRAM: &[&str] = &[
    "7dfed0ffa3894cd3dc779c2c80c96bff51d010f42e180422a1a7c8b077242484",
    "b7317faa0263e86257aef72b19b7377f3c7161e6661b8d88cc6353b1368855a1",
    "71c8d6678a252c43da691bf739288e824e328b75daf1eeb6617feb06f0fdd963",
    "1afc8e27cad5d3eab99c0d696ecc0954b56602f14d08bfd8428c42e494864e29",
    "b9340975b4c591c5c51d7624e40f51b9cf3075172a606d47b68813cb03a93baa",
    "b0cbff16",
];
const RIKEYING_PLAINTEXT: &[&str] = &[
    "02960b378178009245020000810b031a0000021e0081020d02fab4f4b7c385b5",
    "e354b684cf11183337c36ca7a94840b9f3aa6b92fce6b34247f949b726dfe958",
    "2da75221291f122665e2ad07588ab22c8ec4536370fed43b2869343efa5fba82",
    "119e5dfe254d67ecd786382a9653aee65442c4c1a61ff075ea83435f8bd84d3b",
    "de4aa691bab92f50c6aeb435b2b152cd4bf1047e5ed15841db58ffffffffffff",
];

fn h(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat()).unwrap()
}

/// Opens a datagram with the Default Session Key; checks session ID, checksum,
/// the plaintext the fact sheet printed, and that re-sealing the parsed packet
/// (without its padding, which the cipher adds back) reproduces the datagram.
fn open(datagram: &[&str], plaintext: &[&str], session_id: u32, checksum: u16) -> Packet {
    let dg = h(datagram);
    let pt = h(plaintext);
    let (sid, enc) = multiplex::demux(&dg).unwrap();
    assert_eq!(sid, session_id);
    let opened = FlashCipher::default_key().open(enc).unwrap();
    assert_eq!(opened.integrity, Integrity::Checksum(checksum));
    assert_eq!(opened.packet, pt[2..], "plaintext after the checksum");
    let packet = Packet::parse(&opened.packet).unwrap();
    assert_eq!(packet.header.mode, Mode::Startup);
    assert!(packet.padding.iter().all(|&b| b == 0xff));
    let mut unpadded = packet.clone();
    unpadded.padding.clear();
    let mut resealed = Vec::new();
    FlashCipher::default_key().seal(&unpadded.to_bytes().unwrap(), &mut resealed);
    let mut again = Vec::new();
    multiplex::mux(session_id, &resealed, &mut again);
    assert_eq!(again, dg, "re-emitted datagram");
    packet
}

#[test]
fn kat_r_flash_player_and_adobe_server() {
    let ih = open(IHELLO_DATAGRAM, IHELLO_PLAINTEXT, 0, 0x99f9);
    let Chunk::IHello(ihello) = &ih.chunks[0] else {
        panic!("{ih:?}")
    };
    let e = epd::Epd::parse(&ihello.epd).unwrap();
    assert_eq!(
        e.ancillary_data.as_deref(),
        Some(&b"rtmfp://cc.rtmfp.net"[..])
    );
    assert_eq!(ihello.tag.len(), 16);

    let rh = open(RHELLO_DATAGRAM, RHELLO_PLAINTEXT, 0, 0xf0bc);
    let Chunk::RHello(rhello) = &rh.chunks[0] else {
        panic!()
    };
    assert_eq!(
        rhello.tag_echo, ihello.tag,
        "tagEcho is the IHello tag, unaltered"
    );
    assert_eq!(rhello.cookie.len(), 64);
    let server_cert = &rhello.responder_certificate;
    assert_eq!(server_cert.len(), 77);
    let sc = Certificate::parse(server_cert).unwrap();
    assert!(sc.accepts_ancillary_data);
    assert_eq!(sc.ephemeral_groups, [2, 5, 14]);
    assert!(
        e.selects(server_cert),
        "the client's EPD selects the server"
    );
    // KAT-F and the KAT-T canonical EPD row.
    assert_eq!(
        hex::encode(cert::fingerprint(server_cert)),
        "63ab863bfa745785583790edba4f89b76d8ae7986f23323eef40f7d8737666e8"
    );
    assert_eq!(
        hex::encode(epd::canonical(server_cert)),
        "210f63ab863bfa745785583790edba4f89b76d8ae7986f23323eef40f7d8737666e8"
    );

    let ii = open(IIKEYING_DATAGRAM, IIKEYING_PLAINTEXT, 0, 0xac13);
    let Chunk::IIKeying(iik) = &ii.chunks[0] else {
        panic!()
    };
    assert_eq!(iik.initiator_session_id, 0x0200_0000);
    assert_eq!(
        iik.cookie_echo, rhello.cookie,
        "cookieEcho is the RHello cookie, unaltered"
    );
    assert_eq!(iik.initiator_certificate.len(), 132);
    let cc = Certificate::parse(&iik.initiator_certificate).unwrap();
    assert_eq!(cc.static_keys.len(), 1);
    assert_eq!(cc.static_keys[0].0, 2);
    assert_eq!(
        hex::encode(cert::fingerprint(&iik.initiator_certificate)),
        "95c1b98c8fde775e678921cde3a303cde119284ae56ca4a3e4515c3b81bae21e"
    );
    assert_eq!(iik.skic.len(), 76);
    let skic = Component::parse(&iik.skic).unwrap();
    assert_eq!(skic.group_select, Some(2));
    assert_eq!(skic.extra_randomness.as_ref().map(Vec::len), Some(64));
    assert_eq!(skic.hmac, Some((0x02, 10)));
    assert_eq!(skic.sseq, Some(0x02));
    assert_eq!(iik.signature, [0x58]);

    // RIKeying goes to the initiator's session ID under the Default Session Key.
    let ri = open(RIKEYING_DATAGRAM, RIKEYING_PLAINTEXT, 0x0200_0000, 0x0296);
    let Chunk::RIKeying(rik) = &ri.chunks[0] else {
        panic!()
    };
    assert_eq!(rik.responder_session_id, 0x4502_0000);
    assert_eq!(rik.skrc.len(), 139);
    let skrc = Component::parse(&rik.skrc).unwrap();
    assert_eq!(skrc.hmac, Some((0x00, 0)));
    assert_eq!(skrc.sseq, Some(0x00));
    let (g, y) = skrc.ephemeral_key.unwrap();
    assert_eq!((g, y.len()), (2, 128));
    rtmfp::crypto::flash::dh::validate_public_key(2, &y).unwrap();
    assert_eq!(rik.signature, [0x58]);
}
