//! Typed parse errors of the wire layer (RFC 7016 §2).

use serde::{Serialize, Serializer};

/// Why a byte string is not a valid RFC 7016 §2 structure.
///
/// Every rejection made by the wire parsers is one of these; none of them panics.
/// `what` names the field or structure being read, e.g. `"IIKeying.cookieLength"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a fixed-size field or a VLU.
    #[error("{what}: truncated (need {need} more bytes, {have} left)")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A VLU encodes a value above 2^64 - 1 (RFC 7016 §2.1.2 requires at least 64 bits).
    #[error("{what}: VLU exceeds 64 bits")]
    VluOverflow { what: &'static str },
    /// A length field promises more bytes than remain in the enclosing structure.
    #[error("{what}: length {len} exceeds the {have} bytes left")]
    LengthOverrun {
        what: &'static str,
        len: u64,
        have: usize,
    },
    /// Bytes remain after a structure whose syntax has no room for them.
    #[error("{what}: {count} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, count: usize },
    /// RFC 7016 §2.2.4: packet mode 0 is forbidden; such packets MUST be discarded.
    #[error("packet mode 0 is forbidden (RFC 7016 §2.2.4)")]
    ForbiddenMode,
    /// RFC 7016 §2.1.4: an Option List is terminated by a Marker.
    #[error("{what}: option list not terminated by a marker")]
    UnterminatedOptionList { what: &'static str },
    /// A field holds a value its definition rules out.
    #[error("{what}: {why}")]
    Invalid {
        what: &'static str,
        why: &'static str,
    },
}

impl Serialize for WireError {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub type Result<T> = std::result::Result<T, WireError>;
