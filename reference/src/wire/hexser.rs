//! Serde helpers: byte strings as lowercase hex, so JSON and YAML stay readable.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(bytes))
}

/// Lowercase hex, as `hex::encode` gives it, into a buffer of the right size
/// (`hex::encode` collects a `String` one `char` at a time, several times
/// slower; `rtmfp dump` and the reports hex-encode every payload).
pub fn encode(bytes: &[u8]) -> String {
    let mut buf = vec![0; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut buf).expect("the buffer is twice the input");
    String::from_utf8(buf).expect("hex digits are ASCII")
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_is_hex_encode() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(super::encode(&all), hex::encode(&all));
        assert_eq!(super::encode(&[]), "");
        assert_eq!(super::encode(&[0x0a, 0xf0]), "0af0");
    }
}
