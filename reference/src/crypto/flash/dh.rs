//! Diffie-Hellman for the Flash profile (RFC 7425 §4.2, §4.6.2; fact sheet §9).
//!
//! MODP groups with generator 2, identified by their IKE group numbers. Public keys
//! and the shared secret travel and are used in minimal big-endian form (leading
//! zero bytes stripped, fact sheet §9.4); peers' public keys are validated.

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_traits::One;
use rand::RngCore;

use crate::crypto::CryptoError;

include!("groups_hex.rs");

/// The group numbers this implementation supports, in our default preference order.
/// RFC 7425 §4.2: group 2 MUST be implemented.
pub const SUPPORTED_GROUPS: &[u64] = &[16, 15, 14, 5, 2, 1];

/// A MODP group.
#[derive(Debug)]
pub struct Group {
    pub id: u64,
    pub prime: BigUint,
    /// Bits of private exponent (at least twice the group's security strength).
    pub exponent_bits: u64,
}

fn make(id: u64, hex: &[&str], exponent_bits: u64) -> Group {
    let prime = BigUint::parse_bytes(hex.concat().as_bytes(), 16).expect("valid group constant");
    Group {
        id,
        prime,
        exponent_bits,
    }
}

/// Looks up a supported group.
pub fn group(id: u64) -> Option<&'static Group> {
    static GROUPS: OnceLock<Vec<Group>> = OnceLock::new();
    let all = GROUPS.get_or_init(|| {
        vec![
            make(1, GROUP_1_HEX, 224),
            make(2, GROUP_2_HEX, 224),
            make(5, GROUP_5_HEX, 256),
            make(14, GROUP_14_HEX, 320),
            make(15, GROUP_15_HEX, 384),
            make(16, GROUP_16_HEX, 480),
        ]
    });
    all.iter().find(|g| g.id == id)
}

/// A private/public key pair in one group.
#[derive(Clone)]
pub struct KeyPair {
    pub group: u64,
    private: BigUint,
    /// Minimal big-endian public key.
    pub public: Vec<u8>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("group", &self.group)
            .field("public", &hex::encode(&self.public))
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key pair: a random exponent with its top bit set.
    pub fn generate(group_id: u64, rng: &mut dyn RngCore) -> Result<KeyPair, CryptoError> {
        let g = group(group_id).ok_or_else(|| unsupported(group_id))?;
        loop {
            let mut bytes = vec![0u8; g.exponent_bits.div_ceil(8) as usize];
            rng.fill_bytes(&mut bytes);
            let mut x = BigUint::from_bytes_be(&bytes);
            x.set_bit(g.exponent_bits - 1, true);
            for bit in g.exponent_bits..(bytes.len() as u64 * 8) {
                x.set_bit(bit, false);
            }
            let kp = Self::from_private(group_id, &x.to_bytes_be())?;
            // A key that our own peers would reject is regenerated (vanishingly rare).
            if validate_public_key(group_id, &kp.public).is_ok() {
                return Ok(kp);
            }
        }
    }

    /// The key pair for a given private exponent (big-endian).
    pub fn from_private(group_id: u64, private: &[u8]) -> Result<KeyPair, CryptoError> {
        let g = group(group_id).ok_or_else(|| unsupported(group_id))?;
        let x = BigUint::from_bytes_be(private);
        let y = BigUint::from(2u32).modpow(&x, &g.prime);
        Ok(KeyPair {
            group: group_id,
            private: x,
            public: y.to_bytes_be(),
        })
    }

    /// The shared secret with a far public key, minimal big-endian (fact sheet §9.4:
    /// every implementation uses the unpadded form as the HMAC key). The far key is
    /// validated first (RFC 7425 §4.6.2).
    pub fn shared_secret(&self, far_public: &[u8]) -> Result<Vec<u8>, CryptoError> {
        validate_public_key(self.group, far_public)?;
        let g = group(self.group).ok_or_else(|| unsupported(self.group))?;
        let y = BigUint::from_bytes_be(far_public);
        Ok(y.modpow(&self.private, &g.prime).to_bytes_be())
    }
}

fn unsupported(id: u64) -> CryptoError {
    CryptoError::Handshake(format!("unsupported Diffie-Hellman group {id}"))
}

