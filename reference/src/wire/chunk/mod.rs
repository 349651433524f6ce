//! RFC 7016 §2.3: chunks. One struct per chunk type, each with `parse` (from the
//! chunk payload) and `emit` (of the payload); [`Chunk`] ties them together with the
//! `chunkType ‖ chunkLength ‖ chunkPayload` framing.
//!
//! Parsing validates syntax and the field rules the RFC states on the chunk itself
//! (e.g. §2.3.11: fsnOffset not greater than the sequence number); emitting does
//! not validate, so a test tool can build deliberately invalid chunks.

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::error::{Result, WireError};
use super::option::{self, Opt};
use super::reader::Reader;
use super::vlu;

/// RFC 7016 §2.3 chunk type codes.
pub mod types {
    pub const PACKET_FRAGMENT: u8 = 0x7f;
    pub const IHELLO: u8 = 0x30;
    pub const FIHELLO: u8 = 0x0f;
    pub const RHELLO: u8 = 0x70;
    pub const REDIRECT: u8 = 0x71;
    pub const RHELLO_COOKIE_CHANGE: u8 = 0x79;
    pub const IIKEYING: u8 = 0x38;
    pub const RIKEYING: u8 = 0x78;
    pub const PING: u8 = 0x01;
    pub const PING_REPLY: u8 = 0x41;
    pub const USER_DATA: u8 = 0x10;
    pub const NEXT_USER_DATA: u8 = 0x11;
    pub const BITMAP_ACK: u8 = 0x50;
    pub const RANGE_ACK: u8 = 0x51;
    pub const BUFFER_PROBE: u8 = 0x18;
    pub const FLOW_EXCEPTION_REPORT: u8 = 0x5e;
    pub const CLOSE: u8 = 0x0c;
    pub const CLOSE_ACK: u8 = 0x4c;
    /// Ignore/Padding.
    pub const PADDING_00: u8 = 0x00;
    /// Ignore/Padding.
    pub const PADDING_FF: u8 = 0xff;
    /// Not in RFC 7016: the experimental "ECN Report" chunk real stacks send
    /// (rtmfp-cpp; ../shared/vectors/README.md fact 20). Receivers skip it as unknown.
    pub const EXPERIMENTAL_ECN_REPORT: u8 = 0xec;
}

/// The name of a chunk type, as the RFC titles it.
pub fn type_name(t: u8) -> &'static str {
    match t {
        types::PACKET_FRAGMENT => "Packet Fragment",
        types::IHELLO => "IHello",
        types::FIHELLO => "FIHello",
        types::RHELLO => "RHello",
        types::REDIRECT => "Redirect",
        types::RHELLO_COOKIE_CHANGE => "RHello Cookie Change",
        types::IIKEYING => "IIKeying",
        types::RIKEYING => "RIKeying",
        types::PING => "Ping",
        types::PING_REPLY => "Ping Reply",
        types::USER_DATA => "User Data",
        types::NEXT_USER_DATA => "Next User Data",
        types::BITMAP_ACK => "Bitmap Ack",
        types::RANGE_ACK => "Range Ack",
        types::BUFFER_PROBE => "Buffer Probe",
        types::FLOW_EXCEPTION_REPORT => "Flow Exception Report",
        types::CLOSE => "Close",
        types::CLOSE_ACK => "Close Ack",
        types::PADDING_00 | types::PADDING_FF => "Ignore/Padding",
        types::EXPERIMENTAL_ECN_REPORT => "ECN Report (experimental, unknown to RFC 7016)",
        _ => "unknown",
    }
}

/// RFC 7016 §2.2.4: which packet modes a chunk type is allowed in.
pub fn allowed_in_startup(t: u8) -> bool {
    matches!(
        t,
        types::IHELLO
            | types::RHELLO
            | types::REDIRECT
            | types::RHELLO_COOKIE_CHANGE
            | types::IIKEYING
            | types::RIKEYING
            | types::PACKET_FRAGMENT
            | types::PADDING_00
            | types::PADDING_FF
    )
}

/// RFC 7016 §2.2.4: chunks that are not for session startup go in modes 1 and 2.
pub fn allowed_in_session(t: u8) -> bool {
    !matches!(
        t,
        types::IHELLO
            | types::RHELLO
            | types::REDIRECT
            | types::RHELLO_COOKIE_CHANGE
            | types::IIKEYING
            | types::RIKEYING
    )
}

pub use ack::*;
pub use control::*;
pub use startup::*;
pub use user_data::*;

mod ack;
mod control;
mod startup;
mod user_data;

