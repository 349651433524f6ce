//! RFC 7016 §3.5.1.1.2 stateless cookies.
//!
//! The responder keeps no state for an IHello: the cookie it puts in the RHello
//! authenticates itself when echoed in an IIKeying. Layout (64 bytes, the length
//! every Flash-era peer expects, fact sheet X2):
//!
//! ```text
//! t (4, seconds, BE) ‖ HMAC(secret, "cookie/time" ‖ t)[..28] ‖ HMAC(secret, "cookie/addr" ‖ t ‖ address)[..32]
//! ```
//!
//! The first half shows the cookie is ours and how old it is; the second half ties
//! it to the initiator's address, so a cookie used from another address is
//! recognisable as ours-but-moved (§3.5.1.2 Cookie Change).

use std::net::SocketAddr;
use std::time::Duration;

use crate::crypto::flash::keying::hmac_sha256;
use crate::time::Instant;

pub const COOKIE_LEN: usize = 64;

/// RFC 7016 §3.5.1.1.2: cookies SHOULD be valid for a limited time, not less than
/// 95 seconds (the recommended ultimate open timeout).
pub const COOKIE_LIFETIME: Duration = Duration::from_secs(120);

/// The outcome of checking an echoed cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Ours, fresh, made for this address.
    Valid,
    /// Ours and fresh, but made for another address: send RHello Cookie Change.
    WrongAddress,
    /// Not ours, malformed, or expired: ignore the IIKeying.
    Invalid,
}

/// Makes and checks cookies with a secret only this endpoint knows.
#[derive(Clone)]
pub struct CookieJar {
    secret: [u8; 32],
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieJar")
    }
}

fn addr_bytes(a: SocketAddr) -> Vec<u8> {
    let mut v = match a.ip() {
        std::net::IpAddr::V4(ip) => ip.to_ipv6_mapped().octets().to_vec(),
        std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    v.extend_from_slice(&a.port().to_be_bytes());
    v
}

impl CookieJar {
    pub fn new(secret: [u8; 32]) -> Self {
        CookieJar { secret }
    }

    fn parts(&self, t: [u8; 4], addr: SocketAddr) -> ([u8; 28], [u8; 32]) {
        let time_part = hmac_sha256(&self.secret, &[&b"cookie/time"[..], &t].concat());
        let addr_part = hmac_sha256(
            &self.secret,
            &[&b"cookie/addr"[..], &t, &addr_bytes(addr)].concat(),
        );
        (time_part[..28].try_into().expect("28 of 32"), addr_part)
    }

    /// A cookie for an IHello received from `addr` at `now`.
    pub fn make(&self, now: Instant, addr: SocketAddr) -> Vec<u8> {
        let t = ((now.as_micros() / 1_000_000) as u32).to_be_bytes();
        let (a, b) = self.parts(t, addr);
        [&t[..], &a, &b].concat()
    }

    /// Checks a cookie echoed in an IIKeying received from `addr` at `now`.
    pub fn check(&self, now: Instant, cookie: &[u8], addr: SocketAddr) -> CookieCheck {
        if cookie.len() != COOKIE_LEN {
            return CookieCheck::Invalid;
        }
        let t: [u8; 4] = cookie[..4].try_into().expect("4 bytes");
        let made = u64::from(u32::from_be_bytes(t)) * 1_000_000;
        let age = now.as_micros().checked_sub(made);
        // Made in the future (more than the one-second truncation) or too old.
        if age.is_none_or(|a| a > COOKIE_LIFETIME.as_micros() as u64 + 1_000_000) {
            return CookieCheck::Invalid;
        }
        let (a, b) = self.parts(t, addr);
        if !ct_eq(&cookie[4..32], &a) {
            return CookieCheck::Invalid;
        }
        if ct_eq(&cookie[32..], &b) {
            CookieCheck::Valid
        } else {
            CookieCheck::WrongAddress
        }
    }
}

/// Constant-time comparison of equal-length byte strings.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_5_1_1_2_cookie_authentic_for_its_address_and_lifetime() {
        let jar = CookieJar::new([7; 32]);
        let a: SocketAddr = "192.0.2.100:50000".parse().unwrap();
        let b: SocketAddr = "198.51.100.101:50001".parse().unwrap();
        let t0 = Instant::from_millis(1_000_500);
        let c = jar.make(t0, a);
        assert_eq!(c.len(), 64);
        assert_eq!(jar.check(t0, &c, a), CookieCheck::Valid);
        // §3.5.1.2: recognisably ours from another address
        assert_eq!(jar.check(t0, &c, b), CookieCheck::WrongAddress);
        // Still valid at 95 s (the SHOULD NOT be less than), invalid well after.
        assert_eq!(
            jar.check(t0 + Duration::from_secs(95), &c, a),
            CookieCheck::Valid
        );
        assert_eq!(
            jar.check(t0 + Duration::from_secs(200), &c, a),
            CookieCheck::Invalid
        );
        // Another endpoint's secret, a flipped bit, a wrong length: invalid.
        assert_eq!(
            CookieJar::new([8; 32]).check(t0, &c, a),
            CookieCheck::Invalid
        );
        let mut bad = c.clone();
        bad[10] ^= 1;
        assert_eq!(jar.check(t0, &bad, a), CookieCheck::Invalid);
        assert_eq!(jar.check(t0, &c[..63], a), CookieCheck::Invalid);
        // A cookie claiming to be from the future is invalid.
        assert_eq!(
            jar.check(Instant::from_millis(10_000), &c, a),
            CookieCheck::Invalid
        );
    }
}
