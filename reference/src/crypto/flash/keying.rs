//! Session Key Components, HMAC/SSEQ negotiation and the key schedule
//! (RFC 7425 §4.6; fact sheet §4, §7.5-§7.7, §8).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::CryptoError;
use crate::wire::option::{self, Opt, OptionItem};
use crate::wire::{Reader, vlu};

/// Session Key Component option types (SKIC and SKRC share one table).
pub mod types {
    pub const EPHEMERAL_DH_PUBLIC_KEY: u64 = 0x0d;
    pub const EXTRA_RANDOMNESS: u64 = 0x0e;
    pub const HMAC_NEGOTIATION: u64 = 0x1a;
    pub const DH_GROUP_SELECT: u64 = 0x1d;
    pub const SSEQ_NEGOTIATION: u64 = 0x1e;
}

pub fn option_name(t: u64) -> &'static str {
    match t {
        types::EPHEMERAL_DH_PUBLIC_KEY => "Ephemeral DH Public Key",
        types::EXTRA_RANDOMNESS => "Extra Randomness",
        types::HMAC_NEGOTIATION => "HMAC Negotiation",
        types::DH_GROUP_SELECT => "DH Group Select",
        types::SSEQ_NEGOTIATION => "Session Sequence Number Negotiation",
        _ => "unknown",
    }
}

/// Negotiation flag bits, for both HMAC and SSEQ (fact sheet §4.1).
pub mod flags {
    /// SND: "I will send always"
    pub const SEND_ALWAYS: u8 = 0x04;
    /// SOR: "I will send on request"
    pub const SEND_ON_REQUEST: u8 = 0x02;
    /// REQ: "please send them to me" (treated as a requirement)
    pub const REQUEST: u8 = 0x01;
}

/// Local policy for one negotiated feature (HMAC or SSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Negotiation {
    pub send_always: bool,
    pub recv_required: bool,
}

/// The three settings of the `--hmac` / `--sseq` command-line switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Offer to send on request only (flags 0x02).
    #[default]
    Off,
    /// Send always, do not require it from the peer (flags 0x06).
    On,
    /// Send always and require it from the peer (flags 0x07).
    Require,
}

impl From<Policy> for Negotiation {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Off => Negotiation::default(),
            Policy::On => Negotiation {
                send_always: true,
                recv_required: false,
            },
            Policy::Require => Negotiation {
                send_always: true,
                recv_required: true,
            },
        }
    }
}

impl Negotiation {
    /// Our flag byte: SND if sending always, SOR always, REQ if requiring.
    pub fn flags(self) -> u8 {
        (if self.send_always {
            flags::SEND_ALWAYS
        } else {
            0
        }) | flags::SEND_ON_REQUEST
            | (if self.recv_required {
                flags::REQUEST
            } else {
                0
            })
    }

    /// Applies the peer's flags (fact sheet §4.2, rtmfp-cpp `negotiateFlags`).
    /// A missing option counts as flags 0.
    pub fn apply_peer(&mut self, peer: u8, what: &str) -> Result<(), CryptoError> {
        if self.recv_required && peer & (flags::SEND_ALWAYS | flags::SEND_ON_REQUEST) == 0 {
            return Err(CryptoError::Handshake(format!(
                "{what} required but the peer can not send it (flags {peer:#04x})"
            )));
        }
        if peer & flags::SEND_ALWAYS != 0 {
            self.recv_required = true;
        }
        if peer & flags::REQUEST != 0 {
            self.send_always = true;
        }
        Ok(())
    }
}

/// A parsed Session Key Component. Options are found by type up to the first
/// Marker (fact sheet §15: rtmfp-cpp does not look past one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Component {
    pub ephemeral_key: Option<(u64, Vec<u8>)>,
    pub group_select: Option<u64>,
    pub extra_randomness: Option<Vec<u8>>,
    /// (flags, hmacLength)
    pub hmac: Option<(u8, u64)>,
    pub sseq: Option<u8>,
}

fn bad(e: crate::wire::WireError) -> CryptoError {
    CryptoError::Handshake(format!("malformed session key component: {e}"))
}

