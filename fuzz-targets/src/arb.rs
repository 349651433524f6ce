//! `arbitrary`-built wire values for the round-trip targets: every value built
//! here is valid (RFC 7016 §2), so `parse(emit(x))` must give `x` back exactly.
//!
//! The builders live here rather than as derives on `rtmfp::wire` types so the
//! reference crate carries no fuzzing dependency.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::{Result, Unstructured};
use rtmfp::wire::chunk::types;
use rtmfp::wire::{
    AckRange, Address, BitmapAck, BufferProbe, Chunk, FIHello, FlowExceptionReport, Fragmentation,
    Header, IHello, IIKeying, Mode, NextUserData, Opt, Origin, Packet, PacketFragment, Ping,
    RHello, RHelloCookieChange, RIKeying, RangeAck, Redirect, UserData, UserDataFlags,
};

/// Short byte strings: fuzz inputs are small, and `emit` must stay under 64 KiB.
fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    Ok(u.bytes(n.min(u.len()))?.to_vec())
}

fn nonempty(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let mut v = bytes(u, max)?;
    if v.is_empty() {
        v.push(u.arbitrary()?);
    }
    Ok(v)
}

pub fn address(u: &mut Unstructured<'_>) -> Result<Address> {
    let ip = if u.arbitrary()? {
        IpAddr::V6(Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?))
    } else {
        IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?))
    };
    let origin = Origin::from_bits(u.arbitrary()?);
    Ok(Address {
        addr: SocketAddr::new(ip, u.arbitrary()?),
        origin,
        reserved: u.int_in_range(0..=0x1f)?,
    })
}

pub fn options(u: &mut Unstructured<'_>) -> Result<Vec<Opt>> {
    let n = u.int_in_range(0..=4)?;
    (0..n)
        .map(|_| Ok(Opt::new(u.arbitrary()?, bytes(u, 24)?)))
        .collect()
}

fn flags(u: &mut Unstructured<'_>) -> Result<UserDataFlags> {
    Ok(UserDataFlags {
        fragment_control: Fragmentation::from_bits(u.int_in_range(0..=3)?),
        abandon: u.arbitrary()?,
        fin: u.arbitrary()?,
        reserved: u.arbitrary::<u8>()? & 0x4c,
    })
}

fn opt_options(u: &mut Unstructured<'_>) -> Result<Option<Vec<Opt>>> {
    Ok(if u.arbitrary()? {
        Some(options(u)?)
    } else {
        None
    })
}

/// A chunk type no parser claims (kept raw as `Chunk::Unknown`).
fn unknown_type(u: &mut Unstructured<'_>) -> Result<u8> {
    let t: u8 = u.arbitrary()?;
    Ok(if known_type(t) { 0x00 } else { t })
}

pub fn known_type(t: u8) -> bool {
    use types::*;
    matches!(
        t,
        PACKET_FRAGMENT
            | IHELLO
            | FIHELLO
            | RHELLO
            | REDIRECT
            | RHELLO_COOKIE_CHANGE
            | IIKEYING
            | RIKEYING
            | PING
            | PING_REPLY
            | USER_DATA
            | NEXT_USER_DATA
            | BITMAP_ACK
            | RANGE_ACK
            | BUFFER_PROBE
            | FLOW_EXCEPTION_REPORT
            | CLOSE
            | CLOSE_ACK
    )
}

