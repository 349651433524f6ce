//! RFC 7016 §2.2.2 Multiplex: the scrambled session ID.

use super::error::{Result, WireError};

/// Session ID 0 is the startup pseudo-session (RFC 7016 §2.2.2, §3.3).
pub const STARTUP_SESSION_ID: u32 = 0;

/// XOR of the first two 32-bit words of the encrypted packet, zero-padded to 8 bytes.
fn mask(encrypted: &[u8]) -> u32 {
    let mut first = [0u8; 8];
    let n = encrypted.len().min(8);
    first[..n].copy_from_slice(&encrypted[..n]);
    u32::from_be_bytes([first[0], first[1], first[2], first[3]])
        ^ u32::from_be_bytes([first[4], first[5], first[6], first[7]])
}

/// `SSID = sessionID XOR first32[0] XOR first32[1]`; the same operation unscrambles.
pub fn scramble(session_id: u32, encrypted: &[u8]) -> u32 {
    session_id ^ mask(encrypted)
}

/// Splits a datagram into its session ID (unscrambled) and encrypted packet.
pub fn demux(datagram: &[u8]) -> Result<(u32, &[u8])> {
    if datagram.len() < 4 {
        return Err(WireError::Truncated {
            what: "multiplex scrambledSessionID",
            need: 4,
            have: datagram.len(),
        });
    }
    let (ssid, encrypted) = datagram.split_at(4);
    let ssid = u32::from_be_bytes([ssid[0], ssid[1], ssid[2], ssid[3]]);
    Ok((scramble(ssid, encrypted), encrypted))
}

/// Builds a datagram: scrambled session ID, then the encrypted packet.
pub fn mux(session_id: u32, encrypted: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&scramble(session_id, encrypted).to_be_bytes());
    out.extend_from_slice(encrypted);
}

/// Fills in the scrambled session ID of a datagram whose first four bytes were
/// left for it, the encrypted packet following them: the bytes [`mux`] builds,
/// without copying the packet.
pub fn mux_in_place(session_id: u32, datagram: &mut [u8]) {
    let ssid = scramble(session_id, &datagram[4..]);
    datagram[..4].copy_from_slice(&ssid.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    // KAT-R RIKeying datagram (flash-profile.md §13.2): unscrambles to 0x02000000.
    #[test]
    fn kat_r_rikeying_session_id() {
        let d = hex::decode("7dfed0ffa3894cd3dc779c2c80c96bff").unwrap();
        assert_eq!(demux(&d).unwrap().0, 0x0200_0000);
    }

    #[test]
    fn mux_in_place_is_mux() {
        for enc in [&[][..], &[1, 2, 3], &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]] {
            let mut want = Vec::new();
            mux(0x1234_5678, enc, &mut want);
            let mut got = [&[0u8; 4][..], enc].concat();
            mux_in_place(0x1234_5678, &mut got);
            assert_eq!(got, want);
            assert_eq!(demux(&got).unwrap(), (0x1234_5678, enc));
        }
    }

    #[test]
    fn short_packets_are_zero_padded() {
        // encrypted packet `01 02 03`: mask = 0x01020300 ^ 0
        assert_eq!(
            demux(&[0x01, 0x02, 0x03, 0x04, 0x01, 0x02, 0x03])
                .unwrap()
                .0,
            0x0000_0004
        );
        assert!(demux(&[1, 2, 3]).is_err());
        let mut out = Vec::new();
        mux(0xdead_beef, &[9, 9], &mut out);
        assert_eq!(demux(&out).unwrap(), (0xdead_beef, &[9u8, 9][..]));
    }
}
