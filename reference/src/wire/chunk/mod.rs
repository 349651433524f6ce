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

/// RFC 7016 §2.3.1 Packet Fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketFragment {
    /// `M`: more fragments follow.
    pub more_fragments: bool,
    #[serde(default)]
    pub reserved: u8,
    pub packet_id: u64,
    pub fragment_num: u64,
    #[serde(with = "super::hexser")]
    pub packet_fragment: Vec<u8>,
}

impl PacketFragment {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flags = r.u8("Packet Fragment flags")?;
        let packet_id = r.vlu("Packet Fragment packetID")?;
        let fragment_num = r.vlu("Packet Fragment fragmentNum")?;
        let packet_fragment = r.rest().to_vec();
        // RFC 7016 §2.3.1: a packetFragment MUST NOT be empty (and §3.4: MUST discard).
        if packet_fragment.is_empty() {
            return Err(WireError::Invalid {
                what: "Packet Fragment packetFragment",
                why: "empty (RFC 7016 §2.3.1 MUST NOT)",
            });
        }
        Ok(PacketFragment {
            more_fragments: flags & 0x80 != 0,
            reserved: flags & 0x7f,
            packet_id,
            fragment_num,
            packet_fragment,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.more_fragments) << 7 | (self.reserved & 0x7f));
        vlu::encode(self.packet_id, out);
        vlu::encode(self.fragment_num, out);
        out.extend_from_slice(&self.packet_fragment);
    }
}

/// RFC 7016 §2.3.2 Initiator Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IHello {
    /// endpointDiscriminator
    #[serde(with = "super::hexser")]
    pub epd: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub tag: Vec<u8>,
}

impl IHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let epd = r.vlu_prefixed("IHello epdLength")?.to_vec();
        Ok(IHello {
            epd,
            tag: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.epd, out);
        out.extend_from_slice(&self.tag);
    }
}

/// RFC 7016 §2.3.3 Forwarded Initiator Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FIHello {
    #[serde(with = "super::hexser")]
    pub epd: Vec<u8>,
    pub reply_address: Address,
    #[serde(with = "super::hexser")]
    pub tag: Vec<u8>,
}

impl FIHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let epd = r.vlu_prefixed("FIHello epdLength")?.to_vec();
        let reply_address = Address::read(&mut r)?;
        Ok(FIHello {
            epd,
            reply_address,
            tag: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.epd, out);
        self.reply_address.emit(out);
        out.extend_from_slice(&self.tag);
    }
}

/// RFC 7016 §2.3.4 Responder Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RHello {
    #[serde(with = "super::hexser")]
    pub tag_echo: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub cookie: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub responder_certificate: Vec<u8>,
}

impl RHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let tag_echo = r.vlu_prefixed("RHello tagLength")?.to_vec();
        let cookie = r.vlu_prefixed("RHello cookieLength")?.to_vec();
        Ok(RHello {
            tag_echo,
            cookie,
            responder_certificate: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.tag_echo, out);
        emit_prefixed(&self.cookie, out);
        out.extend_from_slice(&self.responder_certificate);
    }
}

/// RFC 7016 §2.3.5 Responder Redirect. No destinations = an Implied Redirect
/// (the packet's source address is the destination).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(with = "super::hexser")]
    pub tag_echo: Vec<u8>,
    #[serde(default)]
    pub redirect_destinations: Vec<Address>,
}

impl Redirect {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let tag_echo = r.vlu_prefixed("Redirect tagLength")?.to_vec();
        let mut redirect_destinations = Vec::new();
        while !r.is_empty() {
            redirect_destinations.push(Address::read(&mut r)?);
        }
        Ok(Redirect {
            tag_echo,
            redirect_destinations,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.tag_echo, out);
        for a in &self.redirect_destinations {
            a.emit(out);
        }
    }

    pub fn is_implied(&self) -> bool {
        self.redirect_destinations.is_empty()
    }
}

