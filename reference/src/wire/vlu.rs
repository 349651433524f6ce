//! RFC 7016 §2.1.2: Variable Length Unsigned Integer.
//!
//! Seven bits per byte, most significant group first, high bit set on every byte
//! but the last. Values up to 2^64 - 1 are handled (the section's SHOULD); larger
//! encodings are rejected. Non-minimal encodings (leading `0x80` bytes) are legal
//! per the RFC and accepted; [`encode`] always emits the minimal form.

use super::error::{Result, WireError};

/// The longest minimal encoding of a u64: ceil(64 / 7) = 10 bytes.
pub const MAX_LEN: usize = 10;

/// Decodes a VLU from the start of `buf`; returns the value and the bytes used.
pub fn decode(buf: &[u8], what: &'static str) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return Err(WireError::VluOverflow { what });
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(WireError::Truncated {
        what,
        need: 1,
        have: 0,
    })
}

/// Number of bytes of the minimal encoding of `v`.
pub fn encoded_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends the minimal encoding of `v`.
pub fn encode(v: u64, out: &mut Vec<u8>) {
    let n = encoded_len(v);
    for i in (0..n).rev() {
        let digit = ((v >> (7 * i)) & 0x7f) as u8;
        out.push(if i == 0 { digit } else { digit | 0x80 });
    }
}

/// The minimal encoding of `v` as a new vector.
pub fn to_vec(v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(v));
    encode(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples from ../shared/specs/flash-profile.md §1 (worked by hand from §2.1.2).
    #[test]
    fn known_encodings() {
        for (v, enc) in [
            (0u64, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x81, 0x00]),
            (130, &[0x81, 0x02]),
            (16383, &[0xff, 0x7f]),
            (16384, &[0x81, 0x80, 0x00]),
            (2_000_001, &[0xfa, 0x89, 0x01]),
        ] {
            assert_eq!(to_vec(v), enc, "encode {v}");
            assert_eq!(decode(enc, "t").unwrap(), (v, enc.len()), "decode {v}");
        }
    }

    #[test]
    fn u64_max_round_trips_and_overflow_is_rejected() {
        let enc = to_vec(u64::MAX);
        assert_eq!(enc.len(), MAX_LEN);
        assert_eq!(enc[0], 0x81);
        assert_eq!(decode(&enc, "t").unwrap(), (u64::MAX, MAX_LEN));
        // 2^64 needs one more bit: 0x82 followed by nine 0x80s and a 0x00.
        let mut over = vec![0x82];
        over.extend([0x80; 8]);
        over.push(0x00);
        assert_eq!(
            decode(&over, "t"),
            Err(WireError::VluOverflow { what: "t" })
        );
    }

    #[test]
    fn truncated_and_non_minimal() {
        assert!(matches!(
            decode(&[0x81], "t"),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(decode(&[], "t"), Err(WireError::Truncated { .. })));
        // Leading 0x80 digits are zero digits: legal, same value.
        assert_eq!(decode(&[0x80, 0x80, 0x05], "t").unwrap(), (5, 3));
        // Very long runs of zero digits never overflow.
        let mut long = vec![0x80; 1000];
        long.push(1);
        assert_eq!(decode(&long, "t").unwrap(), (1, 1001));
    }
}
