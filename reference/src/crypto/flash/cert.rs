//! Flash-profile certificates (RFC 7425 §4.3; fact sheet §6) and fingerprints.
//!
//! A certificate is a sequence of Options. Only options before the first Marker
//! are canonical; the fingerprint (Peer ID) is SHA-256 of the canonical part,
//! up to and including that Marker (fact sheet §6.3, X10).

use sha2::{Digest, Sha256};

use crate::crypto::CryptoError;
use crate::wire::option::{self, Opt, OptionItem};
use crate::wire::{Reader, vlu};

/// Certificate option types (RFC 7425 §4.3; fact sheet §6.1).
pub mod types {
    pub const HOSTNAME: u64 = 0x00;
    pub const ACCEPTS_ANCILLARY_DATA: u64 = 0x0a;
    pub const EXTRA_RANDOMNESS: u64 = 0x0e;
    pub const SUPPORTED_EPHEMERAL_DH_GROUP: u64 = 0x15;
    pub const STATIC_DH_PUBLIC_KEY: u64 = 0x1d;
}

/// The name of a certificate option type.
pub fn option_name(t: u64) -> &'static str {
    match t {
        types::HOSTNAME => "Hostname",
        types::ACCEPTS_ANCILLARY_DATA => "Accepts Ancillary Data",
        types::EXTRA_RANDOMNESS => "Extra Randomness",
        types::SUPPORTED_EPHEMERAL_DH_GROUP => "Supported Ephemeral DH Group",
        types::STATIC_DH_PUBLIC_KEY => "Static DH Public Key",
        _ => "unknown",
    }
}

/// A parsed certificate: what RFC 7016/7425 processing needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certificate {
    pub hostname: Option<Vec<u8>>,
    pub accepts_ancillary_data: bool,
    /// Supported ephemeral groups, in the certificate's (preference) order.
    pub ephemeral_groups: Vec<u64>,
    /// Static public keys: (group, minimal-or-padded big-endian key), in order.
    pub static_keys: Vec<(u64, Vec<u8>)>,
    /// Length of the canonical part (up to and including the first Marker).
    pub canonical_len: usize,
}

impl Certificate {
    /// Parses a certificate. RFC 7425 (fact sheet §6.1): it must be either static
    /// (Static DH Public Key options) or ephemeral (Supported Ephemeral DH Group
    /// options), not both and not neither; unknown options are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Certificate, CryptoError> {
        let mut c = Certificate {
            canonical_len: bytes.len(),
            ..Default::default()
        };
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let item = option::read_item(&mut r, "certificate option").map_err(bad)?;
            let o = match item {
                OptionItem::Marker => {
                    c.canonical_len = r.position();
                    break;
                }
                OptionItem::Option(o) => o,
            };
            match o.kind {
                types::HOSTNAME => c.hostname = Some(o.value),
                types::ACCEPTS_ANCILLARY_DATA => c.accepts_ancillary_data = true,
                types::SUPPORTED_EPHEMERAL_DH_GROUP => c.ephemeral_groups.push(
                    o.value_as_vlu("Supported Ephemeral DH Group")
                        .map_err(bad)?,
                ),
                types::STATIC_DH_PUBLIC_KEY => {
                    let mut v = Reader::new(&o.value);
                    let g = v.vlu("Static DH Public Key group").map_err(bad)?;
                    c.static_keys.push((g, v.rest().to_vec()));
                }
                _ => {}
            }
        }
        match (c.ephemeral_groups.is_empty(), c.static_keys.is_empty()) {
            (true, true) => Err(CryptoError::Handshake(
                "certificate offers no Diffie-Hellman group (neither static nor ephemeral)".into(),
            )),
            (false, false) => Err(CryptoError::Handshake(
                "certificate is both static and ephemeral".into(),
            )),
            _ => Ok(c),
        }
    }

    pub fn is_static(&self) -> bool {
        !self.static_keys.is_empty()
    }

    /// The groups the certificate offers, in its order.
    pub fn groups(&self) -> Vec<u64> {
        if self.is_static() {
            self.static_keys.iter().map(|(g, _)| *g).collect()
        } else {
            self.ephemeral_groups.clone()
        }
    }

    pub fn static_key(&self, group: u64) -> Option<&[u8]> {
        self.static_keys
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, k)| k.as_slice())
    }
}

fn bad(e: crate::wire::WireError) -> CryptoError {
    CryptoError::Handshake(format!("malformed certificate: {e}"))
}

/// RFC 7425 §4.3.2: the fingerprint, SHA-256 of the canonical part of the
/// certificate (up to and including the first Marker; all of it if none).
/// Works on any bytes, valid certificate or not.
pub fn fingerprint(certificate: &[u8]) -> [u8; 32] {
    let mut r = Reader::new(certificate);
    let mut end = certificate.len();
    while !r.is_empty() {
        match option::read_item(&mut r, "certificate option") {
            Ok(OptionItem::Marker) => {
                end = r.position();
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Sha256::digest(&certificate[..end]).into()
}

/// Builds a certificate from options.
pub fn build(options: &[Opt]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in options {
        o.emit(&mut out);
    }
    out
}

/// `VLU group ‖ key`, the value of a Static DH Public Key or Ephemeral DH Public Key.
pub fn group_key_value(group: u64, key: &[u8]) -> Vec<u8> {
    let mut v = vlu::to_vec(group);
    v.extend_from_slice(key);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    // KAT-F, fact sheet §13.4.
    #[test]
    fn kat_f_fingerprints() {
        // the synthetic rtmfp-cpp-style certificate, exactly as printed
        let mut cert = hex::decode("0c006578616d706c652e636f6d010a021510").unwrap();
        cert.extend(hex::decode("02150e021502410e").unwrap());
        cert.extend(0u8..0x40);
        assert_eq!(cert.len(), 90);
        assert_eq!(
            hex::encode(fingerprint(&cert)),
            "55682e6d9aea0aa3186886f394f88fec3896082b5e55f0a4e28f9e0f04a9d0bb"
        );
        let c = Certificate::parse(&cert).unwrap();
        assert_eq!(c.hostname.as_deref(), Some(&b"example.com"[..]));
        assert!(c.accepts_ancillary_data);
        assert_eq!(c.ephemeral_groups, [16, 14, 2]);
        assert!(!c.is_static());

        let mut marked = cert.clone();
        marked.extend([0x00, 0x05, 0x7f]);
        marked.extend(b"tail");
        assert_eq!(
            hex::encode(fingerprint(&marked)),
            "030df2851bdfb891565b88c6f4f6260a78030bf78ebe69273eff918b3cb0380e"
        );
        assert_eq!(Certificate::parse(&marked).unwrap().canonical_len, 91);
    }

    #[test]
    fn validity() {
        assert!(Certificate::parse(&[0x01, 0x0a]).is_err());
        assert!(Certificate::parse(&[0x02, 0x15, 0x02, 0x05, 0x1d, 0x02, 1, 2, 3]).is_err());
        assert!(Certificate::parse(&[0x05, 0x0a]).is_err());
        let c = Certificate::parse(&[0x05, 0x1d, 0x02, 1, 2, 3]).unwrap();
        assert_eq!(c.static_key(2), Some(&[1u8, 2, 3][..]));
        assert_eq!(c.groups(), [2]);
    }
}