/// RFC 7016 §2.3.6 RHello Cookie Change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RHelloCookieChange {
    #[serde(with = "super::hexser")]
    pub old_cookie: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub new_cookie: Vec<u8>,
}

impl RHelloCookieChange {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let old_cookie = r
            .vlu_prefixed("RHello Cookie Change oldCookieLen")?
            .to_vec();
        Ok(RHelloCookieChange {
            old_cookie,
            new_cookie: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.old_cookie, out);
        out.extend_from_slice(&self.new_cookie);
    }
}

/// RFC 7016 §2.3.7 Initiator Initial Keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IIKeying {
    /// The 4 session-ID bytes, read as a big-endian u32.
    pub initiator_session_id: u32,
    #[serde(with = "super::hexser")]
    pub cookie_echo: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub initiator_certificate: Vec<u8>,
    /// sessionKeyInitiatorComponent (SKIC)
    #[serde(with = "super::hexser")]
    pub skic: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub signature: Vec<u8>,
}

impl IIKeying {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let initiator_session_id = r.u32("IIKeying initiatorSessionID")?;
        let cookie_echo = r.vlu_prefixed("IIKeying cookieLength")?.to_vec();
        let initiator_certificate = r.vlu_prefixed("IIKeying certLength")?.to_vec();
        let skic = r.vlu_prefixed("IIKeying skicLength")?.to_vec();
        Ok(IIKeying {
            initiator_session_id,
            cookie_echo,
            initiator_certificate,
            skic,
            signature: r.rest().to_vec(),
        })
    }

    /// `initiatorSignedParameters`: the payload up to the signature.
    pub fn signed_parameters(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.initiator_session_id.to_be_bytes());
        emit_prefixed(&self.cookie_echo, &mut out);
        emit_prefixed(&self.initiator_certificate, &mut out);
        emit_prefixed(&self.skic, &mut out);
        out
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.signed_parameters());
        out.extend_from_slice(&self.signature);
    }
}

/// RFC 7016 §2.3.8 Responder Initial Keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RIKeying {
    pub responder_session_id: u32,
    /// sessionKeyResponderComponent (SKRC)
    #[serde(with = "super::hexser")]
    pub skrc: Vec<u8>,
    #[serde(with = "super::hexser")]
    pub signature: Vec<u8>,
}

impl RIKeying {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let responder_session_id = r.u32("RIKeying responderSessionID")?;
        let skrc = r.vlu_prefixed("RIKeying skrcLength")?.to_vec();
        Ok(RIKeying {
            responder_session_id,
            skrc,
            signature: r.rest().to_vec(),
        })
    }

    /// `responderSignedParametersPortion`: the payload up to the signature.
    pub fn signed_parameters_portion(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.responder_session_id.to_be_bytes());
        emit_prefixed(&self.skrc, &mut out);
        out
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.signed_parameters_portion());
        out.extend_from_slice(&self.signature);
    }
}

/// RFC 7016 §2.3.11 `fragmentControl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fragmentation {
    /// 0: this fragment is a complete message
    #[default]
    Whole,
    /// 1: first fragment of a multi-fragment message
    Begin,
    /// 2: last fragment of a multi-fragment message
    End,
    /// 3: in the middle of a multi-fragment message
    Middle,
}

impl Fragmentation {
    pub fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Fragmentation::Whole,
            1 => Fragmentation::Begin,
            2 => Fragmentation::End,
            _ => Fragmentation::Middle,
        }
    }

    pub fn bits(self) -> u8 {
        self as u8
    }
}

/// The flag byte shared by User Data and Next User Data (RFC 7016 §2.3.11):
/// `OPT rsv FRA(2) rsv(2) ABN FIN`. OPT is implied by `options.is_some()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDataFlags {
    #[serde(default)]
    pub fragment_control: Fragmentation,
    /// ABN: this sequence number has been abandoned; its data MUST be ignored.
    #[serde(default)]
    pub abandon: bool,
    /// FIN: the last sequence number of the flow.
    #[serde(default, rename = "final")]
    pub fin: bool,
    /// The three reserved bits in place (mask 0x4c), normally 0.
    #[serde(default)]
    pub reserved: u8,
}

