//! The field paths `expect`/`expect_none` steps may match on (`where:` for
//! chunk fields, `header:` for packet header fields), checked when a scenario
//! loads: a misspelled field would otherwise be a matcher that matches
//! nothing, and make an `expect_none` pass for the wrong reason.
//!
//! The schema is taken from the JSON the runner matches against (the chunk's
//! serde form via `rtmfp::describe::chunk_json`, the header's serde form plus
//! what the runner adds), built from one sample of every chunk type with
//! every optional field present, so it cannot drift from what is matched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value as Json;

use rtmfp::wire::chunk::*;
use rtmfp::wire::{Address, Header, Mode, Opt, Origin, WireError};

/// Fields the runner adds to the header's JSON (runner.rs, `Obs::header`).
const HEADER_EXTRAS: &[&str] = &[
    "session_id",
    "key",
    "padding_len",
    "chunks",
    "length",
    "time_us",
];

fn samples() -> Vec<Chunk> {
    let addr = Address::new(
        std::net::SocketAddr::from(([192, 0, 2, 1], 1935)),
        Origin::default(),
    );
    let flags = UserDataFlags {
        fragment_control: Fragmentation::Whole,
        abandon: false,
        fin: false,
        reserved: 0,
    };
    let opts = Some(vec![Opt {
        kind: 0,
        value: vec![1],
    }]);
    let ping = Ping { message: vec![1] };
    vec![
        Chunk::PacketFragment(PacketFragment {
            more_fragments: false,
            reserved: 0,
            packet_id: 1,
            fragment_num: 0,
            packet_fragment: vec![1],
        }),
        Chunk::IHello(IHello {
            epd: vec![1],
            tag: vec![1],
        }),
        Chunk::FIHello(FIHello {
            epd: vec![1],
            reply_address: addr,
            tag: vec![1],
        }),
        Chunk::RHello(RHello {
            tag_echo: vec![1],
            cookie: vec![1],
            responder_certificate: vec![1],
        }),
        Chunk::Redirect(Redirect {
            tag_echo: vec![1],
            redirect_destinations: vec![addr],
        }),
        Chunk::RHelloCookieChange(RHelloCookieChange {
            old_cookie: vec![1],
            new_cookie: vec![1],
        }),
        Chunk::IIKeying(IIKeying {
            initiator_session_id: 1,
            cookie_echo: vec![1],
            initiator_certificate: vec![1],
            skic: vec![1],
            signature: vec![1],
        }),
        Chunk::RIKeying(RIKeying {
            responder_session_id: 1,
            skrc: vec![1],
            signature: vec![1],
        }),
        Chunk::Ping(ping.clone()),
        Chunk::PingReply(ping),
        Chunk::UserData(UserData {
            flags,
            flow_id: 1,
            sequence_number: 1,
            fsn_offset: 1,
            options: opts.clone(),
            user_data: vec![1],
        }),
        Chunk::NextUserData(NextUserData {
            flags,
            options: opts,
            user_data: vec![1],
        }),
        Chunk::BitmapAck(BitmapAck {
            flow_id: 1,
            buffer_blocks_available: 1,
            cumulative_ack: 1,
            bitmap: vec![1],
        }),
        Chunk::RangeAck(RangeAck {
            flow_id: 1,
            buffer_blocks_available: 1,
            cumulative_ack: 1,
            ranges: vec![AckRange {
                holes_minus_one: 0,
                received_minus_one: 0,
            }],
            truncated: vec![1],
        }),
        Chunk::BufferProbe(BufferProbe { flow_id: 1 }),
        Chunk::FlowExceptionReport(FlowExceptionReport {
            flow_id: 1,
            exception: 0,
        }),
        Chunk::Close,
        Chunk::CloseAck,
        Chunk::Unknown {
            chunk_type: 0x20,
            payload: vec![1],
        },
        Chunk::Malformed(MalformedChunk {
            chunk_type: 0x10,
            payload: vec![1],
            error: WireError::VluOverflow { what: "x" },
        }),
    ]
}

/// Every path in `v`, array indices written `#`.
fn paths(v: &Json, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        Json::Array(a) => {
            let p = format!("{prefix}.#");
            out.insert(p.clone());
            for x in a {
                paths(x, &p, out);
            }
        }
        _ => {}
    }
}

struct Schema {
    chunks: BTreeMap<String, BTreeSet<String>>,
    header: BTreeSet<String>,
}

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let mut chunks = BTreeMap::new();
        for c in samples() {
            let j = rtmfp::describe::chunk_json(&c, None);
            let name = j["chunk"].as_str().unwrap_or_default().to_string();
            let mut set = BTreeSet::new();
            paths(&j, "", &mut set);
            chunks.insert(name, set);
        }
        let mut h = Header::new(Mode::Startup);
        h.timestamp = Some(1);
        h.timestamp_echo = Some(1);
        let mut header = BTreeSet::new();
        paths(
            &serde_json::to_value(h).unwrap_or(Json::Null),
            "",
            &mut header,
        );
        header.extend(HEADER_EXTRAS.iter().map(|s| s.to_string()));
        Schema { chunks, header }
    })
}

