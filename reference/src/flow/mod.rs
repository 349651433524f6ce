//! RFC 7016 §3.6: flows.