/// A chunk whose payload failed to parse. RFC 7016 §2.3: such a chunk SHALL be
/// ignored as though it were not present; it is kept here so that it can be shown
/// and re-emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedChunk {
    pub chunk_type: u8,
    #[serde(with = "crate::wire::hexser")]
    pub payload: Vec<u8>,
    pub error: WireError,
}

/// One chunk of an RTMFP packet (RFC 7016 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "chunk", rename_all = "snake_case", deny_unknown_fields)]
pub enum Chunk {
    PacketFragment(PacketFragment),
    #[serde(rename = "ihello")]
    IHello(IHello),
    #[serde(rename = "fihello")]
    FIHello(FIHello),
    #[serde(rename = "rhello")]
    RHello(RHello),
    Redirect(Redirect),
    #[serde(rename = "rhello_cookie_change")]
    RHelloCookieChange(RHelloCookieChange),
    #[serde(rename = "iikeying")]
    IIKeying(IIKeying),
    #[serde(rename = "rikeying")]
    RIKeying(RIKeying),
    Ping(Ping),
    PingReply(Ping),
    UserData(UserData),
    NextUserData(NextUserData),
    BitmapAck(BitmapAck),
    RangeAck(RangeAck),
    BufferProbe(BufferProbe),
    FlowExceptionReport(FlowExceptionReport),
    Close,
    CloseAck,
    /// Ignore/Padding (0x00, 0xff), experimental and unknown chunk types: kept raw.
    /// RFC 7016 §2.3: a receiver MUST ignore an unrecognized chunk type.
    Unknown {
        chunk_type: u8,
        #[serde(with = "crate::wire::hexser", default)]
        payload: Vec<u8>,
    },
    #[serde(skip_deserializing)]
    Malformed(MalformedChunk),
}

/// Maximum chunk payload: `chunkLength` is a uint16_t.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

impl Chunk {
    /// Parses one chunk payload of type `t`. A syntax error becomes
    /// [`Chunk::Malformed`], never an `Err`: RFC 7016 §2.3 says to skip such a chunk.
    pub fn parse(t: u8, payload: &[u8]) -> Chunk {
        match Self::try_parse(t, payload) {
            Ok(c) => c,
            Err(error) => Chunk::Malformed(MalformedChunk {
                chunk_type: t,
                payload: payload.to_vec(),
                error,
            }),
        }
    }

    /// Parses one chunk payload of type `t`, reporting a syntax error as `Err`.
    pub fn try_parse(t: u8, p: &[u8]) -> Result<Chunk> {
        use types::*;
        fn whole<T>(
            p: &[u8],
            what: &'static str,
            f: impl FnOnce(&mut Reader) -> Result<T>,
        ) -> Result<T> {
            let mut r = Reader::new(p);
            let v = f(&mut r)?;
            r.finish(what)?;
            Ok(v)
        }
        Ok(match t {
            PACKET_FRAGMENT => Chunk::PacketFragment(PacketFragment::parse(p)?),
            IHELLO => Chunk::IHello(IHello::parse(p)?),
            FIHELLO => Chunk::FIHello(FIHello::parse(p)?),
            RHELLO => Chunk::RHello(RHello::parse(p)?),
            REDIRECT => Chunk::Redirect(Redirect::parse(p)?),
            RHELLO_COOKIE_CHANGE => Chunk::RHelloCookieChange(RHelloCookieChange::parse(p)?),
            IIKEYING => Chunk::IIKeying(IIKeying::parse(p)?),
            RIKEYING => Chunk::RIKeying(RIKeying::parse(p)?),
            PING => Chunk::Ping(Ping {
                message: p.to_vec(),
            }),
            PING_REPLY => Chunk::PingReply(Ping {
                message: p.to_vec(),
            }),
            USER_DATA => Chunk::UserData(UserData::parse(p)?),
            NEXT_USER_DATA => Chunk::NextUserData(NextUserData::parse(p)?),
            BITMAP_ACK => Chunk::BitmapAck(BitmapAck::parse(p)?),
            RANGE_ACK => Chunk::RangeAck(RangeAck::parse(p)?),
            BUFFER_PROBE => Chunk::BufferProbe(whole(p, "Buffer Probe", |r| {
                Ok(BufferProbe {
                    flow_id: r.vlu("Buffer Probe flowID")?,
                })
            })?),
            FLOW_EXCEPTION_REPORT => {
                Chunk::FlowExceptionReport(whole(p, "Flow Exception Report", |r| {
                    Ok(FlowExceptionReport {
                        flow_id: r.vlu("Flow Exception Report flowID")?,
                        exception: r.vlu("Flow Exception Report exception")?,
                    })
                })?)
            }
            // RFC 7016 §2.3.17/§2.3.18: "This chunk has no payload."
            CLOSE => whole(p, "Close (has no payload)", |_| Ok(Chunk::Close))?,
            CLOSE_ACK => whole(p, "Close Ack (has no payload)", |_| Ok(Chunk::CloseAck))?,
            _ => Chunk::Unknown {
                chunk_type: t,
                payload: p.to_vec(),
            },
        })
    }

