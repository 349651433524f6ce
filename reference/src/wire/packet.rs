//! RFC 7016 §2.2.4: the plain (decrypted) RTMFP packet: common header, chunks, padding.

use serde::{Deserialize, Serialize};

use super::chunk::Chunk;
use super::error::{Result, WireError};
use super::reader::Reader;

/// RFC 7016 §2.2.4 packet mode (`MOD`). Mode 0 is forbidden and never parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 1: Initiator Mark, on every non-startup packet of the session's initiator
    Initiator = 1,
    /// 2: Responder Mark
    Responder = 2,
    /// 3: session startup
    Startup = 3,
}

impl Mode {
    pub fn from_bits(b: u8) -> Option<Mode> {
        match b & 3 {
            1 => Some(Mode::Initiator),
            2 => Some(Mode::Responder),
            3 => Some(Mode::Startup),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Initiator => "initiator",
            Mode::Responder => "responder",
            Mode::Startup => "startup",
        }
    }
}

/// Header flag bits (RFC 7016 §2.2.4).
pub mod flags {
    /// TC: Time Critical Forward Notification
    pub const TC: u8 = 0x80;
    /// TCR: Time Critical Reverse Notification
    pub const TCR: u8 = 0x40;
    /// the two reserved bits
    pub const RESERVED: u8 = 0x30;
    /// TS: timestamp present
    pub const TS: u8 = 0x08;
    /// TSE: timestamp echo present
    pub const TSE: u8 = 0x04;
}

/// RFC 7016 §2.2.4 common header. TS and TSE are implied by the two `Option`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    #[serde(default)]
    pub time_critical: bool,
    #[serde(default)]
    pub time_critical_reverse: bool,
    /// The two reserved bits in place (mask 0x30), normally 0.
    #[serde(default)]
    pub reserved: u8,
    pub mode: Mode,
    /// Low 16 bits of the sender's 250 Hz clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_echo: Option<u16>,
}

impl Header {
    pub fn new(mode: Mode) -> Self {
        Header {
            time_critical: false,
            time_critical_reverse: false,
            reserved: 0,
            mode,
            timestamp: None,
            timestamp_echo: None,
        }
    }

    pub fn flag_byte(&self) -> u8 {
        (if self.time_critical { flags::TC } else { 0 })
            | (if self.time_critical_reverse {
                flags::TCR
            } else {
                0
            })
            | (self.reserved & flags::RESERVED)
            | (if self.timestamp.is_some() {
                flags::TS
            } else {
                0
            })
            | (if self.timestamp_echo.is_some() {
                flags::TSE
            } else {
                0
            })
            | self.mode as u8
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.u8("packet flags")?;
        // RFC 7016 §2.2.4: mode 0 packets are invalid and MUST be discarded.
        let mode = Mode::from_bits(f).ok_or(WireError::ForbiddenMode)?;
        let timestamp = if f & flags::TS != 0 {
            Some(r.u16("packet timestamp")?)
        } else {
            None
        };
        let timestamp_echo = if f & flags::TSE != 0 {
            Some(r.u16("packet timestampEcho")?)
        } else {
            None
        };
        Ok(Header {
            time_critical: f & flags::TC != 0,
            time_critical_reverse: f & flags::TCR != 0,
            reserved: f & flags::RESERVED,
            mode,
            timestamp,
            timestamp_echo,
        })
    }

    pub fn encoded_len(&self) -> usize {
        1 + 2 * usize::from(self.timestamp.is_some())
            + 2 * usize::from(self.timestamp_echo.is_some())
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.flag_byte());
        if let Some(t) = self.timestamp {
            out.extend_from_slice(&t.to_be_bytes());
        }
        if let Some(t) = self.timestamp_echo {
            out.extend_from_slice(&t.to_be_bytes());
        }
    }
}

/// RFC 7016 §2.2.4 plain packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packet {
    #[serde(flatten)]
    pub header: Header,
    #[serde(default)]
    pub chunks: Vec<Chunk>,
    /// Trailing bytes that are not a whole chunk (RFC 7016 §2.2.4: fewer than three
    /// bytes left, or a chunkLength that would not fit), typically 0xff padding.
    #[serde(with = "super::hexser", default, skip_serializing_if = "Vec::is_empty")]
    pub padding: Vec<u8>,
}

impl Packet {
    pub fn new(header: Header, chunks: Vec<Chunk>) -> Self {
        Packet {
            header,
            chunks,
            padding: Vec::new(),
        }
    }

