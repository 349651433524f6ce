//! Human-readable descriptions of packets and chunks, with profile-specific
//! structures (EPDs, certificates, key components, user data options) decoded by
//! name. Used by `rtmfp dump` (text and JSON) and by the conformance reports.

use serde_json::{Value, json};

use crate::crypto::flash::{cert, epd, keying};
use crate::decode::Profile;
use crate::wire::option::{self, OptionItem};
use crate::wire::{Chunk, Header, Opt, Reader, hexser, user_data_option};

/// Bytes as text if they are printable ASCII, else as hex.
pub fn bytes(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        format!("{:?}", String::from_utf8_lossy(b))
    } else {
        hexser::encode(b)
    }
}

/// Bytes shortened to `max` bytes of hex, with the total length.
pub fn short(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        hexser::encode(b)
    } else {
        format!("{}..({} bytes)", hexser::encode(&b[..max]), b.len())
    }
}

/// A named option of a profile structure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedOption {
    #[serde(rename = "type")]
    pub kind: u64,
    pub name: &'static str,
    pub value: String,
}

/// A profile structure (EPD, certificate, session key component) by name: what
/// `decoded` shows in JSON and what a chunk's line lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Named {
    /// Flash: its options, by name.
    Options(Vec<NamedItem>),
    /// Flash: not a well-formed option list.
    Error { error: String, raw: String },
    /// Plain: the structure is an identity, shown as text or hex.
    Plain(String),
}

/// One item of a [`Named::Options`] list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum NamedItem {
    /// RFC 7016 §2.1.3: a zero-length marker (`name` is always "Marker").
    Marker {
        name: &'static str,
    },
    Option(NamedOption),
}

fn name_options(
    raw: &[u8],
    namer: fn(u64) -> &'static str,
    value: fn(u64, &[u8]) -> String,
) -> Named {
    match option::parse_sequence(raw, "option") {
        Ok(items) => Named::Options(
            items
                .into_iter()
                .map(|i| match i {
                    OptionItem::Marker => NamedItem::Marker { name: "Marker" },
                    OptionItem::Option(Opt { kind, value: v }) => NamedItem::Option(NamedOption {
                        kind,
                        name: namer(kind),
                        value: value(kind, &v),
                    }),
                })
                .collect(),
        ),
        Err(e) => Named::Error {
            error: e.to_string(),
            raw: hexser::encode(raw),
        },
    }
}

fn group_key(v: &[u8]) -> String {
    let mut r = Reader::new(v);
    match r.vlu("group") {
        Ok(g) => format!(
            "group {g}, {} byte key {}",
            r.remaining(),
            short(r.rest(), 8)
        ),
        Err(_) => hexser::encode(v),
    }
}

fn vlu_value(v: &[u8]) -> String {
    let mut r = Reader::new(v);
    match (r.vlu("v"), r.is_empty()) {
        (Ok(n), true) => n.to_string(),
        _ => hexser::encode(v),
    }
}

fn epd_value(kind: u64, v: &[u8]) -> String {
    match kind {
        epd::types::FINGERPRINT => hexser::encode(v),
        _ => bytes(v),
    }
}

fn cert_value(kind: u64, v: &[u8]) -> String {
    match kind {
        cert::types::SUPPORTED_EPHEMERAL_DH_GROUP => vlu_value(v),
        cert::types::STATIC_DH_PUBLIC_KEY => group_key(v),
        cert::types::EXTRA_RANDOMNESS => short(v, 8),
        _ => bytes(v),
    }
}

fn component_value(kind: u64, v: &[u8]) -> String {
    match kind {
        keying::types::EPHEMERAL_DH_PUBLIC_KEY => group_key(v),
        keying::types::DH_GROUP_SELECT => vlu_value(v),
        keying::types::EXTRA_RANDOMNESS => short(v, 8),
        keying::types::HMAC_NEGOTIATION | keying::types::SSEQ_NEGOTIATION => {
            let mut r = Reader::new(v);
            let flags = r.u8("flags").unwrap_or(0);
            let mut s = format!("flags {flags:#04x}");
            for (bit, n) in [(4, "send-always"), (2, "send-on-request"), (1, "request")] {
                if flags & bit != 0 {
                    s.push(' ');
                    s.push_str(n);
                }
            }
            if kind == keying::types::HMAC_NEGOTIATION
                && let Ok(len) = r.vlu("len")
            {
                s.push_str(&format!(", length {len}"));
            }
            s
        }
        _ => hexser::encode(v),
    }
}

