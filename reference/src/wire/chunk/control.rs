//! RFC 7016 §2.3.9-§2.3.10, §2.3.17-§2.3.19: session control — Ping and Ping
//! Reply (this struct); Session Close Request and Close Acknowledgement carry no
//! fields ([`super::Chunk::Close`], [`super::Chunk::CloseAck`]).

use super::*;

/// RFC 7016 §2.3.9 Ping (`message`) and §2.3.10 Ping Reply (`messageEcho`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    #[serde(with = "crate::wire::hexser", default)]
    pub message: Vec<u8>,
}