    /// Parses a plain packet. Only a bad header is an error: chunks that fail to
    /// parse are kept as [`Chunk::Malformed`] (RFC 7016 §2.3: skip them).
    pub fn parse(bytes: &[u8]) -> Result<Packet> {
        let view = PacketView::parse(bytes)?;
        let mut raw = view.chunks();
        let chunks = raw.by_ref().map(|c| c.parse()).collect();
        Ok(Packet {
            header: view.header,
            chunks,
            padding: raw.rest().to_vec(),
        })
    }

    /// Appends the packet bytes. Fails only if a chunk payload exceeds 65535 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        self.header.emit(out);
        for c in &self.chunks {
            c.emit(out)?;
        }
        out.extend_from_slice(&self.padding);
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        self.emit(&mut out)?;
        Ok(out)
    }

    pub fn mode(&self) -> Mode {
        self.header.mode
    }
}

/// A plain packet parsed without allocating: the header, and its chunks walked
/// one at a time as borrowed [`RawChunk`]s (the receive path's parse; [`Packet`]
/// is the owned model built on it).
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub header: Header,
    body: &'a [u8],
}

impl<'a> PacketView<'a> {
    /// Parses the header. Only a bad header is an error (as for [`Packet::parse`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        Ok(PacketView {
            header,
            body: r.rest(),
        })
    }

    /// The chunks, in order; [`RawChunks::rest`] then holds the padding.
    pub fn chunks(&self) -> RawChunks<'a> {
        RawChunks {
            r: Reader::new(self.body),
        }
    }
}

/// One chunk's framing: its type and its payload, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    pub chunk_type: u8,
    pub payload: &'a [u8],
}

impl RawChunk<'_> {
    /// The owned chunk (see [`Chunk::parse`]: a syntax error is `Malformed`).
    pub fn parse(&self) -> Chunk {
        Chunk::parse(self.chunk_type, self.payload)
    }
}

/// The chunks of a [`PacketView`].
#[derive(Debug, Clone)]
pub struct RawChunks<'a> {
    r: Reader<'a>,
}

impl<'a> RawChunks<'a> {
    /// What is not (yet) walked: once the iterator is exhausted, the padding.
    pub fn rest(&self) -> &'a [u8] {
        self.r.clone().rest()
    }
}

impl<'a> Iterator for RawChunks<'a> {
    type Item = RawChunk<'a>;

    fn next(&mut self) -> Option<RawChunk<'a>> {
        // RFC 7016 §2.2.4: `while(remainder() > 2)`; a chunk whose length does not
        // fit starts the padding.
        if self.r.remaining() <= 2 {
            return None;
        }
        let mut peek = self.r.clone();
        let chunk_type = peek.u8("chunkType").ok()?;
        let len = peek.u16("chunkLength").ok()? as usize;
        let payload = peek.bytes(len, "chunkPayload").ok()?;
        self.r = peek;
        Some(RawChunk {
            chunk_type,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The IHello of KAT-R (flash-profile.md §13.2, a Flash Player capture), without
    // its checksum: flags 0b (TS, startup), timestamp 132d, IHello, one 0xff of padding.
    const KAT_R_IHELLO: &str = "0b132d30002716150a72746d66703a2f2f63632e72746d66702e6e657412af718559bbeea27a125b08236c4318ff";

    #[test]
    fn kat_r_ihello() {
        let bytes = hex::decode(KAT_R_IHELLO).unwrap();
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.header.mode, Mode::Startup);
        assert_eq!(p.header.timestamp, Some(0x132d));
        assert_eq!(p.header.timestamp_echo, None);
        assert_eq!(p.padding, [0xff]);
        let Chunk::IHello(ih) = &p.chunks[0] else {
            panic!()
        };
        assert_eq!(ih.epd, b"\x15\x0artmfp://cc.rtmfp.net");
        assert_eq!(ih.tag.len(), 16);
        assert_eq!(p.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn mode_zero_is_rejected() {
        assert_eq!(Packet::parse(&[0x08, 0, 0]), Err(WireError::ForbiddenMode));
        assert!(Packet::parse(&[]).is_err());
        assert!(Packet::parse(&[0x0c, 0x00]).is_err()); // TS+TSE but only 1 byte
    }

    #[test]
    fn padding_rules() {
        // Two bytes left: padding. A chunk that does not fit: padding.
        let p = Packet::parse(&[0x01, 0x0c, 0x00]).unwrap();
        assert!(p.chunks.is_empty());
        assert_eq!(p.padding, [0x0c, 0x00]);
        let p = Packet::parse(&[0x01, 0x01, 0x00, 0x05, 0xaa]).unwrap();
        assert!(p.chunks.is_empty());
        assert_eq!(p.padding.len(), 4);
        let p = Packet::parse(&[0x02, 0x0c, 0x00, 0x00, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(p.chunks, [Chunk::Close]);
        assert_eq!(p.padding, [0xff; 3]);
    }
}
