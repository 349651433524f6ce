//! RFC 7016 §2.3.11-§2.3.12: User Data and Next User Data.

use super::*;

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

/// RFC 7016 §2.3.11 User Data borrowed from the packet: the same fields and
/// checks as [`UserData::parse`], without allocating (issue 13: a data packet
/// parses without heap allocation in steady state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserDataView<'a> {
    pub flags: UserDataFlags,
    pub flow_id: u64,
    pub sequence_number: u64,
    pub fsn_offset: u64,
    /// The encoded Option List (Marker included) iff the OPT flag is set.
    pub options: Option<&'a [u8]>,
    pub user_data: &'a [u8],
}

impl<'a> UserDataView<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flag_byte = r.u8("User Data flags")?;
        let flow_id = r.vlu("User Data flowID")?;
        let sequence_number = r.vlu("User Data sequenceNumber")?;
        let fsn_offset = r.vlu("User Data fsnOffset")?;
        let options = if flag_byte & OPT_BIT != 0 {
            Some(option::read_list_ref(&mut r, "User Data options")?)
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
        Ok(UserDataView {
            flags,
            flow_id,
            sequence_number,
            fsn_offset,
            options,
            user_data: r.rest(),
        })
    }
}

/// An Option List checked by `read_list_ref`, parsed into owned options.
fn owned_options(raw: Option<&[u8]>, what: &'static str) -> Result<Option<Vec<Opt>>> {
    raw.map(|raw| option::read_list(&mut Reader::new(raw), what))
        .transpose()
}

/// RFC 7016 §2.3.12 Next User Data borrowed from the packet (see [`UserDataView`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextUserDataView<'a> {
    pub flags: UserDataFlags,
    /// The encoded Option List (Marker included) iff the OPT flag is set.
    pub options: Option<&'a [u8]>,
    pub user_data: &'a [u8],
}

impl<'a> NextUserDataView<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flag_byte = r.u8("Next User Data flags")?;
        let options = if flag_byte & OPT_BIT != 0 {
            Some(option::read_list_ref(&mut r, "Next User Data options")?)
        } else {
            None
        };
        Ok(NextUserDataView {
            flags: UserDataFlags::from_byte(flag_byte),
            options,
            user_data: r.rest(),
        })
    }
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
    #[serde(with = "crate::wire::hexser", default)]
    pub user_data: Vec<u8>,
}

impl UserData {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let v = UserDataView::parse(p)?;
        Ok(UserData {
            flags: v.flags,
            flow_id: v.flow_id,
            sequence_number: v.sequence_number,
            fsn_offset: v.fsn_offset,
            options: owned_options(v.options, "User Data options")?,
            user_data: v.user_data.to_vec(),
        })
    }

    /// The size of what [`UserData::emit`] writes.
    pub fn payload_len(&self) -> usize {
        1 + vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.sequence_number)
            + vlu::encoded_len(self.fsn_offset)
            + options_len(&self.options)
            + self.user_data.len()
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

    /// The chunk without its options and data: all that [`NextUserData::expand`]
    /// reads of the chunk before it (so a receiver need not copy the payload).
    pub fn header_only(&self) -> UserData {
        UserData {
            flags: self.flags,
            flow_id: self.flow_id,
            sequence_number: self.sequence_number,
            fsn_offset: self.fsn_offset,
            options: None,
            user_data: Vec::new(),
        }
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
    #[serde(with = "crate::wire::hexser", default)]
    pub user_data: Vec<u8>,
}

impl NextUserData {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let v = NextUserDataView::parse(p)?;
        Ok(NextUserData {
            flags: v.flags,
            options: owned_options(v.options, "Next User Data options")?,
            user_data: v.user_data.to_vec(),
        })
    }

    /// The size of what [`NextUserData::emit`] writes.
    pub fn payload_len(&self) -> usize {
        1 + options_len(&self.options) + self.user_data.len()
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

/// The size of an optional Option List as the data chunks emit it.
fn options_len(options: &Option<Vec<Opt>>) -> usize {
    options.as_deref().map_or(0, option::list_encoded_len)
}
