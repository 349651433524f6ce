//! RFC 7016 §2: the syntax of RTMFP, one file per structure.
//!
//! Every structure has a parser that never panics and never allocates more than
//! its input, and an emitter; on valid input (minimal VLUs) they are exact inverses.
//!
//! The structures' serde form (snake_case field names, `chunk:` tags, hex byte
//! strings, unknown fields refused) is the conformance suite's scenario language:
//! `tests/serde_form.rs` pins it, case by case, to hand-written text and wire bytes,
//! so renaming a field here cannot silently change the language.

pub mod address;
pub mod chunk;
pub mod error;
pub mod hexser;
pub mod multiplex;
pub mod option;
pub mod packet;
pub mod reader;
pub mod vlu;

pub use address::{Address, Origin};
pub use chunk::*;
pub use error::WireError;
pub use option::{Opt, OptionItem};
pub use packet::{Header, Mode, Packet, PacketView, RawChunk, RawChunks};
pub use reader::Reader;