const OPT_BIT: u8 = 0x80;
const RESERVED_BITS: u8 = 0x4c;

impl UserDataFlags {
    fn from_byte(b: u8) -> Self {
        UserDataFlags {
            fragment_control: Fragmentation::from_bits(b >> 4),
            abandon: b & 0x02 != 0,
            fin: b & 0x01 != 0,
            reserved: b & RESERVED_BITS,
        }
    }

    fn to_byte(self, options_present: bool) -> u8 {
        (if options_present { OPT_BIT } else { 0 })
            | (self.fragment_control.bits() << 4)
            | (self.reserved & RESERVED_BITS)
            | (u8::from(self.abandon) << 1)
            | u8::from(self.fin)
    }
}

/// RFC 7016 §2.3.11.1 option type codes for User Data.
pub mod user_data_option {
    /// §2.3.11.1.1 User's Per-Flow Metadata
    pub const METADATA: u64 = 0x00;
    /// §2.3.11.1.2 Return Flow Association
    pub const RETURN_FLOW_ASSOCIATION: u64 = 0x0a;
    /// §2.3.11.1: a receiver MUST reject a flow with a not-understood option
    /// below this type, and MUST ignore one at or above it.
    pub const IGNORABLE_FROM: u64 = 0x2000;
}

fn find_option(options: &Option<Vec<Opt>>, kind: u64) -> Option<&Opt> {
    options.as_ref()?.iter().find(|o| o.kind == kind)
}

/// RFC 7016 §2.3.11 User Data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserData {
    #[serde(flatten)]
    pub flags: UserDataFlags,
    pub flow_id: u64,
    pub sequence_number: u64,
    pub fsn_offset: u64,
    /// `Some` iff the OPT flag is set (the list may be empty: just a Marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Opt>>,
    #[serde(with = "super::hexser", default)]
    pub user_data: Vec<u8>,
}

impl UserData {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flag_byte = r.u8("User Data flags")?;
        let flow_id = r.vlu("User Data flowID")?;
        let sequence_number = r.vlu("User Data sequenceNumber")?;
        let fsn_offset = r.vlu("User Data fsnOffset")?;
        let options = if flag_byte & OPT_BIT != 0 {
            Some(option::read_list(&mut r, "User Data options")?)
        } else {
            None
        };
        let flags = UserDataFlags::from_byte(flag_byte);
        // RFC 7016 §2.3.11: the first sequence number MUST be greater than zero and
        // numbers only increase, so 0 is never a valid sequence number.
        if sequence_number == 0 {
            return Err(WireError::Invalid {
                what: "User Data sequenceNumber",
                why: "0 (RFC 7016 §2.3.11: sequence numbers are greater than zero)",
            });
        }
        // RFC 7016 §2.3.11: fsnOffset MUST NOT be greater than sequenceNumber.
        if fsn_offset > sequence_number {
            return Err(WireError::Invalid {
                what: "User Data fsnOffset",
                why: "greater than sequenceNumber (RFC 7016 §2.3.11 MUST NOT)",
            });
        }
        // RFC 7016 §2.3.11: fsnOffset MUST NOT be zero if the abandon flag is not set.
        if fsn_offset == 0 && !flags.abandon {
            return Err(WireError::Invalid {
                what: "User Data fsnOffset",
                why: "0 without the abandon flag (RFC 7016 §2.3.11 MUST NOT)",
            });
        }
        Ok(UserData {
            flags,
            flow_id,
            sequence_number,
            fsn_offset,
            options,
            user_data: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.flags.to_byte(self.options.is_some()));
        vlu::encode(self.flow_id, out);
        vlu::encode(self.sequence_number, out);
        vlu::encode(self.fsn_offset, out);
        if let Some(list) = &self.options {
            option::emit_list(list, out);
        }
        out.extend_from_slice(&self.user_data);
    }

