//! The Flash communication layer's byte formats used by this implementation
//! (RFC 7425 §5; fact sheet §10): "TC" flow metadata and TC message headers,
//! with the two User Control events the profile adds.

use crate::wire::{Reader, WireError, vlu};

/// RFC 7425 §5.1 (fact sheet §10.1): flow metadata `'T' 'C' ‖ flags ‖ VLU streamID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcMetadata {
    pub stream_id: u64,
    /// Receive intent: deliver in network arrival order (flag 0x01) rather than
    /// in original sequence order.
    pub network_order: bool,
}

/// Flag 0x04: stream ID present (required).
pub const STREAM_ID_PRESENT: u8 = 0x04;
/// Flag 0x01: receive intent "network order".
pub const RECEIVE_NETWORK_ORDER: u8 = 0x01;

impl TcMetadata {
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = vec![b'T', b'C', STREAM_ID_PRESENT | u8::from(self.network_order)];
        vlu::encode(self.stream_id, &mut v);
        v
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        if r.array::<2>("TC metadata signature")? != *b"TC" {
            return Err(WireError::Invalid {
                what: "TC metadata",
                why: "does not start with 'TC'",
            });
        }
        let flags = r.u8("TC metadata flags")?;
        if flags & STREAM_ID_PRESENT == 0 {
            return Err(WireError::Invalid {
                what: "TC metadata",
                why: "stream ID present flag (0x04) not set",
            });
        }
        let stream_id = r.vlu("TC metadata streamID")?;
        r.finish("TC metadata")?;
        Ok(TcMetadata {
            stream_id,
            network_order: flags & RECEIVE_NETWORK_ORDER != 0,
        })
    }
}

/// RFC 7425 §5.1.1: a TC message is `type(1) ‖ timestamp(4, BE, ms) ‖ payload`.
pub fn message(kind: u8, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + payload.len());
    v.push(kind);
    v.extend_from_slice(&timestamp.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// RTMP message type 4, User Control.
pub const USER_CONTROL: u8 = 4;
/// User Control event 34: Flow Synchronization (RFC 7425 §5.2).
pub const EVENT_FLOW_SYNC: u16 = 0x22;
/// User Control event 41: Set Keepalive Timers (RFC 7425 §5.3.4).
pub const EVENT_SET_KEEPALIVE_TIMERS: u16 = 0x29;

fn user_control(event: u16, a: u32, b: u32) -> Vec<u8> {
    let mut p = event.to_be_bytes().to_vec();
    p.extend_from_slice(&a.to_be_bytes());
    p.extend_from_slice(&b.to_be_bytes());
    message(USER_CONTROL, 0, &p)
}

/// RFC 7425 §5.2: Flow Synchronization (syncID, count).
pub fn flow_sync(sync_id: u32, count: u32) -> Vec<u8> {
    user_control(EVENT_FLOW_SYNC, sync_id, count)
}

/// RFC 7425 §5.3.4: Set Keepalive Timers (server period ms, peer period ms).
pub fn set_keepalive_timers(server_ms: u32, peer_ms: u32) -> Vec<u8> {
    user_control(EVENT_SET_KEEPALIVE_TIMERS, server_ms, peer_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Opt, option};

    // KAT-T, fact sheet §13.7.
    #[test]
    fn kat_t() {
        let md = |s, n| {
            TcMetadata {
                stream_id: s,
                network_order: n,
            }
            .to_bytes()
        };
        assert_eq!(md(0, false), hex::decode("54430400").unwrap());
        assert_eq!(md(128, false), hex::decode("5443048100").unwrap());
        assert_eq!(md(1, true), hex::decode("54430501").unwrap());
        assert_eq!(md(2_000_001, false), hex::decode("544304fa8901").unwrap());
        assert_eq!(
            TcMetadata::parse(&md(2_000_001, false)).unwrap().stream_id,
            2_000_001
        );
        assert!(TcMetadata::parse(b"TC\x00\x00").is_err());

        let mut list = Vec::new();
        option::emit_list(&[Opt::new(0x00, md(0, false))], &mut list);
        assert_eq!(
            list,
            hex::decode("0500544304" /* metadata */)
                .unwrap()
                .into_iter()
                .chain([0x00, 0x00])
                .collect::<Vec<_>>()
        );
        let mut list2 = Vec::new();
        option::emit_list(
            &[Opt::new(0x00, md(0, false)), Opt::new(0x0a, vec![0x02])],
            &mut list2,
        );
        assert_eq!(
            list2,
            hex::decode("05005443040002 0a0200".replace(' ', "")).unwrap()
        );

        assert_eq!(
            flow_sync(0, 3),
            hex::decode("040000000000220000000000000003").unwrap()
        );
        assert_eq!(
            set_keepalive_timers(15000, 10000),
            hex::decode("04000000000029".to_owned() + "00003a9800002710").unwrap()
        );
    }
}