/// A profile structure decoded by name (Flash) or shown as its identity (plain).
fn profile_struct(raw: &[u8], profile: Option<Profile>, kind: Struct) -> Named {
    match profile {
        Some(Profile::Plain) => Named::Plain(bytes(raw)),
        _ => match kind {
            Struct::Epd => name_options(raw, epd::option_name, epd_value),
            Struct::Certificate => name_options(raw, cert::option_name, cert_value),
            Struct::Component => name_options(raw, keying::option_name, component_value),
        },
    }
}

#[derive(Clone, Copy)]
enum Struct {
    Epd,
    Certificate,
    Component,
}

fn user_data_options(options: &Option<Vec<Opt>>) -> Option<Vec<NamedOption>> {
    let list = options.as_ref()?;
    Some(
        list.iter()
            .map(|o| {
                let (name, value) = match o.kind {
                    user_data_option::METADATA => ("User's Per-Flow Metadata", bytes(&o.value)),
                    user_data_option::RETURN_FLOW_ASSOCIATION => {
                        ("Return Flow Association", vlu_value(&o.value))
                    }
                    _ => ("unknown", hexser::encode(&o.value)),
                };
                NamedOption {
                    kind: o.kind,
                    name,
                    value,
                }
            })
            .collect(),
    )
}

/// The decoded, by-name view of a chunk's profile structures and options (the
/// `decoded` member of [`chunk_json`]; its fields are JSON's names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Decoded {
    /// IHello, FIHello.
    Epd {
        epd: Named,
    },
    /// RHello.
    Responder {
        responder_certificate: Named,
    },
    IIKeying {
        initiator_certificate: Named,
        skic: Named,
    },
    RIKeying {
        skrc: Named,
    },
    UserData {
        forward_sequence_number: u64,
        options: Option<Vec<NamedOption>>,
    },
    NextUserData {
        options: Option<Vec<NamedOption>>,
    },
    /// Bitmap and Range Acks: inclusive ranges beyond the cumulative ack.
    Ack {
        acknowledged: Vec<(u64, u64)>,
        buffer_bytes_available: u64,
    },
}

/// The decoded, by-name view of a chunk, for the chunks that have one.
pub fn decoded(c: &Chunk, profile: Option<Profile>) -> Option<Decoded> {
    Some(match c {
        Chunk::IHello(x) => Decoded::Epd {
            epd: profile_struct(&x.epd, profile, Struct::Epd),
        },
        Chunk::FIHello(x) => Decoded::Epd {
            epd: profile_struct(&x.epd, profile, Struct::Epd),
        },
        Chunk::RHello(x) => Decoded::Responder {
            responder_certificate: profile_struct(
                &x.responder_certificate,
                profile,
                Struct::Certificate,
            ),
        },
        Chunk::IIKeying(x) => Decoded::IIKeying {
            initiator_certificate: profile_struct(
                &x.initiator_certificate,
                profile,
                Struct::Certificate,
            ),
            skic: profile_struct(&x.skic, profile, Struct::Component),
        },
        Chunk::RIKeying(x) => Decoded::RIKeying {
            skrc: profile_struct(&x.skrc, profile, Struct::Component),
        },
        Chunk::UserData(x) => Decoded::UserData {
            forward_sequence_number: x.forward_sequence_number(),
            options: user_data_options(&x.options),
        },
        Chunk::NextUserData(x) => Decoded::NextUserData {
            options: user_data_options(&x.options),
        },
        Chunk::BitmapAck(x) => Decoded::Ack {
            acknowledged: x.ranges(),
            buffer_bytes_available: x.buffer_blocks_available.saturating_mul(1024),
        },
        Chunk::RangeAck(x) => Decoded::Ack {
            acknowledged: x.ranges(),
            buffer_bytes_available: x.buffer_blocks_available.saturating_mul(1024),
        },
        _ => return None,
    })
}

