//! RFC 7016 §2.1.3 Option and §2.1.4 Option List.

use serde::{Deserialize, Serialize};

use super::error::{Result, WireError};
use super::reader::Reader;
use super::vlu;

/// RFC 7016 §2.1.3: a Length-Type-Value triplet with a non-zero length.
/// (A zero-length Option is a Marker and has no type; see [`OptionItem`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opt {
    #[serde(rename = "type")]
    pub kind: u64,
    #[serde(with = "super::hexser", default)]
    pub value: Vec<u8>,
}

/// One element of a sequence of Options: an Option or a Marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionItem {
    Marker,
    Option(Opt),
}

impl Opt {
    pub fn new(kind: u64, value: impl Into<Vec<u8>>) -> Self {
        Opt {
            kind,
            value: value.into(),
        }
    }

    /// The value as a single VLU with nothing after it (e.g. Return Flow Association).
    pub fn value_as_vlu(&self, what: &'static str) -> Result<u64> {
        let mut r = Reader::new(&self.value);
        let v = r.vlu(what)?;
        r.finish(what)?;
        Ok(v)
    }

    pub fn encoded_len(&self) -> usize {
        let payload = vlu::encoded_len(self.kind) + self.value.len();
        vlu::encoded_len(payload as u64) + payload
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let payload = vlu::encoded_len(self.kind) + self.value.len();
        vlu::encode(payload as u64, out);
        vlu::encode(self.kind, out);
        out.extend_from_slice(&self.value);
    }
}

/// Reads one Option or Marker.
pub fn read_item(r: &mut Reader<'_>, what: &'static str) -> Result<OptionItem> {
    Ok(match read_item_ref(r, what)? {
        None => OptionItem::Marker,
        Some((kind, value)) => OptionItem::Option(Opt {
            kind,
            value: value.to_vec(),
        }),
    })
}

/// Reads one Option or Marker without copying it: `None` is a Marker, else the
/// option's type and value.
pub fn read_item_ref<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<Option<(u64, &'a [u8])>> {
    let payload = r.vlu_prefixed(what)?;
    if payload.is_empty() {
        return Ok(None);
    }
    let mut p = Reader::new(payload);
    let kind = p.vlu(what)?;
    Ok(Some((kind, p.rest())))
}

/// Reads an Option List as [`read_list`] does (same errors), without copying:
/// returns its encoded bytes, Marker included (parse them with `read_list`).
pub fn read_list_ref<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8]> {
    let start = r.clone();
    loop {
        if r.is_empty() {
            return Err(WireError::UnterminatedOptionList { what });
        }
        if read_item_ref(r, what)?.is_none() {
            let mut whole = start;
            return whole.bytes(whole.remaining() - r.remaining(), what);
        }
    }
}

/// RFC 7016 §2.1.4: zero or more non-empty Options terminated by a Marker.
pub fn read_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Opt>> {
    let mut list = Vec::new();
    loop {
        if r.is_empty() {
            return Err(WireError::UnterminatedOptionList { what });
        }
        match read_item(r, what)? {
            OptionItem::Marker => return Ok(list),
            OptionItem::Option(o) => list.push(o),
        }
    }
}

/// Emits an Option List: the options, then a Marker.
pub fn emit_list(list: &[Opt], out: &mut Vec<u8>) {
    for o in list {
        o.emit(out);
    }
    out.push(0);
}

pub fn list_encoded_len(list: &[Opt]) -> usize {
    list.iter().map(Opt::encoded_len).sum::<usize>() + 1
}

/// A whole field made of Options and Markers that runs to the end of its
/// container, as the crypto profiles use for certificates, EPDs and key components.
pub fn parse_sequence(bytes: &[u8], what: &'static str) -> Result<Vec<OptionItem>> {
    let mut r = Reader::new(bytes);
    let mut items = Vec::new();
    while !r.is_empty() {
        items.push(read_item(&mut r, what)?);
    }
    Ok(items)
}

pub fn emit_sequence(items: &[OptionItem], out: &mut Vec<u8>) {
    for item in items {
        match item {
            OptionItem::Marker => out.push(0),
            OptionItem::Option(o) => o.emit(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_and_marker() {
        // `03 1a 02 0a`: length 3, type 0x1a, value 02 0a (flash-profile.md §4.1)
        let items = parse_sequence(&[0x03, 0x1a, 0x02, 0x0a, 0x00, 0x01, 0x0a], "t").unwrap();
        assert_eq!(
            items,
            vec![
                OptionItem::Option(Opt::new(0x1a, [0x02, 0x0a])),
                OptionItem::Marker,
                OptionItem::Option(Opt::new(0x0a, [])),
            ]
        );
        let mut out = Vec::new();
        emit_sequence(&items, &mut out);
        assert_eq!(out, [0x03, 0x1a, 0x02, 0x0a, 0x00, 0x01, 0x0a]);
    }

    #[test]
    fn list_needs_marker() {
        let mut r = Reader::new(&[0x02, 0x0a, 0x05]);
        assert!(matches!(
            read_list(&mut r, "t"),
            Err(WireError::UnterminatedOptionList { .. })
        ));
        let mut r = Reader::new(&[0x02, 0x0a, 0x05, 0x00, 0xaa]);
        assert_eq!(
            read_list(&mut r, "t").unwrap(),
            vec![Opt::new(0x0a, [0x05])]
        );
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn option_overrunning_its_container() {
        assert!(matches!(
            parse_sequence(&[0x05, 0x0a, 0x01], "t"),
            Err(WireError::LengthOverrun { len: 5, .. })
        ));
        // Type VLU runs past the option's own length.
        assert!(matches!(
            parse_sequence(&[0x01, 0x81, 0x00], "t"),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn large_type_codes() {
        let o = Opt::new(8192, b"x".to_vec());
        let mut out = Vec::new();
        o.emit(&mut out);
        assert_eq!(out, [0x03, 0xc0, 0x00, b'x']);
        assert_eq!(o.encoded_len(), 4);
    }
}
