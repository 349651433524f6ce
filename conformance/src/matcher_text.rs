//! Field matchers (`where: {cumulative_ack: {gt: 2}}`) written as text for
//! reports: `cumulative_ack > 2`, not `cumulative_ack={"gt":2}`.

use serde_json::Value as Json;

const OPS: &[&str] = &[
    "eq", "ne", "lt", "le", "gt", "ge", "len", "present", "any_of", "not", "contains", "count",
];

fn value(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Array(a) => format!("[{}]", a.iter().map(value).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// `field` matched by `m` (as `crate::values::matches` reads it), as text.
pub fn condition(field: &str, m: &Json) -> String {
    let Json::Object(ops) = m else {
        return format!("{field} = {}", value(m));
    };
    if ops.is_empty() || !ops.keys().all(|k| OPS.contains(&k.as_str())) {
        // A nested object compared for equality.
        return format!("{field} = {m}");
    }
    ops.iter()
        .map(|(op, v)| match op.as_str() {
            "eq" => format!("{field} = {}", value(v)),
            "ne" => format!("{field} != {}", value(v)),
            "lt" => format!("{field} < {}", value(v)),
            "le" => format!("{field} <= {}", value(v)),
            "gt" => format!("{field} > {}", value(v)),
            "ge" => format!("{field} >= {}", value(v)),
            "len" => condition(&format!("len({field})"), v),
            "present" if v.as_bool() == Some(false) => format!("no {field}"),
            "present" => format!("{field} present"),
            "any_of" => format!("{field} in {}", value(v)),
            "not" => format!("not ({})", condition(field, v)),
            "contains" => format!("{field} contains {}", value(v)),
            "count" => {
                let wh = v
                    .get("where")
                    .and_then(Json::as_object)
                    .map(|w| {
                        w.iter()
                            .map(|(k, m)| condition(k, m))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    })
                    .unwrap_or_default();
                let counted = if wh.is_empty() {
                    format!("count({field})")
                } else {
                    format!("count({field} where {wh})")
                };
                match v.get("is") {
                    Some(is) => condition(&counted, is),
                    None => counted,
                }
            }
            _ => format!("{field} {op} {}", value(v)),
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matchers_read_as_text() {
        assert_eq!(
            condition("cumulative_ack", &json!({"gt": 2})),
            "cumulative_ack > 2"
        );
        assert_eq!(condition("tag_echo", &json!("0011")), "tag_echo = 0011");
        assert_eq!(
            condition("ranges", &json!({"len": {"ge": 1, "le": 3}})),
            "len(ranges) >= 1 and len(ranges) <= 3"
        );
        assert_eq!(
            condition("flow_id", &json!({"any_of": [1, 2]})),
            "flow_id in [1, 2]"
        );
        assert_eq!(condition("x", &json!({"present": false})), "no x");
        assert_eq!(condition("x", &json!({"not": {"eq": 3}})), "not (x = 3)");
        assert_eq!(
            condition(
                "ranges",
                &json!({"count": {"where": {"a": {"gt": 1}}, "is": 2}})
            ),
            "count(ranges where a > 1) = 2"
        );
    }
}
