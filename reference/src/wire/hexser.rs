//! Serde helpers: byte strings as lowercase hex, so JSON and YAML stay readable.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).map_err(serde::de::Error::custom)
}
