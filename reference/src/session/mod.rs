//! RFC 7016 §3.5 sessions.

pub mod cookie;
pub mod fragment;