    /// RFC 7016 §2.3.11 `forwardSequenceNumber = sequenceNumber - fsnOffset`.
    pub fn forward_sequence_number(&self) -> u64 {
        self.sequence_number.saturating_sub(self.fsn_offset)
    }

    /// §2.3.11.1.1 User's Per-Flow Metadata, if present.
    pub fn metadata(&self) -> Option<&[u8]> {
        find_option(&self.options, user_data_option::METADATA).map(|o| o.value.as_slice())
    }

    /// §2.3.11.1.2 Return Flow Association, if present (an error if its value is not a VLU).
    pub fn return_flow_association(&self) -> Option<Result<u64>> {
        find_option(&self.options, user_data_option::RETURN_FLOW_ASSOCIATION)
            .map(|o| o.value_as_vlu("Return Flow Association flowID"))
    }
}

/// RFC 7016 §2.3.12 Next User Data: a User Data chunk for the same flow and FSN as the
/// preceding (Next) User Data chunk of the packet, with the next sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextUserData {
    #[serde(flatten)]
    pub flags: UserDataFlags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Opt>>,
    #[serde(with = "super::hexser", default)]
    pub user_data: Vec<u8>,
}

impl NextUserData {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flag_byte = r.u8("Next User Data flags")?;
        let options = if flag_byte & OPT_BIT != 0 {
            Some(option::read_list(&mut r, "Next User Data options")?)
        } else {
            None
        };
        Ok(NextUserData {
            flags: UserDataFlags::from_byte(flag_byte),
            options,
            user_data: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.flags.to_byte(self.options.is_some()));
        if let Some(list) = &self.options {
            option::emit_list(list, out);
        }
        out.extend_from_slice(&self.user_data);
    }

    /// Expands this chunk into the User Data chunk it stands for, given the
    /// (expanded) chunk before it in the packet.
    pub fn expand(&self, previous: &UserData) -> Option<UserData> {
        Some(UserData {
            flags: self.flags,
            flow_id: previous.flow_id,
            sequence_number: previous.sequence_number.checked_add(1)?,
            fsn_offset: previous.fsn_offset.checked_add(1)?,
            options: self.options.clone(),
            user_data: self.user_data.clone(),
        })
    }
}

/// RFC 7016 §2.3.13 Data Acknowledgement Bitmap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitmapAck {
    pub flow_id: u64,
    /// bufferBlocksAvailable, in 1024-byte blocks
    pub buffer_blocks_available: u64,
    pub cumulative_ack: u64,
    /// Bit i (LSB first) of byte k stands for cumulativeAck + 2 + 8k + i.
    #[serde(with = "super::hexser", default)]
    pub bitmap: Vec<u8>,
}

impl BitmapAck {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        Ok(BitmapAck {
            flow_id: r.vlu("Bitmap Ack flowID")?,
            buffer_blocks_available: r.vlu("Bitmap Ack bufferBlocksAvailable")?,
            cumulative_ack: r.vlu("Bitmap Ack cumulativeAck")?,
            bitmap: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        out.extend_from_slice(&self.bitmap);
    }

    /// The sequence numbers acknowledged beyond the cumulative ack, in ascending order.
    pub fn selective(&self) -> impl Iterator<Item = u64> + '_ {
        let base = self.cumulative_ack;
        self.bitmap.iter().enumerate().flat_map(move |(k, &byte)| {
            (0..8u64).filter_map(move |i| {
                if byte & (1 << i) == 0 {
                    return None;
                }
                base.checked_add(2)?.checked_add(8 * k as u64 + i)
            })
        })
    }

