//! Variables, substitution into YAML values, chunks built from fields, and field
//! matchers for expectations.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use rtmfp::wire::Chunk;

/// Chunk names as scenarios and `rtmfp dump --json` spell them.
pub const CHUNK_NAMES: &[&str] = &[
    "packet_fragment",
    "ihello",
    "fihello",
    "rhello",
    "redirect",
    "rhello_cookie_change",
    "iikeying",
    "rikeying",
    "ping",
    "ping_reply",
    "user_data",
    "next_user_data",
    "bitmap_ack",
    "range_ack",
    "buffer_probe",
    "flow_exception_report",
    "close",
    "close_ack",
    "unknown",
    "malformed",
];

/// A scenario's variables (captured or set), as JSON values.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub map: BTreeMap<String, Json>,
}

pub fn yaml_to_json(v: &Yaml) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

fn json_to_yaml(v: &Json) -> Yaml {
    serde_yaml_ng::to_value(v).unwrap_or(Yaml::Null)
}

/// Follows a dotted path (`options.0.value`) into a JSON value.
pub fn path<'a>(v: &'a Json, p: &str) -> Option<&'a Json> {
    let mut cur = v;
    for part in p.split('.').filter(|s| !s.is_empty()) {
        cur = match cur {
            Json::Object(m) => m.get(part)?,
            Json::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

impl Vars {
    pub fn set(&mut self, name: &str, v: Json) {
        self.map.insert(name.to_string(), v);
    }

    /// `$name` or `$name.field.path`.
    pub fn lookup(&self, reference: &str) -> Option<Json> {
        if let Some(v) = self.map.get(reference) {
            return Some(v.clone());
        }
        let (base, rest) = reference.split_once('.')?;
        let v = self.map.get(base)?;
        path(v, rest).cloned()
    }

    /// Replaces every `$ref` string in a YAML tree by its value.
    pub fn substitute(&self, v: &Yaml) -> Result<Yaml, String> {
        Ok(match v {
            Yaml::String(s) if s.starts_with('$') => {
                let r = &s[1..];
                json_to_yaml(
                    &self
                        .lookup(r)
                        .ok_or_else(|| format!("`${r}` has no value"))?,
                )
            }
            Yaml::Sequence(seq) => Yaml::Sequence(
                seq.iter()
                    .map(|x| self.substitute(x))
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Mapping(m) => {
                let mut out = serde_yaml_ng::Mapping::new();
                for (k, x) in m {
                    out.insert(k.clone(), self.substitute(x)?);
                }
                Yaml::Mapping(out)
            }
            other => other.clone(),
        })
    }

    pub fn resolve_json(&self, v: &Yaml) -> Result<Json, String> {
        Ok(yaml_to_json(&self.substitute(v)?))
    }

    /// A value as u64 (a number, or a decimal string).
    pub fn resolve_u64(&self, v: &Yaml) -> Result<u64, String> {
        let j = self.resolve_json(v)?;
        as_u64(&j).ok_or_else(|| format!("`{}` is not a number", j))
    }

    /// A value as bytes: hex string (spaces allowed) or `text:...`.
    pub fn resolve_bytes(&self, v: &Yaml) -> Result<Vec<u8>, String> {
        let j = self.resolve_json(v)?;
        let s = j
            .as_str()
            .ok_or_else(|| format!("`{j}` is not a byte string"))?;
        bytes(s)
    }
}

/// Hex (whitespace ignored) or `text:...`.
pub fn bytes(s: &str) -> Result<Vec<u8>, String> {
    if let Some(t) = s.strip_prefix("text:") {
        return Ok(t.as_bytes().to_vec());
    }
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| format!("`{s}` is not hex: {e}"))
}

pub fn as_u64(j: &Json) -> Option<u64> {
    match j {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Evaluates byte-string builders (after substitution), anywhere in `v`:
/// `{plain_packet: {header: {...}, chunks: [...], padding: hex}}` is the plain
/// packet's bytes (header default: mode 3, no timestamps), and
/// `{slice: [bytes, from, to]}` bytes `from..to` (`to` optional: the end), and
/// `{concat: [bytes, ...]}` the parts joined. They become hex strings; other
/// values are returned unchanged.
pub fn build(v: &Json) -> Result<Json, String> {
    Ok(match v {
        Json::Object(m) if m.len() == 1 && m.contains_key("plain_packet") => {
            let spec = build(&m["plain_packet"])?;
            let mut header = serde_json::json!({"mode": "startup"});
            if let (Some(Json::Object(p)), Json::Object(h)) = (spec.get("header"), &mut header) {
                h.extend(p.clone());
            }
            let header: rtmfp::wire::Header =
                serde_json::from_value(header).map_err(|e| format!("plain_packet header: {e}"))?;
            let chunks = match spec.get("chunks") {
                Some(Json::Array(a)) => a.iter().map(chunk_from).collect::<Result<_, _>>()?,
                None => Vec::new(),
                Some(x) => return Err(format!("plain_packet chunks: `{x}` is not a list")),
            };
            let mut p = rtmfp::wire::Packet::new(header, chunks);
            if let Some(pad) = spec.get("padding") {
                p.padding = bytes(pad.as_str().ok_or("plain_packet padding: not hex")?)?;
            }
            Json::String(hex::encode(p.to_bytes().map_err(|e| e.to_string())?))
        }
        Json::Object(m) if m.len() == 1 && m.contains_key("concat") => {
            let parts = build(&m["concat"])?;
            let mut out = Vec::new();
            for x in parts.as_array().ok_or("concat: expected a list")? {
                out.extend(bytes(x.as_str().ok_or("concat: not a byte string")?)?);
            }
            Json::String(hex::encode(out))
        }
        Json::Object(m) if m.len() == 1 && m.contains_key("slice") => {
            let args = build(&m["slice"])?;
            let a = args.as_array().filter(|a| (2..=3).contains(&a.len()));
            let a = a.ok_or("slice: expected [bytes, from, to]")?;
            let b = bytes(a[0].as_str().ok_or("slice: not a byte string")?)?;
            let from = as_u64(&a[1]).ok_or("slice: `from` is not a number")? as usize;
            let to = a.get(2).map_or(Some(b.len() as u64), as_u64);
            let to = to.ok_or("slice: `to` is not a number")? as usize;
            let part = b
                .get(from..to)
                .ok_or_else(|| format!("slice {from}..{to} of {} bytes", b.len()))?;
            Json::String(hex::encode(part))
        }
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), build(x)?)))
                .collect::<Result<_, String>>()?,
        ),
        Json::Array(a) => Json::Array(a.iter().map(build).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

/// A value as bytes after substitution and [`build`].
pub fn resolve_built(vars: &Vars, v: &Yaml) -> Result<Vec<u8>, String> {
    let j = build(&vars.resolve_json(v)?)?;
    bytes(
        j.as_str()
            .ok_or_else(|| format!("`{j}` is not a byte string"))?,
    )
}

/// Builds a chunk from its fields (after substitution), as serde knows them.
/// Byte strings may be written `text:...` or as hex with spaces, or with the
/// [`build`] forms.
pub fn chunk_from(v: &Json) -> Result<Chunk, String> {
    let v = &build(v)?;
    fn norm(v: &Json) -> Result<Json, String> {
        Ok(match v {
            Json::String(s) if s.starts_with("text:") => {
                Json::String(hex::encode(&s.as_bytes()[5..]))
            }
            Json::String(s)
                if s.contains(' ') && s.chars().all(|c| c.is_ascii_hexdigit() || c == ' ') =>
            {
                Json::String(s.replace(' ', ""))
            }
            Json::Array(a) => Json::Array(a.iter().map(norm).collect::<Result<_, _>>()?),
            // `{vlu: N}`: the bytes of N as a VLU (e.g. a return association).
            Json::Object(m) if m.len() == 1 && m.contains_key("vlu") => {
                let n =
                    as_u64(&m["vlu"]).ok_or_else(|| format!("`{}` is not a number", m["vlu"]))?;
                Json::String(hex::encode(rtmfp::wire::vlu::to_vec(n)))
            }
            Json::Object(m) => {
                let mut o = serde_json::Map::new();
                for (k, x) in m {
                    // An option's value written as a number: `{type: 10, vlu: 5}`.
                    if k == "vlu" && !m.contains_key("value") {
                        let n = as_u64(x).ok_or_else(|| format!("vlu `{x}` is not a number"))?;
                        let mut b = Vec::new();
                        rtmfp::wire::vlu::encode(n, &mut b);
                        o.insert("value".into(), Json::String(hex::encode(b)));
                        continue;
                    }
                    o.insert(k.clone(), norm(x)?);
                }
                Json::Object(o)
            }
            other => other.clone(),
        })
    }
    let n = norm(v)?;
    serde_json::from_value::<Chunk>(n).map_err(|e| format!("bad chunk {v}: {e}"))
}

/// Evaluates arithmetic in a `set` value (after substitution): a one-key map
/// `{add|sub|mul|min|max: [a, b, ...]}` of numbers (or nested such maps), e.g.
/// `{add: [$t1, {sub: [$t1, $t0]}, 1500000]}`. Integers stay integers.
pub fn eval(v: &Json) -> Result<Json, String> {
    let Json::Object(m) = v else {
        return Ok(v.clone());
    };
    let Some((op, Json::Array(args))) = m.iter().next().filter(|_| m.len() == 1) else {
        return Ok(v.clone());
    };
    if !["add", "sub", "mul", "min", "max"].contains(&op.as_str()) {
        return Ok(v.clone());
    }
    let xs = args
        .iter()
        .map(|a| {
            let e = eval(a)?;
            num(&e).ok_or_else(|| format!("`{e}` is not a number (in `{op}`)"))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    let (first, rest) = xs
        .split_first()
        .ok_or_else(|| format!("`{op}` needs arguments"))?;
    let r = rest.iter().fold(*first, |acc, x| match op.as_str() {
        "add" => acc + x,
        "sub" => acc - x,
        "mul" => acc * x,
        "min" => acc.min(*x),
        _ => acc.max(*x),
    });
    Ok(if r.fract() == 0.0 && r.abs() < 9.0e15 {
        Json::from(r as i64)
    } else {
        Json::from(r)
    })
}

fn num(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn scalar_eq(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::String(e), Json::String(a)) => {
            let norm = |s: &str| {
                s.chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_lowercase()
            };
            norm(e) == norm(a)
                || e.strip_prefix("text:")
                    .is_some_and(|t| hex::encode(t.as_bytes()) == norm(a))
        }
        (Json::Array(e), Json::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, Some(y)))
        }
        (e, a) if num(e).is_some() && num(a).is_some() && !e.is_string() => num(e) == num(a),
        (e, a) => e == a,
    }
}

/// Matches an expected value (after substitution) against an actual field:
/// equality, or an operator map `{eq|ne|lt|le|gt|ge|len|present|any_of|not|contains|count: ...}`.
/// `count: {where: {path: matcher, ...}, is: matcher}` counts the elements of an
/// array on which every `where` matcher holds.
pub fn matches(expected: &Json, actual: Option<&Json>) -> bool {
    if let Json::Object(ops) = expected
        && !ops.is_empty()
        && ops.keys().all(|k| {
            [
                "eq", "ne", "lt", "le", "gt", "ge", "len", "present", "any_of", "not", "contains",
                "count", "all_of",
            ]
            .contains(&k.as_str())
        })
    {
        return ops.iter().all(|(op, v)| match op.as_str() {
            "present" => v.as_bool() == Some(actual.is_some_and(|a| !a.is_null())),
            "eq" => actual.is_some_and(|a| scalar_eq(v, a)),
            "ne" => !actual.is_some_and(|a| scalar_eq(v, a)),
            "lt" | "le" | "gt" | "ge" => match (actual.and_then(num), num(v)) {
                (Some(a), Some(b)) => match op.as_str() {
                    "lt" => a < b,
                    "le" => a <= b,
                    "gt" => a > b,
                    _ => a >= b,
                },
                _ => false,
            },
            "len" => {
                let len = match actual {
                    Some(Json::String(s)) => Some(s.len() / 2),
                    Some(Json::Array(a)) => Some(a.len()),
                    _ => None,
                };
                len.is_some_and(|l| matches(v, Some(&Json::from(l as u64))))
            }
            "any_of" => v
                .as_array()
                .is_some_and(|opts| opts.iter().any(|o| actual.is_some_and(|a| scalar_eq(o, a)))),
            "not" => !matches(v, actual),
            "all_of" => v
                .as_array()
                .is_some_and(|ms| ms.iter().all(|m| matches(m, actual))),
            "contains" => match (actual, v) {
                (Some(Json::String(a)), Json::String(b)) => {
                    a.to_lowercase().contains(&b.to_lowercase())
                }
                (Some(Json::Array(a)), b) => a.iter().any(|x| scalar_eq(b, x)),
                _ => false,
            },
            "count" => {
                let (Some(Json::Array(a)), Some(is)) = (actual, v.get("is")) else {
                    return false;
                };
                let empty = serde_json::Map::new();
                let wh = v.get("where").and_then(Json::as_object).unwrap_or(&empty);
                let n = a
                    .iter()
                    .filter(|x| wh.iter().all(|(k, m)| matches(m, path(x, k))))
                    .count();
                matches(is, Some(&Json::from(n as u64)))
            }
            _ => false,
        });
    }
    actual.is_some_and(|a| scalar_eq(expected, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitution_and_paths() {
        let mut v = Vars::default();
        v.set("cookie", json!("aabb"));
        v.set("ack", json!({"flow_id": 3, "ranges": [[1, 2]]}));
        let y: Yaml =
            serde_yaml_ng::from_str("{a: $cookie, b: [$ack.flow_id], c: $ack.ranges.0.1}").unwrap();
        let j = v.resolve_json(&y).unwrap();
        assert_eq!(j, json!({"a": "aabb", "b": [3], "c": 2}));
        assert!(
            v.resolve_json(&serde_yaml_ng::from_str("$nope").unwrap())
                .is_err()
        );
    }

    #[test]
    fn matchers() {
        assert!(matches(&json!("AA BB"), Some(&json!("aabb"))));
        assert!(matches(&json!("text:hi"), Some(&json!("6869"))));
        assert!(matches(&json!(3), Some(&json!(3))));
        assert!(!matches(&json!(3), Some(&json!(4))));
        assert!(matches(&json!({"ge": 3, "lt": 5}), Some(&json!(4))));
        assert!(matches(
            &json!({"len": 16}),
            Some(&json!("00112233445566778899aabbccddeeff"))
        ));
        assert!(matches(&json!({"present": false}), None));
        assert!(matches(
            &json!({"any_of": ["responder", "startup"]}),
            Some(&json!("responder"))
        ));
        assert!(matches(&json!({"not": {"eq": 0}}), Some(&json!(1))));
        assert!(matches(&json!([[1, 2]]), Some(&json!([[1, 2]]))));
        let opts = json!([{"type": 0, "value": "61"}, {"type": 10, "value": "05"}]);
        let tens = |is: Json| json!({"count": {"where": {"type": 10}, "is": is}});
        assert!(matches(&tens(json!(1)), Some(&opts)));
        assert!(!matches(&tens(json!({"gt": 1})), Some(&opts)));
        assert!(matches(&json!({"count": {"is": 2}}), Some(&opts)));
        let zeros = json!({"count": {"where": {"type": 0}, "is": 1}});
        assert!(matches(
            &json!({"all_of": [zeros, tens(json!(1))]}),
            Some(&opts)
        ));
        assert!(!matches(
            &json!({"all_of": [zeros, tens(json!(2))]}),
            Some(&opts)
        ));
        assert!(!matches(&tens(json!(0)), None));
    }

    #[test]
    fn arithmetic() {
        let t = json!({"add": [100, {"sub": [100, 40]}, 1500]});
        assert_eq!(eval(&t).unwrap(), json!(1660));
        assert_eq!(eval(&json!({"max": ["3", 7, 5]})).unwrap(), json!(7));
        assert_eq!(eval(&json!({"mul": [2, 0.25]})).unwrap(), json!(0.5));
        assert_eq!(eval(&json!({"eq": 3})).unwrap(), json!({"eq": 3}));
        assert_eq!(eval(&json!("x")).unwrap(), json!("x"));
        assert!(eval(&json!({"add": [1, "x"]})).is_err());
        assert!(eval(&json!({"add": []})).is_err());
    }

    #[test]
    fn chunks_from_fields() {
        let c = chunk_from(&json!({"chunk": "ihello", "epd": "070a72746d66703a", "tag": "0011"}))
            .unwrap();
        assert_eq!(c.chunk_type(), 0x30);
        let c = chunk_from(&json!({"chunk": "ping", "message": "text:hi"})).unwrap();
        assert_eq!(
            c,
            Chunk::Ping(rtmfp::wire::chunk::Ping {
                message: b"hi".to_vec()
            })
        );
        let c = chunk_from(&json!({"chunk": "close"})).unwrap();
        assert_eq!(c, Chunk::Close);
        assert!(chunk_from(&json!({"chunk": "ihello", "epd": "zz"})).is_err());
        let c = chunk_from(
            &json!({"chunk": "user_data", "flow_id": 1, "sequence_number": 1,
            "fsn_offset": 1, "options": [{"type": 10, "vlu": 128}]}),
        )
        .unwrap();
        let Chunk::UserData(u) = c else { panic!() };
        assert_eq!(u.options.unwrap()[0].value, vec![0x81, 0x00]);
    }

    #[test]
    fn vlu_values_in_chunks() {
        let c = chunk_from(&serde_json::json!({
            "chunk": "user_data", "flow_id": 3, "sequence_number": 1, "fsn_offset": 1,
            "options": [{"type": 10, "value": {"vlu": 300}}], "user_data": "00"
        }))
        .unwrap();
        let rtmfp::wire::chunk::Chunk::UserData(u) = c else {
            panic!("{c:?}")
        };
        // 300 = 0b10_0101100: 0x82 0x2c.
        assert_eq!(u.options.unwrap()[0].value, vec![0x82, 0x2c]);
    }

    #[test]
    fn builders() {
        let p = json!({"plain_packet": {"chunks": [{"chunk": "ping", "message": "6869"}]}});
        assert_eq!(build(&p).unwrap(), json!("030100026869"));
        let h = json!({"plain_packet": {"header": {"mode": "initiator", "timestamp": 258},
            "chunks": [], "padding": "ff"}});
        assert_eq!(build(&h).unwrap(), json!("090102ff"));
        let s = json!({"slice": [p, 1, 3]});
        assert_eq!(build(&s).unwrap(), json!("0100"));
        assert_eq!(
            build(&json!({"slice": ["aabbcc", 1]})).unwrap(),
            json!("bbcc")
        );
        assert!(build(&json!({"slice": ["aabb", 1, 5]})).is_err());
        let c = chunk_from(&json!({"chunk": "packet_fragment", "more_fragments": true,
            "packet_id": 7, "fragment_num": 0, "packet_fragment": {"slice": [p, 0, 2]}}))
        .unwrap();
        let Chunk::PacketFragment(f) = c else {
            panic!()
        };
        assert_eq!(f.packet_fragment, [0x03, 0x01]);
        let v = Vars::default();
        let y: Yaml = serde_yaml_ng::from_str("{slice: ['00 01 02', 2]}").unwrap();
        assert_eq!(resolve_built(&v, &y).unwrap(), [2]);
    }
}
