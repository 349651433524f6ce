//! The 16-bit Internet checksum as RTMFP stacks compute it.
//!
//! RFC 1071's ones'-complement sum of big-endian 16-bit words, except for an odd
//! trailing byte, which real stacks add as the LOW byte of a final word (RFC 1071
//! pads it on the right, making it the high byte). Every independent implementation
//! in ../shared/specs/flash-profile.md §3 does this, and the captures in vectors/
//! only verify with it (vectors/README.md fact 5).

/// Ones'-complement checksum of `bytes`, odd last byte added as a low byte.
///
/// RFC 1071 §2: the sum can be accumulated in wider words and in the machine's
/// byte order, then folded to 16 bits and byte-swapped (§2(B), byte order
/// independence; §2(C), parallel summation). 32-bit words are summed into 64-bit
/// accumulators (no carry is lost below 2^32 words), eight at a time so that the
/// compiler can use vector adds; what is left over is added as big-endian 16-bit
/// words, and the odd last byte as a low byte.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut blocks = bytes.chunks_exact(32);
    let mut acc = [0u64; 8];
    for block in &mut blocks {
        for (a, w) in acc.iter_mut().zip(block.chunks_exact(4)) {
            *a += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    let mut wide: u64 = acc.iter().sum();
    let mut words = blocks.remainder().chunks_exact(4);
    for w in &mut words {
        wide += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    // Machine-order sum -> big-endian 16-bit sum (RFC 1071 §2(B)).
    let mut sum = u64::from(u16::from_be(fold(wide)));
    let mut pairs = words.remainder().chunks_exact(2);
    for w in &mut pairs {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = pairs.remainder() {
        sum += u64::from(*last);
    }
    !fold(sum)
}

/// Folds a sum of 16-bit words to 16 bits with end-around carries.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    sum as u16
}

/// The textbook RFC 1071 variant (odd byte as the HIGH byte), kept only so that the
/// conformance suite can show a peer that uses it and so tests can tell them apart.
pub fn checksum_rfc1071(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for w in bytes.chunks(2) {
        let hi = u64::from(w[0]) << 8;
        sum += hi | w.get(1).map_or(0, |&b| u64::from(b));
    }
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    // KAT-A, ../shared/specs/flash-profile.md §13.1.
    #[test]
    fn kat_a() {
        for (input, rtmfp, rfc1071) in [
            ("0102030405", 0xfbf4, 0xf6f9),
            ("000102030405060708090a0b0c0d0e0f", 0xc7bf, 0xc7bf),
            ("0b000030000702010a41424344", 0xa5ff, 0x6243),
            ("ffffffffffffffffffffffffffff", 0x0000, 0x0000),
            ("", 0xffff, 0xffff),
            ("09020301000470696e67ffffff", 0x1429, 0x1627),
        ] {
            let b = hex::decode(input).unwrap();
            assert_eq!(checksum(&b), rtmfp, "rtmfp rule on {input}");
            assert_eq!(checksum_rfc1071(&b), rfc1071, "RFC 1071 rule on {input}");
        }
        // The rtmfp-cpp unit test: in_cksum(01 02 03 04 05) == ~(0x0102+0x0304+0x05)
        assert_eq!(checksum(&[1, 2, 3, 4, 5]), !(0x0102u16 + 0x0304 + 0x05));
    }

    /// RFC 1071's definition read literally: big-endian 16-bit words one at a
    /// time, odd last byte as the low byte (the model the fast sum must equal).
    fn by_words(bytes: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        let mut words = bytes.chunks_exact(2);
        for w in &mut words {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            sum += u64::from(*last);
        }
        while sum > 0xffff {
            sum = (sum >> 16) + (sum & 0xffff);
        }
        !(sum as u16)
    }

    #[test]
    fn wide_sum_equals_word_by_word_sum() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        for len in 0..300 {
            for fill in [0x00, 0xff, 0x01, 0x80] {
                let b = vec![fill; len];
                assert_eq!(checksum(&b), by_words(&b), "{len} bytes of {fill:#x}");
            }
            for _ in 0..8 {
                let b: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
                assert_eq!(checksum(&b), by_words(&b), "{}", hex::encode(&b));
            }
        }
        // Unaligned starts (the Flash checksum covers what follows the SSEQ VLU).
        let b: Vec<u8> = (0..1500).map(|_| rng.r#gen()).collect();
        for start in 0..16 {
            assert_eq!(checksum(&b[start..]), by_words(&b[start..]));
        }
    }

    #[test]
    fn large_input_folds_carries() {
        let b = vec![0xff; 100_001];
        // 50000 words of 0xffff fold to 0xffff, plus 0xff: 0xffff + 0xff -> 0x100fe -> 0xff
        assert_eq!(checksum(&b), !0x00ffu16);
    }
}