    /// Acknowledged ranges (inclusive) beyond the cumulative ack, merged.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        merge_ranges(self.selective().map(|s| (s, s)))
    }
}

/// One `#holes-1 ‖ #recv-1` pair of a Range Ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRange {
    pub holes_minus_one: u64,
    pub received_minus_one: u64,
}

/// RFC 7016 §2.3.14 Data Acknowledgement Ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeAck {
    pub flow_id: u64,
    pub buffer_blocks_available: u64,
    pub cumulative_ack: u64,
    #[serde(default)]
    pub ranges: Vec<AckRange>,
    /// §2.3.14 NOTE: bytes of a truncated last range, which the receiver ignores
    /// while still processing the chunk up to the last complete range.
    #[serde(with = "super::hexser", default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<u8>,
}

impl RangeAck {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flow_id = r.vlu("Range Ack flowID")?;
        let buffer_blocks_available = r.vlu("Range Ack bufferBlocksAvailable")?;
        let cumulative_ack = r.vlu("Range Ack cumulativeAck")?;
        let mut ranges = Vec::new();
        let mut truncated = Vec::new();
        while !r.is_empty() {
            let mark = r.clone();
            match (r.vlu("Range Ack #holes-1"), r.vlu("Range Ack #recv-1")) {
                (Ok(holes_minus_one), Ok(received_minus_one)) => ranges.push(AckRange {
                    holes_minus_one,
                    received_minus_one,
                }),
                _ => {
                    // RFC 7016 §2.3.14 NOTE: process as properly formed up to the
                    // last completely encoded range.
                    let mut m = mark;
                    truncated = m.rest().to_vec();
                    break;
                }
            }
        }
        Ok(RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        for a in &self.ranges {
            vlu::encode(a.holes_minus_one, out);
            vlu::encode(a.received_minus_one, out);
        }
        out.extend_from_slice(&self.truncated);
    }

    /// Acknowledged ranges (inclusive) beyond the cumulative ack, as §2.3.14's
    /// pseudocode computes them. Stops at a range that would pass 2^64 - 1.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.ranges.len());
        let mut cursor = self.cumulative_ack;
        for a in &self.ranges {
            let Some(from) = cursor
                .checked_add(1)
                .and_then(|c| c.checked_add(a.holes_minus_one))
                .and_then(|c| c.checked_add(1))
            else {
                break;
            };
            let Some(to) = from.checked_add(a.received_minus_one) else {
                break;
            };
            out.push((from, to));
            cursor = to;
        }
        out
    }

    /// Builds the Range Ack for `cumulative_ack` and ascending, disjoint, non-adjacent
    /// ranges that all lie above `cumulative_ack + 1`.
    pub fn from_ranges(
        flow_id: u64,
        buffer_blocks_available: u64,
        cumulative_ack: u64,
        received: &[(u64, u64)],
    ) -> Self {
        let mut cursor = cumulative_ack;
        let ranges = received
            .iter()
            .map(|&(from, to)| {
                let r = AckRange {
                    holes_minus_one: from - cursor - 2,
                    received_minus_one: to - from,
                };
                cursor = to;
                r
            })
            .collect();
        RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated: Vec::new(),
        }
    }
}

fn merge_ranges(it: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (from, to) in it {
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(from) => last.1 = to,
            _ => out.push((from, to)),
        }
    }
    out
}

/// RFC 7016 §2.3.9 Ping (`message`) and §2.3.10 Ping Reply (`messageEcho`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    #[serde(with = "super::hexser", default)]
    pub message: Vec<u8>,
}

/// RFC 7016 §2.3.15 Buffer Probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferProbe {
    pub flow_id: u64,
}

/// RFC 7016 §2.3.16 Flow Exception Report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowExceptionReport {
    pub flow_id: u64,
    /// Application-defined; 0 when the RTMFP rejects a flow automatically.
    pub exception: u64,
}

