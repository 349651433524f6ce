use super::*;
use crate::crypto::PacketCipher;
use rand::SeedableRng;

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

fn handshake(
    i: &FlashProfile,
    r: &FlashProfile,
) -> Result<(SessionKeys, SessionKeys, Vec<u8>, Vec<u8>), CryptoError> {
    let ik = i.initiate(&mut rng(3), r.certificate())?;
    let skic = ik.skic().to_vec();
    let (skrc, rkeys) = r.respond(&mut rng(4), i.certificate(), &skic)?;
    let ikeys = ik.complete(&skrc)?;
    Ok((ikeys, rkeys, skic, skrc))
}

fn exchange(a: &mut dyn PacketCipher, b: &mut dyn PacketCipher) {
    for n in 0..5u8 {
        let packet = vec![0x09, 0, n, 0x01, 0x00, 0x01, n];
        let mut enc = Vec::new();
        a.seal(&packet, &mut enc);
        let opened = b.open(&enc).unwrap();
        assert_eq!(&opened.packet[..packet.len()], &packet[..]);
    }
}

#[test]
fn certificates_have_the_documented_layouts() {
    let s = FlashProfile::new(FlashConfig::server(true), &mut rng(1)).unwrap();
    let c = s.certificate();
    // Adobe's 77-byte server certificate (fact sheet §6.2)
    assert_eq!(c.len(), 77);
    assert_eq!(&c[..4], &[0x01, 0x0a, 0x41, 0x0e]);
    assert_eq!(
        &c[68..],
        &[0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0e]
    );
    let cl = FlashProfile::new(FlashConfig::client(true), &mut rng(2)).unwrap();
    let c = cl.certificate();
    // Flash Player's client certificate: `81 02 1d 02` + 128-byte key (132 bytes),
    // unless the key happens to have a leading zero byte.
    assert_eq!(&c[..4], &[0x81, 0x02, 0x1d, 0x02]);
    assert_eq!(c.len(), 132);
}

#[test]
fn every_dh_combination_agrees() {
    for (idh, rdh) in [
        (DhMode::Static, DhMode::Ephemeral),
        (DhMode::Ephemeral, DhMode::Ephemeral),
        (DhMode::Ephemeral, DhMode::Static),
        (DhMode::Static, DhMode::Static),
    ] {
        let mut ic = FlashConfig::client(true);
        ic.dh = idh;
        let mut rc = FlashConfig::server(true);
        rc.dh = rdh;
        rc.groups = vec![2, 14];
        let i = FlashProfile::new(ic, &mut rng(10)).unwrap();
        let r = FlashProfile::new(rc, &mut rng(11)).unwrap();
        let (mut ik, mut rk, skic, skrc) = handshake(&i, &r).unwrap();
        assert_eq!(ik.near_nonce, rk.far_nonce, "{idh:?}/{rdh:?}");
        assert_eq!(ik.far_nonce, rk.near_nonce);
        // §7.6 table: what each component carries
        let ci = Component::parse(&skic).unwrap();
        let cr = Component::parse(&skrc).unwrap();
        assert_eq!(ci.group_select.is_some(), idh == DhMode::Static);
        assert_eq!(ci.ephemeral_key.is_some(), idh == DhMode::Ephemeral);
        assert_eq!(cr.ephemeral_key.is_some(), rdh == DhMode::Ephemeral);
        assert_eq!(cr.extra_randomness.is_some(), rdh == DhMode::Static);
        exchange(ik.cipher.as_mut(), rk.cipher.as_mut());
        exchange(rk.cipher.as_mut(), ik.cipher.as_mut());
    }
}

#[test]
fn group_preference_and_mismatch() {
    let i = FlashProfile::new(FlashConfig::client(false), &mut rng(5)).unwrap();
    let r = FlashProfile::new(FlashConfig::server(true), &mut rng(6)).unwrap();
    // client prefers 16, 14, 2; the Adobe-layout server offers 2, 5, 14: 14 wins
    let (ik, ..) = handshake(&i, &r).unwrap();
    assert!(ik.keylog.contains(&("dh_group".into(), "14".into())));
    let mut only5 = FlashConfig::server(true);
    only5.groups = vec![5];
    let r5 = FlashProfile::new(only5, &mut rng(7)).unwrap();
    let ic = FlashProfile::new(FlashConfig::client(true), &mut rng(8)).unwrap();
    assert!(ic.initiate(&mut rng(9), r5.certificate()).is_err());
}

#[test]
fn hmac_and_sseq_negotiation_end_to_end() {
    let mut ic = FlashConfig::client(true);
    ic.hmac = Policy::Require;
    let mut rc = FlashConfig::server(true);
    rc.sseq = Policy::Require;
    let i = FlashProfile::new(ic, &mut rng(12)).unwrap();
    let r = FlashProfile::new(rc, &mut rng(13)).unwrap();
    let (mut ik, mut rk, _, skrc) = handshake(&i, &r).unwrap();
    // Requiring on one side gives the feature in both directions.
    let cr = Component::parse(&skrc).unwrap();
    // the initiator sent SND|REQ: the responder now sends always and requires
    assert_eq!(cr.hmac.unwrap().0, 0x07);
    assert_eq!(cr.sseq.unwrap(), 0x07);
    for k in [
        "initiator_hmac_send",
        "responder_hmac_send",
        "initiator_sseq_send",
        "responder_sseq_send",
    ] {
        assert!(ik.keylog.contains(&(k.into(), "1".into())), "{k}");
        assert!(rk.keylog.contains(&(k.into(), "1".into())), "{k}");
    }
    exchange(ik.cipher.as_mut(), rk.cipher.as_mut());
    exchange(rk.cipher.as_mut(), ik.cipher.as_mut());
    // A required feature the peer cannot provide aborts the handshake.
    let mut strict = FlashConfig::server(true);
    strict.hmac = Policy::Require;
    let s = FlashProfile::new(strict, &mut rng(14)).unwrap();
    let adobe_skic = hex::decode("021d02031a0000021e00").unwrap();
    assert!(
        s.respond(&mut rng(15), i.certificate(), &adobe_skic)
            .is_err()
    );
}