impl Component {
    pub fn parse(bytes: &[u8]) -> Result<Component, CryptoError> {
        let mut c = Component::default();
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let o = match option::read_item(&mut r, "key component option").map_err(bad)? {
                OptionItem::Marker => break,
                OptionItem::Option(o) => o,
            };
            let mut v = Reader::new(&o.value);
            match o.kind {
                types::EPHEMERAL_DH_PUBLIC_KEY => {
                    let g = v.vlu("Ephemeral DH Public Key group").map_err(bad)?;
                    c.ephemeral_key = Some((g, v.rest().to_vec()));
                }
                types::DH_GROUP_SELECT => {
                    c.group_select = Some(o.value_as_vlu("DH Group Select").map_err(bad)?)
                }
                types::EXTRA_RANDOMNESS => c.extra_randomness = Some(o.value),
                types::HMAC_NEGOTIATION => {
                    let f = v.u8("HMAC Negotiation flags").map_err(bad)?;
                    let len = v.vlu("HMAC Negotiation hmacLength").map_err(bad)?;
                    v.finish("HMAC Negotiation").map_err(bad)?;
                    c.hmac = Some((f, len));
                }
                types::SSEQ_NEGOTIATION => {
                    let f = v.u8("SSEQ Negotiation flags").map_err(bad)?;
                    v.finish("SSEQ Negotiation").map_err(bad)?;
                    c.sseq = Some(f);
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

pub fn hmac_option(n: Negotiation, len: u8) -> Opt {
    let mut v = vec![n.flags()];
    vlu::encode(u64::from(len), &mut v);
    Opt::new(types::HMAC_NEGOTIATION, v)
}

pub fn sseq_option(n: Negotiation) -> Opt {
    Opt::new(types::SSEQ_NEGOTIATION, vec![n.flags()])
}

type HmacSha256 = Hmac<Sha256>;

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// The key schedule at one end (fact sheet §8.1; rtmfp-cpp `computeKeysAndNonces`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedKeys {
    /// HMAC(S, HMAC(far, near)): the first 16 bytes are this end's AES encrypt key.
    pub encrypt_full: [u8; 32],
    /// HMAC(S, HMAC(near, far)): the first 16 bytes are this end's AES decrypt key.
    pub decrypt_full: [u8; 32],
    /// HMAC(S, near component)
    pub near_nonce: [u8; 32],
    /// HMAC(S, far component)
    pub far_nonce: [u8; 32],
    /// HMAC(S, encrypt_full) (rtmfp-cpp only, fact sheet §4.3)
    pub send_hmac_key: [u8; 32],
    /// HMAC(S, decrypt_full)
    pub recv_hmac_key: [u8; 32],
}

impl DerivedKeys {
    /// `secret` is the DH shared secret in minimal big-endian form; `near`/`far`
    /// are the exact bytes of this end's and the far end's key components.
    pub fn derive(secret: &[u8], near: &[u8], far: &[u8]) -> Self {
        let encrypt_full = hmac_sha256(secret, &hmac_sha256(far, near));
        let decrypt_full = hmac_sha256(secret, &hmac_sha256(near, far));
        DerivedKeys {
            encrypt_full,
            decrypt_full,
            near_nonce: hmac_sha256(secret, near),
            far_nonce: hmac_sha256(secret, far),
            send_hmac_key: hmac_sha256(secret, &encrypt_full),
            recv_hmac_key: hmac_sha256(secret, &decrypt_full),
        }
    }

    pub fn encrypt_key(&self) -> [u8; 16] {
        self.encrypt_full[..16].try_into().expect("32 >= 16")
    }

    pub fn decrypt_key(&self) -> [u8; 16] {
        self.decrypt_full[..16].try_into().expect("32 >= 16")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // KAT-C1 (fact sheet §13.5): synthetic 32-byte S, static-static components.
    #[test]
    fn kat_c1() {
        let s: Vec<u8> = (0u8..32).collect();
        let mut skic = h("021d02410e");
        skic.extend([0xa5; 64]);
        skic.extend(h("031a020a021e02"));
        let mut skrc = h("031a0000021e00410e");
        skrc.extend([0x5a; 64]);
        assert_eq!((skic.len(), skrc.len()), (76, 73));
        let i = DerivedKeys::derive(&s, &skic, &skrc);
        assert_eq!(
            hex::encode(i.encrypt_key()),
            "c137d717a463979a48eeea4da613318b"
        );
        assert_eq!(
            hex::encode(i.decrypt_key()),
            "1602f172b9e53ed9e23c933ff867d5f0"
        );
        assert_eq!(
            hex::encode(i.near_nonce),
            "b9ab0090c1ab2dd5341e359df16f5e3953a7cc9b7e1574771794238276882766"
        );
        assert_eq!(
            hex::encode(i.far_nonce),
            "fc3e56b63862335eadec72fc0e1c7f81538221f1c3f7a8176e7e81d9ffe7e6f2"
        );
        assert_eq!(
            hex::encode(i.send_hmac_key),
            "f96d26f1f353d1443ba563a9229cb79ced2362be04b95c60e18b962e7192dac2"
        );
        assert_eq!(
            hex::encode(i.recv_hmac_key),
            "fbfb099c07cde584033ab7663a5de26a8d4c4c08eb00cda78af7a34267524d85"
        );
        // The responder's view is the mirror image.
        let r = DerivedKeys::derive(&s, &skrc, &skic);
        assert_eq!(r.decrypt_key(), i.encrypt_key());
        assert_eq!(r.encrypt_key(), i.decrypt_key());
        assert_eq!(r.near_nonce, i.far_nonce);
        assert_eq!(r.recv_hmac_key, i.send_hmac_key);

        let c = Component::parse(&skic).unwrap();
        assert_eq!(c.group_select, Some(2));
        assert_eq!(c.extra_randomness.as_ref().map(Vec::len), Some(64));
        assert_eq!((c.hmac, c.sseq), (Some((0x02, 10)), Some(0x02)));
    }

    // Fact sheet §4.2 and vectors/README.md fact 8: requiring on one side yields
    // the feature in both directions.
    #[test]
    fn negotiation() {
        let mut me: Negotiation = Policy::Require.into();
        assert_eq!(me.flags(), 0x07);
        assert_eq!(Negotiation::from(Policy::Off).flags(), 0x02);
        assert_eq!(Negotiation::from(Policy::On).flags(), 0x06);
        assert!(me.apply_peer(0x00, "HMAC").is_err());
        me.apply_peer(0x02, "HMAC").unwrap();
        assert!(me.send_always && me.recv_required);

        let mut off: Negotiation = Policy::Off.into();
        off.apply_peer(0x07, "HMAC").unwrap();
        assert!(off.send_always && off.recv_required);

        let mut off2: Negotiation = Policy::Off.into();
        off2.apply_peer(0x02, "HMAC").unwrap();
        assert_eq!(off2, Negotiation::default());
        // Adobe servers send 0: nothing is used.
        off2.apply_peer(0x00, "HMAC").unwrap();
        assert_eq!(off2, Negotiation::default());
    }
}