/// A chunk whose payload failed to parse. RFC 7016 §2.3: such a chunk SHALL be
/// ignored as though it were not present; it is kept here so that it can be shown
/// and re-emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedChunk {
    pub chunk_type: u8,
    #[serde(with = "super::hexser")]
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
        #[serde(with = "super::hexser", default)]
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

    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.emit_payload(&mut v);
        3 + v.len()
    }
}

fn emit_prefixed(bytes: &[u8], out: &mut Vec<u8>) {
    vlu::encode(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(bytes: &[u8]) -> Chunk {
        let len = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
        assert_eq!(len, bytes.len() - 3);
        let c = Chunk::parse(bytes[0], &bytes[3..]);
        let mut out = Vec::new();
        c.emit(&mut out).unwrap();
        assert_eq!(out, bytes, "re-emit of {c:?}");
        c
    }

    // RFC 7016 §2.3.12 Figure 3.
    #[test]
    fn figure3_next_user_data() {
        let Chunk::UserData(u) =
            chunk(&[0x10, 0x00, 0x07, 0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02])
        else {
            panic!()
        };
        assert_eq!(
            (u.flow_id, u.sequence_number, u.forward_sequence_number()),
            (2, 5, 2)
        );
        assert_eq!(u.flags.fragment_control, Fragmentation::Whole);
        assert_eq!(u.user_data, [0, 1, 2]);
        let Chunk::NextUserData(n) = chunk(&[0x11, 0x00, 0x04, 0x00, 0x03, 0x04, 0x05]) else {
            panic!()
        };
        let u2 = n.expand(&u).unwrap();
        assert_eq!(
            (u2.flow_id, u2.sequence_number, u2.forward_sequence_number()),
            (2, 6, 2)
        );
        assert_eq!(u2.user_data, [3, 4, 5]);
    }

    // RFC 7016 §2.3.13 Figure 4: acknowledges 0-16, 18, 21-24, 27, 28.
    #[test]
    fn figure4_bitmap_ack() {
        let Chunk::BitmapAck(a) = chunk(&[0x50, 0x00, 0x05, 0x05, 0x7f, 0x10, 0x79, 0x06]) else {
            panic!()
        };
        assert_eq!(
            (a.flow_id, a.buffer_blocks_available, a.cumulative_ack),
            (5, 127, 16)
        );
        assert_eq!(
            a.selective().collect::<Vec<_>>(),
            [18, 21, 22, 23, 24, 27, 28]
        );
        assert_eq!(a.ranges(), [(18, 18), (21, 24), (27, 28)]);
    }

    // RFC 7016 §2.3.14 Figure 5: acknowledges 0-16, 18, 21-24.
    #[test]
    fn figure5_range_ack() {
        let Chunk::RangeAck(a) =
            chunk(&[0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x03])
        else {
            panic!()
        };
        assert_eq!(a.ranges(), [(18, 18), (21, 24)]);
        assert_eq!(RangeAck::from_ranges(5, 127, 16, &[(18, 18), (21, 24)]), a);
    }

    // RFC 7016 §2.3.14 Figure 6 (its bytes; the figure's "length=9" is a typo for 7):
    // the truncated last range is ignored, the rest processed.
    #[test]
    fn figure6_truncated_range_ack() {
        let Chunk::RangeAck(a) =
            chunk(&[0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x83])
        else {
            panic!()
        };
        assert_eq!(a.ranges(), [(18, 18)]);
        assert_eq!(a.truncated, [0x01, 0x83]);
    }

    #[test]
    fn user_data_rules() {
        // seq 0
        assert!(matches!(
            Chunk::parse(0x10, &[0x00, 0x02, 0x00, 0x00]),
            Chunk::Malformed(_)
        ));
        // fsnOffset 0 without ABN
        assert!(matches!(
            Chunk::parse(0x10, &[0x00, 0x02, 0x01, 0x00]),
            Chunk::Malformed(_)
        ));
        // fsnOffset 0 with ABN is fine
        assert!(matches!(
            Chunk::parse(0x10, &[0x02, 0x02, 0x01, 0x00]),
            Chunk::UserData(_)
        ));
        // fsnOffset > seq
        assert!(matches!(
            Chunk::parse(0x10, &[0x00, 0x02, 0x01, 0x02]),
            Chunk::Malformed(_)
        ));
        // OPT set but no marker
        assert!(matches!(
            Chunk::parse(0x10, &[0x80, 0x02, 0x01, 0x01, 0x02, 0x0a, 0x05]),
            Chunk::Malformed(MalformedChunk {
                error: WireError::UnterminatedOptionList { .. },
                ..
            })
        ));
    }

    // ../shared/specs/flash-profile.md §13.7 (KAT-T): control-flow option lists.
    #[test]
    fn user_data_options_kat_t() {
        let mut payload = vec![0x80 | 0x10 /* OPT, begin */, 0x03, 0x01, 0x01];
        payload.extend([0x05, 0x00, 0x54, 0x43, 0x04, 0x00, 0x02, 0x0a, 0x02, 0x00]);
        payload.extend(b"hello");
        let Chunk::UserData(u) = Chunk::parse(0x10, &payload) else {
            panic!()
        };
        assert_eq!(u.metadata(), Some(&[0x54, 0x43, 0x04, 0x00][..]));
        assert_eq!(u.return_flow_association(), Some(Ok(2)));
        assert_eq!(u.flags.fragment_control, Fragmentation::Begin);
        assert_eq!(u.user_data, b"hello");
        let mut out = Vec::new();
        u.emit(&mut out);
        assert_eq!(out, payload);
    }

    #[test]
    fn close_has_no_payload() {
        assert_eq!(chunk(&[0x0c, 0, 0]), Chunk::Close);
        assert_eq!(chunk(&[0x4c, 0, 0]), Chunk::CloseAck);
        assert!(matches!(Chunk::parse(0x0c, &[0]), Chunk::Malformed(_)));
    }

    #[test]
    fn unknown_and_padding_kept_raw() {
        assert_eq!(
            chunk(&[0xec, 0x00, 0x01, 0x03]),
            Chunk::Unknown {
                chunk_type: 0xec,
                payload: vec![3]
            }
        );
        assert_eq!(chunk(&[0x00, 0x00, 0x00]).name(), "Ignore/Padding");
    }

    #[test]
    fn startup_chunks_round_trip() {
        let ii = IIKeying {
            initiator_session_id: 0x0200_0000,
            cookie_echo: vec![7; 64],
            initiator_certificate: vec![1; 132],
            skic: vec![2; 76],
            signature: vec![0x58],
        };
        let c = Chunk::IIKeying(ii.clone());
        let mut out = Vec::new();
        c.emit(&mut out).unwrap();
        // KAT-R: `38 0119 02000000 40 ... 81 04 ... 4c ... 58`
        assert_eq!(&out[..8], &[0x38, 0x01, 0x19, 0x02, 0x00, 0x00, 0x00, 0x40]);
        assert_eq!(Chunk::parse(out[0], &out[3..]), c);
        let fi = Chunk::FIHello(FIHello {
            epd: vec![0x21, 0x0f],
            reply_address: Address::new(
                "[2001:db8::1]:1935".parse().unwrap(),
                super::super::Origin::Observed,
            ),
            tag: vec![9; 16],
        });
        let mut out = Vec::new();
        fi.emit(&mut out).unwrap();
        assert_eq!(Chunk::parse(out[0], &out[3..]), fi);
    }

    #[test]
    fn oversize_payload_is_an_error() {
        let c = Chunk::Ping(Ping {
            message: vec![0; 70_000],
        });
        let mut out = vec![1, 2];
        assert!(c.emit(&mut out).is_err());
        assert_eq!(out, [1, 2]);
    }
}