/// A valid chunk of any type (never `Malformed`).
pub fn chunk(u: &mut Unstructured<'_>) -> Result<Chunk> {
    Ok(match u.int_in_range(0..=18u8)? {
        0 => Chunk::PacketFragment(PacketFragment {
            more_fragments: u.arbitrary()?,
            reserved: u.arbitrary::<u8>()? & 0x7f,
            packet_id: u.arbitrary()?,
            fragment_num: u.arbitrary()?,
            // §2.3.1: a packetFragment MUST NOT be empty.
            packet_fragment: nonempty(u, 64)?,
        }),
        1 => Chunk::IHello(IHello {
            epd: bytes(u, 40)?,
            tag: bytes(u, 32)?,
        }),
        2 => Chunk::FIHello(FIHello {
            epd: bytes(u, 40)?,
            reply_address: address(u)?,
            tag: bytes(u, 32)?,
        }),
        3 => Chunk::RHello(RHello {
            tag_echo: bytes(u, 32)?,
            cookie: bytes(u, 64)?,
            responder_certificate: bytes(u, 64)?,
        }),
        4 => Chunk::Redirect(Redirect {
            tag_echo: bytes(u, 32)?,
            redirect_destinations: {
                let n = u.int_in_range(0..=4)?;
                (0..n).map(|_| address(u)).collect::<Result<_>>()?
            },
        }),
        5 => Chunk::RHelloCookieChange(RHelloCookieChange {
            old_cookie: bytes(u, 64)?,
            new_cookie: bytes(u, 64)?,
        }),
        6 => Chunk::IIKeying(IIKeying {
            initiator_session_id: u.arbitrary()?,
            cookie_echo: bytes(u, 64)?,
            initiator_certificate: bytes(u, 64)?,
            skic: bytes(u, 64)?,
            signature: bytes(u, 8)?,
        }),
        7 => Chunk::RIKeying(RIKeying {
            responder_session_id: u.arbitrary()?,
            skrc: bytes(u, 64)?,
            signature: bytes(u, 8)?,
        }),
        8 => Chunk::Ping(Ping {
            message: bytes(u, 32)?,
        }),
        9 => Chunk::PingReply(Ping {
            message: bytes(u, 32)?,
        }),
        10 => Chunk::UserData(user_data(u)?),
        11 => Chunk::NextUserData(NextUserData {
            flags: flags(u)?,
            options: opt_options(u)?,
            user_data: bytes(u, 64)?,
        }),
        12 => Chunk::BitmapAck(BitmapAck {
            flow_id: u.arbitrary()?,
            buffer_blocks_available: u.arbitrary()?,
            cumulative_ack: u.arbitrary()?,
            bitmap: bytes(u, 16)?,
        }),
        13 => Chunk::RangeAck(RangeAck {
            flow_id: u.arbitrary()?,
            buffer_blocks_available: u.arbitrary()?,
            cumulative_ack: u.arbitrary()?,
            ranges: {
                let n = u.int_in_range(0..=6)?;
                (0..n)
                    .map(|_| {
                        Ok(AckRange {
                            holes_minus_one: u.arbitrary()?,
                            received_minus_one: u.arbitrary()?,
                        })
                    })
                    .collect::<Result<_>>()?
            },
            // §2.3.14 NOTE: a truncated last range: an incomplete VLU.
            truncated: {
                let n = u.int_in_range(0..=3)?;
                (0..n)
                    .map(|_| Ok(u.arbitrary::<u8>()? | 0x80))
                    .collect::<Result<_>>()?
            },
        }),
        14 => Chunk::BufferProbe(BufferProbe {
            flow_id: u.arbitrary()?,
        }),
        15 => Chunk::FlowExceptionReport(FlowExceptionReport {
            flow_id: u.arbitrary()?,
            exception: u.arbitrary()?,
        }),
        16 => Chunk::Close,
        17 => Chunk::CloseAck,
        _ => Chunk::Unknown {
            chunk_type: unknown_type(u)?,
            payload: bytes(u, 32)?,
        },
    })
}

fn user_data(u: &mut Unstructured<'_>) -> Result<UserData> {
    let flags = flags(u)?;
    // §2.3.11: sequenceNumber > 0; fsnOffset <= sequenceNumber; fsnOffset > 0
    // unless the abandon flag is set.
    let sequence_number = u.int_in_range(1..=u64::MAX)?;
    let low = u64::from(!flags.abandon);
    let fsn_offset = u.int_in_range(low..=sequence_number)?;
    Ok(UserData {
        flags,
        flow_id: u.arbitrary()?,
        sequence_number,
        fsn_offset,
        options: opt_options(u)?,
        user_data: bytes(u, 64)?,
    })
}

pub fn header(u: &mut Unstructured<'_>) -> Result<Header> {
    let mode = match u.int_in_range(1..=3u8)? {
        1 => Mode::Initiator,
        2 => Mode::Responder,
        _ => Mode::Startup,
    };
    Ok(Header {
        time_critical: u.arbitrary()?,
        time_critical_reverse: u.arbitrary()?,
        reserved: u.arbitrary::<u8>()? & 0x30,
        mode,
        timestamp: u.arbitrary()?,
        timestamp_echo: u.arbitrary()?,
    })
}

/// A valid packet: header, chunks, and padding that cannot be read as a chunk
/// (fewer than three bytes, or 0xff bytes whose would-be length does not fit).
pub fn packet(u: &mut Unstructured<'_>) -> Result<Packet> {
    let header = header(u)?;
    let n = u.int_in_range(0..=6)?;
    let chunks = (0..n).map(|_| chunk(u)).collect::<Result<_>>()?;
    let padding = if u.arbitrary()? {
        let n = u.int_in_range(0..=2)?;
        u.bytes(n.min(u.len()))?.to_vec()
    } else {
        vec![0xff; u.int_in_range(0..=15)?]
    };
    Ok(Packet {
        header,
        chunks,
        padding,
    })
}