/// A matcher path with array indices written `#`.
fn normalized(path: &str) -> String {
    path.split('.')
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                "#"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn known(set: &BTreeSet<String>, path: &str) -> bool {
    // `decoded` is the profile's reading of a chunk (certificates, keying
    // components): its shape depends on the bytes, so it is not checked.
    path == "decoded" || path.starts_with("decoded.") || set.contains(&normalized(path))
}

/// Checks a `where:` path against the chunks it may apply to (`None`: any).
pub fn check_where(path: &str, chunks: Option<&[String]>) -> Result<(), String> {
    let s = schema();
    let names: Vec<&String> = match chunks {
        Some(n) => n.iter().collect(),
        None => s.chunks.keys().collect(),
    };
    if names
        .iter()
        .any(|n| s.chunks.get(*n).is_some_and(|set| known(set, path)))
    {
        return Ok(());
    }
    let mut fields: BTreeSet<&str> = BTreeSet::new();
    for n in &names {
        if let Some(set) = s.chunks.get(*n) {
            fields.extend(set.iter().filter(|p| !p.contains('.')).map(|p| p.as_str()));
        }
    }
    Err(format!(
        "`{path}` is not a field of {} (fields: {})",
        match chunks {
            Some(n) => n.join(" or "),
            None => "any chunk".into(),
        },
        fields.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// Checks an expectation's `where:` and `header:` paths (after its chunk
/// names, which the caller checks); the error names the bad field.
pub fn check_expect(x: &crate::scenario::ExpectStep) -> Result<(), (String, String)> {
    let names: Option<Vec<String>> = x
        .chunk
        .as_ref()
        .map(|c| c.list().into_iter().filter(|n| n != "any").collect())
        .filter(|v: &Vec<String>| !v.is_empty());
    if let Some(n) = &names
        && n.iter().any(|n| !schema().chunks.contains_key(n))
    {
        return Ok(()); // unknown chunk name: reported by the caller
    }
    for k in x.where_.keys() {
        check_where(k, names.as_deref()).map_err(|e| (k.clone(), e))?;
    }
    for k in x.header.keys() {
        check_header(k).map_err(|e| (k.clone(), e))?;
    }
    Ok(())
}

/// Checks a `header:` path.
pub fn check_header(path: &str) -> Result<(), String> {
    let s = schema();
    if known(&s.header, path) {
        return Ok(());
    }
    let fields: Vec<&str> = s
        .header
        .iter()
        .filter(|p| !p.contains('.'))
        .map(|p| p.as_str())
        .collect();
    Err(format!(
        "`{path}` is not a packet header field (fields: {})",
        fields.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_misspelled_fields() {
        let ud = vec!["user_data".to_string()];
        assert!(check_where("flow_id", Some(&ud)).is_ok());
        assert!(check_where("final", Some(&ud)).is_ok());
        assert!(check_where("fin", Some(&ud)).is_err());
        assert!(check_where("fragment_control", Some(&ud)).is_ok());
        assert!(check_where("options.0.value", Some(&ud)).is_ok());
        let e = check_where("flowid", Some(&ud)).unwrap_err();
        assert!(e.contains("`flowid` is not a field of user_data"), "{e}");
        assert!(check_where("message", None).is_ok());
        assert!(check_where("mesage", None).is_err());
        assert!(check_header("timestamp_echo").is_ok());
        assert!(check_header("session_id").is_ok());
        assert!(check_header("timestamp_ehco").is_err());
    }

    /// A misspelled field is an error with the file, line and column of the
    /// field when the scenario loads.
    #[test]
    fn a_scenario_with_a_misspelled_field_does_not_load() {
        let text = "id: x.y
title: T
rfc: [\"7016 §2.3.10\"]
role: initiator
steps:
  - connect: {}
  - expect: {within: 1s, chunk: ping_reply}
  - expect_none:
      within: 1s
      chunk: ping_reply
      where: {mesage: \"01\"}
";
        let e = crate::scenario::Scenario::parse(
            text,
            std::path::Path::new("a.yaml"),
            &std::collections::BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("a.yaml:11:"), "{e}");
        assert!(e.contains("`mesage` is not a field of ping_reply"), "{e}");
        let good = text.replace("mesage", "message");
        assert!(
            crate::scenario::Scenario::parse(
                &good,
                std::path::Path::new("a.yaml"),
                &std::collections::BTreeSet::new()
            )
            .is_ok()
        );
    }

    /// Every chunk name a scenario may use has a sample.
    #[test]
    fn every_chunk_name_has_a_schema() {
        for n in crate::values::CHUNK_NAMES {
            assert!(schema().chunks.contains_key(*n), "{n}");
        }
    }
}