// KAT-D (fact sheet §13.6): from the SKIC/SKRC bytes and S, the documented keys.
#[test]
fn kat_d_key_schedule() {
    let s = hex::decode(concat!(
        "e8673474faee5b7a63831069a190a25112c9ac70b8e55a550754a48ccdb1e0de",
        "435da4ad67a7b7c3dddfaec520d470e366514a220987307a52fda017deba80f6",
        "655915e3a95fc6ef8dc53cbb19826b055c197c79602e87b33924a1321f7c5984",
        "f61beb4ca7da0175a10fbcec9020ab2dc257d5afc1cb260d48d559ab4eb90245"
    ))
    .unwrap();
    let mut skic = hex::decode("021d02410e").unwrap();
    skic.extend(0x40u8..0x80);
    skic.extend(hex::decode("031a020a021e02").unwrap());
    let y = dh::KeyPair::from_private(
        2,
        &hex::decode("6d1794bec78aefec8b6ff4f2b886fee3290bff50ed7d4bc990a518dcc7e1d383").unwrap(),
    )
    .unwrap();
    let mut skrc = hex::decode("031a0000021e0081020d02").unwrap();
    skrc.extend(&y.public);
    assert_eq!(skrc.len(), 139);
    let k = DerivedKeys::derive(&s, &skic, &skrc);
    assert_eq!(
        hex::encode(k.encrypt_key()),
        "3fb3a06b210c0dbf2b9bea0ee9b22fed"
    );
    assert_eq!(
        hex::encode(k.decrypt_key()),
        "7048b7783efde31e1bf95a4a48b7f6b0"
    );
    assert_eq!(
        hex::encode(k.near_nonce),
        "77c606339d6445c0a7332c64755436ef6270dde4bb715315c5114dcd2783af97"
    );
    assert_eq!(
        hex::encode(k.send_hmac_key),
        "f163ca680f9d9e1fddea24f83fef7f4a42a9834da27046fdf5a9546522f44640"
    );
    assert_eq!(
        hex::encode(k.recv_hmac_key),
        "dd90dea462a93ddd7f448af9899febbd6dfff6520c7594c1110786b27804d5d3"
    );
}

// KAT-D: the initiator's static certificate, fingerprint and canonical EPD.
#[test]
fn kat_d_certificate() {
    let x = dh::KeyPair::from_private(
        2,
        &hex::decode("3d5a51af0d9a25fa7cd50861f6e15b0130a9d312b0c1d306a113741482256356").unwrap(),
    )
    .unwrap();
    let c = cert::build(&[Opt::new(
        cert::types::STATIC_DH_PUBLIC_KEY,
        cert::group_key_value(2, &x.public),
    )]);
    assert_eq!(c.len(), 132);
    assert_eq!(hex::encode(&c[..8]), "81021d02860f770e");
    assert_eq!(
        hex::encode(cert::fingerprint(&c)),
        "bd9dc0f35cab44052d7b8d0a3c41fcea791454715e608a7f63f83ef64f3a2504"
    );
    assert_eq!(
        hex::encode(epd::canonical(&c)),
        "210fbd9dc0f35cab44052d7b8d0a3c41fcea791454715e608a7f63f83ef64f3a2504"
    );
}

// KAT-D-LZ: keys from the 127-byte minimal secret, not a zero-padded one.
#[test]
fn kat_d_lz_keys() {
    let x = dh::KeyPair::from_private(
        2,
        &hex::decode("3d5a51af0d9a25fa7cd50861f6e15b0130a9d312b0c1d306a113741482256356").unwrap(),
    )
    .unwrap();
    let y = dh::KeyPair::from_private(
        2,
        &hex::decode("08253c872a5c8d55c53fc33ff0dfbe06dfb4570d9ae8a54b798cda02431341af").unwrap(),
    )
    .unwrap();
    let mut skic = hex::decode("021d02410e").unwrap();
    skic.extend(0x40u8..0x80);
    skic.extend(hex::decode("031a020a021e02").unwrap());
    let mut skrc = hex::decode("031a0000021e0081020d02").unwrap();
    skrc.extend(&y.public);
    let s = x.shared_secret(&y.public).unwrap();
    let k = DerivedKeys::derive(&s, &skic, &skrc);
    assert_eq!(
        hex::encode(k.encrypt_key()),
        "f86065d8fe84e033ccdfca8300944804"
    );
    assert_eq!(
        hex::encode(k.decrypt_key()),
        "6b6711061a00adcade3ed1ce5ed16475"
    );
    let mut padded = vec![0u8];
    padded.extend(&s);
    let wrong = DerivedKeys::derive(&padded, &skic, &skrc);
    assert_eq!(
        hex::encode(wrong.encrypt_key()),
        "1c6b60dcc4e9958c2f30b4477e8aefa2"
    );
}

#[test]
fn glare_is_antisymmetric() {
    let a = FlashProfile::new(FlashConfig::client(true), &mut rng(20)).unwrap();
    let b = FlashProfile::new(FlashConfig::client(true), &mut rng(21)).unwrap();
    assert_ne!(
        a.glare_near_wins(b.certificate()),
        b.glare_near_wins(a.certificate())
    );
}