/// RFC 7425 §4.6.2 (fact sheet §9.3): a peer public key y must satisfy
/// 2^24 <= y <= p - 2^24 and have at least 16 one bits and 16 zero bits
/// (leading zeros not counted). Leading zero bytes in the encoding are accepted
/// (fact sheet §9.2, X3: emit minimal, accept both).
pub fn validate_public_key(group_id: u64, public: &[u8]) -> Result<(), CryptoError> {
    let g = group(group_id).ok_or_else(|| unsupported(group_id))?;
    let first = public.iter().position(|&b| b != 0).unwrap_or(public.len());
    if public.len() - first > g.prime.bits().div_ceil(8) as usize {
        return Err(CryptoError::Handshake(format!(
            "group {group_id} public key is {} bytes long",
            public.len()
        )));
    }
    let y = BigUint::from_bytes_be(public);
    let bound = BigUint::one() << 24u32;
    if y < bound || y > &g.prime - &bound {
        return Err(CryptoError::Handshake(format!(
            "group {group_id} public key out of range [2^24, p - 2^24] (RFC 7425 §4.6.2)"
        )));
    }
    let ones = y.count_ones();
    let zeros = y.bits() - ones;
    if ones < 16 || zeros < 16 {
        return Err(CryptoError::Handshake(format!(
            "group {group_id} public key has {ones} one bits and {zeros} zero bits; at least 16 of each required (RFC 7425 §4.6.2)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    /// floor(pi * 2^bits) by Machin's formula, pi = 16 atan(1/5) - 4 atan(1/239).
    fn pi_scaled(bits: u64) -> BigUint {
        let guard = 64;
        let one = BigUint::one() << (bits + guard);
        let atan_inv = |x: u32| {
            let (mut pos, mut neg) = (BigUint::ZERO, BigUint::ZERO);
            let x2 = BigUint::from(x * x);
            let mut t = &one / x;
            let mut n = 1u32;
            let mut plus = true;
            while t != BigUint::ZERO {
                let term = &t / n;
                if plus {
                    pos += term;
                } else {
                    neg += term;
                }
                t /= &x2;
                n += 2;
                plus = !plus;
            }
            pos - neg
        };
        (atan_inv(5) * 16u32 - atan_inv(239) * 4u32) >> guard
    }

    // RFC 2409 §6.1-6.2 and RFC 3526: p = 2^N - 2^(N-64) - 1 + 2^64 * (floor(2^(N-130) pi) + c).
    #[test]
    fn primes_match_their_definition() {
        for (id, n, c) in [
            (1, 768u64, 149686u32),
            (2, 1024, 129093),
            (5, 1536, 741804),
            (14, 2048, 124476),
            (15, 3072, 1690314),
            (16, 4096, 240904),
        ] {
            let two = BigUint::from(2u32);
            let p = two.pow(n as u32) - two.pow((n - 64) as u32) - 1u32
                + (BigUint::one() << 64u32) * (pi_scaled(n - 130) + c);
            assert_eq!(group(id).unwrap().prime, p, "group {id}");
            assert_eq!(p.bits(), n);
        }
    }

    // The group-2 prime as printed in ../shared/specs/flash-profile.md §9.1.
    #[test]
    fn group2_matches_fact_sheet() {
        let printed = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
                       020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
                       4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
                       EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";
        assert_eq!(
            group(2).unwrap().prime,
            BigUint::parse_bytes(printed.as_bytes(), 16).unwrap()
        );
    }

    // KAT-D (fact sheet §13.6): X = 2^x, Y = 2^y, S = Y^x = X^y in group 2.
    #[test]
    fn kat_d_exchange() {
        let x = hex::decode("3d5a51af0d9a25fa7cd50861f6e15b0130a9d312b0c1d306a113741482256356")
            .unwrap();
        let y = hex::decode("6d1794bec78aefec8b6ff4f2b886fee3290bff50ed7d4bc990a518dcc7e1d383")
            .unwrap();
        let a = KeyPair::from_private(2, &x).unwrap();
        let b = KeyPair::from_private(2, &y).unwrap();
        assert!(hex::encode(&a.public).starts_with("860f770e91b9b511"));
        assert!(hex::encode(&b.public).starts_with("49fc5500b7906238"));
        let s1 = a.shared_secret(&b.public).unwrap();
        let s2 = b.shared_secret(&a.public).unwrap();
        assert_eq!(s1, s2);
        assert!(hex::encode(&s1).starts_with("e8673474faee5b7a"));
        assert!(hex::encode(&s1).ends_with("ab4eb90245"));
    }

    // KAT-D-LZ: a shared secret with a leading zero byte is 127 bytes long.
    #[test]
    fn kat_d_lz_minimal_secret() {
        let x = hex::decode("3d5a51af0d9a25fa7cd50861f6e15b0130a9d312b0c1d306a113741482256356")
            .unwrap();
        let y = hex::decode("08253c872a5c8d55c53fc33ff0dfbe06dfb4570d9ae8a54b798cda02431341af")
            .unwrap();
        let a = KeyPair::from_private(2, &x).unwrap();
        let b = KeyPair::from_private(2, &y).unwrap();
        assert!(hex::encode(&b.public).starts_with("a383b54cfb84c0b0"));
        let s = a.shared_secret(&b.public).unwrap();
        assert_eq!(s.len(), 127);
        assert!(hex::encode(&s).starts_with("9e46a9be7a665bc7"));
    }

    #[test]
    fn public_key_validation() {
        let p = &group(2).unwrap().prime;
        let reject = |y: BigUint| validate_public_key(2, &y.to_bytes_be()).is_err();
        assert!(reject(BigUint::from(2u32)));
        assert!(reject(BigUint::from((1u32 << 24) - 1)));
        assert!(reject(p - 1u32));
        assert!(reject(p.clone()));
        // 2^24 + 2^23...: in range but too few one bits
        assert!(reject((BigUint::one() << 1000u32) + 1u32));
        // all ones below 2^900: too few zero bits
        assert!(reject((BigUint::one() << 900u32) - 1u32));
        // leading zero bytes accepted
        let kp = KeyPair::generate(
            2,
            &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7),
        )
        .unwrap();
        let mut padded = vec![0, 0];
        padded.extend(&kp.public);
        assert!(validate_public_key(2, &padded).is_ok());
        assert!(validate_public_key(3, &kp.public).is_err());
    }

    #[test]
    fn every_group_agrees() {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        for &id in SUPPORTED_GROUPS {
            let a = KeyPair::generate(id, &mut rng).unwrap();
            let b = KeyPair::generate(id, &mut rng).unwrap();
            assert_eq!(
                a.shared_secret(&b.public).unwrap(),
                b.shared_secret(&a.public).unwrap(),
                "group {id}"
            );
        }
    }
}