    pub fn chunk_type(&self) -> u8 {
        use types::*;
        match self {
            Chunk::PacketFragment(_) => PACKET_FRAGMENT,
            Chunk::IHello(_) => IHELLO,
            Chunk::FIHello(_) => FIHELLO,
            Chunk::RHello(_) => RHELLO,
            Chunk::Redirect(_) => REDIRECT,
            Chunk::RHelloCookieChange(_) => RHELLO_COOKIE_CHANGE,
            Chunk::IIKeying(_) => IIKEYING,
            Chunk::RIKeying(_) => RIKEYING,
            Chunk::Ping(_) => PING,
            Chunk::PingReply(_) => PING_REPLY,
            Chunk::UserData(_) => USER_DATA,
            Chunk::NextUserData(_) => NEXT_USER_DATA,
            Chunk::BitmapAck(_) => BITMAP_ACK,
            Chunk::RangeAck(_) => RANGE_ACK,
            Chunk::BufferProbe(_) => BUFFER_PROBE,
            Chunk::FlowExceptionReport(_) => FLOW_EXCEPTION_REPORT,
            Chunk::Close => CLOSE,
            Chunk::CloseAck => CLOSE_ACK,
            Chunk::Unknown { chunk_type, .. } => *chunk_type,
            Chunk::Malformed(m) => m.chunk_type,
        }
    }

    pub fn name(&self) -> &'static str {
        type_name(self.chunk_type())
    }

    /// Appends the chunk payload (without the chunk header).
    pub fn emit_payload(&self, out: &mut Vec<u8>) {
        match self {
            Chunk::PacketFragment(c) => c.emit(out),
            Chunk::IHello(c) => c.emit(out),
            Chunk::FIHello(c) => c.emit(out),
            Chunk::RHello(c) => c.emit(out),
            Chunk::Redirect(c) => c.emit(out),
            Chunk::RHelloCookieChange(c) => c.emit(out),
            Chunk::IIKeying(c) => c.emit(out),
            Chunk::RIKeying(c) => c.emit(out),
            Chunk::Ping(c) | Chunk::PingReply(c) => out.extend_from_slice(&c.message),
            Chunk::UserData(c) => c.emit(out),
            Chunk::NextUserData(c) => c.emit(out),
            Chunk::BitmapAck(c) => c.emit(out),
            Chunk::RangeAck(c) => c.emit(out),
            Chunk::BufferProbe(c) => vlu::encode(c.flow_id, out),
            Chunk::FlowExceptionReport(c) => {
                vlu::encode(c.flow_id, out);
                vlu::encode(c.exception, out);
            }
            Chunk::Close | Chunk::CloseAck => {}
            Chunk::Unknown { payload, .. } => out.extend_from_slice(payload),
            Chunk::Malformed(m) => out.extend_from_slice(&m.payload),
        }
    }

    /// Appends `chunkType ‖ chunkLength ‖ chunkPayload`. Fails if the payload is
    /// longer than a uint16_t length can say.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(&[self.chunk_type(), 0, 0]);
        self.emit_payload(out);
        let len = out.len() - start - 3;
        if len > MAX_PAYLOAD {
            out.truncate(start);
            return Err(WireError::Invalid {
                what: "chunkLength",
                why: "payload longer than 65535 bytes",
            });
        }
        out[start + 1..start + 3].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }

    /// The chunk's encoded size (header and payload). Computed for the chunks
    /// the data plane sizes per packet (no allocation or copy); the others are
    /// emitted to be measured.
    pub fn encoded_len(&self) -> usize {
        3 + match self {
            Chunk::UserData(c) => c.payload_len(),
            Chunk::NextUserData(c) => c.payload_len(),
            Chunk::BitmapAck(c) => c.payload_len(),
            Chunk::RangeAck(c) => c.payload_len(),
            Chunk::BufferProbe(c) => vlu::encoded_len(c.flow_id),
            Chunk::Ping(c) | Chunk::PingReply(c) => c.message.len(),
            Chunk::Close | Chunk::CloseAck => 0,
            _ => {
                let mut v = Vec::new();
                self.emit_payload(&mut v);
                v.len()
            }
        }
    }
}

fn emit_prefixed(bytes: &[u8], out: &mut Vec<u8>) {
    vlu::encode(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests;