/// The JSON of a chunk: its fields (serde), its type code and name, and the
/// decoded view.
pub fn chunk_json(c: &Chunk, profile: Option<Profile>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), json!(format!("{:#04x}", c.chunk_type())));
        m.insert("name".into(), json!(c.name()));
        if let Some(d) = decoded(c, profile) {
            m.insert(
                "decoded".into(),
                serde_json::to_value(d).unwrap_or(Value::Null),
            );
        }
    }
    v
}

/// A structure's options as `name=value, ...` (an error as its JSON, a plain
/// identity as itself).
fn join_named(n: &Named) -> String {
    match n {
        Named::Options(items) => items
            .iter()
            .map(|i| match i {
                NamedItem::Marker { name } => name.to_string(),
                NamedItem::Option(o) => join_option(o),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Named::Error { .. } => serde_json::to_string(n).unwrap_or_default(),
        Named::Plain(s) => s.clone(),
    }
}

fn join_option(o: &NamedOption) -> String {
    if o.value.is_empty() {
        o.name.to_string()
    } else {
        format!("{}={}", o.name, o.value)
    }
}

fn join_user_options(list: &Option<Vec<NamedOption>>) -> String {
    list.iter()
        .flatten()
        .map(join_option)
        .collect::<Vec<_>>()
        .join(", ")
}

fn fragmentation(f: crate::wire::UserDataFlags) -> String {
    let mut s = format!("{:?}", f.fragment_control).to_lowercase();
    if f.abandon {
        s.push_str(" ABN");
    }
    if f.fin {
        s.push_str(" FIN");
    }
    if f.reserved != 0 {
        s.push_str(&format!(" rsv={:#04x}", f.reserved));
    }
    s
}

/// The header flags as `TC,TCR,TS,TSE` plus any reserved bits.
pub fn header_flags(h: &Header) -> String {
    let mut f = Vec::new();
    if h.time_critical {
        f.push("TC".to_string());
    }
    if h.time_critical_reverse {
        f.push("TCR".into());
    }
    if h.timestamp.is_some() {
        f.push("TS".into());
    }
    if h.timestamp_echo.is_some() {
        f.push("TSE".into());
    }
    if h.reserved != 0 {
        f.push(format!("rsv={:#04x}", h.reserved));
    }
    if f.is_empty() {
        "-".into()
    } else {
        f.join(",")
    }
}

/// One line describing a chunk; `verbose` adds full values instead of summaries.
pub fn chunk_line(c: &Chunk, profile: Option<Profile>, verbose: bool) -> String {
    let n = if verbose { usize::MAX } else { 16 };
    let head = format!("{:#04x} {}", c.chunk_type(), c.name());
    let body = match c {
        Chunk::PacketFragment(x) => format!(
            "packetID={} fragmentNum={} more={} fragment={}",
            x.packet_id,
            x.fragment_num,
            x.more_fragments,
            short(&x.packet_fragment, n)
        ),
        Chunk::IHello(x) => format!(
            "epd=[{}] tag={}",
            join_named(&profile_struct(&x.epd, profile, Struct::Epd)),
            short(&x.tag, n)
        ),
        Chunk::FIHello(x) => format!(
            "epd=[{}] replyAddress={} tag={}",
            join_named(&profile_struct(&x.epd, profile, Struct::Epd)),
            x.reply_address,
            short(&x.tag, n)
        ),
        Chunk::RHello(x) => format!(
            "tagEcho={} cookie={} certificate=[{}]",
            short(&x.tag_echo, n),
            short(&x.cookie, n),
            join_named(&profile_struct(
                &x.responder_certificate,
                profile,
                Struct::Certificate
            ))
        ),
        Chunk::Redirect(x) => {
            let dest: Vec<String> = x
                .redirect_destinations
                .iter()
                .map(|a| a.to_string())
                .collect();
            if dest.is_empty() {
                format!("tagEcho={} (implied redirect)", short(&x.tag_echo, n))
            } else {
                format!(
                    "tagEcho={} destinations=[{}]",
                    short(&x.tag_echo, n),
                    dest.join(", ")
                )
            }
        }
        Chunk::RHelloCookieChange(x) => {
            format!(
                "oldCookie={} newCookie={}",
                short(&x.old_cookie, n),
                short(&x.new_cookie, n)
            )
        }
        Chunk::IIKeying(x) => format!(
            "initiatorSessionID={:08x} cookieEcho={} certificate=[{}] skic=[{}] signature={}",
            x.initiator_session_id,
            short(&x.cookie_echo, n),
            join_named(&profile_struct(
                &x.initiator_certificate,
                profile,
                Struct::Certificate
            )),
            join_named(&profile_struct(&x.skic, profile, Struct::Component)),
            hexser::encode(&x.signature)
        ),
        Chunk::RIKeying(x) => format!(
            "responderSessionID={:08x} skrc=[{}] signature={}",
            x.responder_session_id,
            join_named(&profile_struct(&x.skrc, profile, Struct::Component)),
            hexser::encode(&x.signature)
        ),
        Chunk::Ping(x) | Chunk::PingReply(x) => format!("message={}", short(&x.message, n)),
        Chunk::UserData(x) => {
            let mut s = format!(
                "flow={} seq={} fsnOffset={} (fsn={}) {}",
                x.flow_id,
                x.sequence_number,
                x.fsn_offset,
                x.forward_sequence_number(),
                fragmentation(x.flags)
            );
            if x.options.is_some() {
                s.push_str(&format!(
                    " options=[{}]",
                    join_user_options(&user_data_options(&x.options))
                ));
            }
            s.push_str(&format!(" data={}", data(&x.user_data, verbose)));
            s
        }
        Chunk::NextUserData(x) => {
            let mut s = fragmentation(x.flags);
            if x.options.is_some() {
                s.push_str(&format!(
                    " options=[{}]",
                    join_user_options(&user_data_options(&x.options))
                ));
            }
            s.push_str(&format!(" data={}", data(&x.user_data, verbose)));
            s
        }
        Chunk::BitmapAck(x) => format!(
            "flow={} bufAvail={} cumAck={} acked={}",
            x.flow_id,
            x.buffer_blocks_available,
            x.cumulative_ack,
            range_list(&x.ranges())
        ),
        Chunk::RangeAck(x) => {
            let mut s = format!(
                "flow={} bufAvail={} cumAck={} acked={}",
                x.flow_id,
                x.buffer_blocks_available,
                x.cumulative_ack,
                range_list(&x.ranges())
            );
            if !x.truncated.is_empty() {
                s.push_str(&format!(" truncated={}", hexser::encode(&x.truncated)));
            }
            s
        }
        Chunk::BufferProbe(x) => format!("flow={}", x.flow_id),
        Chunk::FlowExceptionReport(x) => format!("flow={} exception={}", x.flow_id, x.exception),
        Chunk::Close | Chunk::CloseAck => String::new(),
        Chunk::Unknown { payload, .. } => format!("payload={}", short(payload, n)),
        Chunk::Malformed(m) => format!("MALFORMED ({}) payload={}", m.error, short(&m.payload, n)),
    };
    if body.is_empty() {
        head
    } else {
        format!("{head} {body}")
    }
}

fn data(b: &[u8], verbose: bool) -> String {
    if verbose {
        hexser::encode(b)
    } else if b.len() <= 16 {
        bytes(b)
    } else {
        format!("{} bytes", b.len())
    }
}

fn range_list(r: &[(u64, u64)]) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IHello, Ping};

    #[test]
    fn flash_epd_by_name() {
        let c = Chunk::IHello(IHello {
            epd: b"\x07\x0artmfp:\x05\x00echo".to_vec(),
            tag: vec![1, 2],
        });
        assert_eq!(
            chunk_line(&c, Some(Profile::Flash), false),
            "0x30 IHello epd=[Ancillary Data=\"rtmfp:\", Required Hostname=\"echo\"] tag=0102"
        );
        assert_eq!(
            chunk_line(&c, Some(Profile::Plain), false),
            format!(
                "0x30 IHello epd=[{}] tag=0102",
                hex::encode(b"\x07\x0artmfp:\x05\x00echo")
            )
        );
        let j = chunk_json(&c, Some(Profile::Flash));
        assert_eq!(j["name"], "IHello");
        assert_eq!(j["type"], "0x30");
        assert_eq!(j["decoded"]["epd"][0]["name"], "Ancillary Data");
        assert_eq!(
            chunk_line(&Chunk::Ping(Ping { message: vec![] }), None, false),
            "0x01 Ping message="
        );
    }
}
