//! What the user declares about a live stack (`--target-keepalive 10s`,
//! `--target-idle-close 5s`, `--target-sinks`, ...), and whether a case written
//! for the reference target's settings (`target:` in a scenario) can run
//! against a stack that declared these.
//!
//! A scenario's `target:` block says what the case relies on: a keepalive
//! period, an idle-close time, a stack that sinks or rejects flows, a small
//! receive buffer. The reference target is simply configured that way; a live
//! stack runs the case when its declared settings fit:
//!
//! - a period (keepalive, idle close) fits whatever its value: the case's time
//!   bounds (`within`, `wait`) are stretched by declared/assumed (never shrunk),
//!   while the timing rules it checks (computed with `set`) are not, so the
//!   RFC's own bounds stay exact;
//! - a sink fits a stack declared to sink (or not to echo), and an echoing stack
//!   too: the tester rejects the return flow (RFC 7016 §3.6.3.7), which leaves
//!   the stack nothing to send back, so it sinks the data;
//! - flow rejection needs the declaration; a receive buffer of at most the
//!   case's size (the case overfills it);
//! - the rest (startup fragmentation threshold, forwarder redirects) only the
//!   reference target can be set to.

use std::time::Duration;

use crate::scenario::TargetSetup;

/// Settings the user declares about the stack under test.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    /// Its keepalive period (§3.5.4.1): an idle session gets a Ping after this long.
    #[serde(
        default,
        with = "opt_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub keepalive: Option<Duration>,
    /// It closes (orderly, §3.5.5) a session idle for this long.
    #[serde(
        default,
        with = "opt_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_close: Option<Duration>,
    /// It accepts flows and discards their data (no echo).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sinks: bool,
    /// Its application rejects every incoming flow.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejects_flows: bool,
    /// Its receive buffer per flow, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_buffer: Option<usize>,
}

/// How a case runs against a live stack with the declared settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Multiplies the case's time bounds (on top of `--time-scale`).
    pub time_factor: f64,
    /// The tester rejects every flow the target opens (turns an echo into a sink).
    pub tester_rejects_flows: bool,
}

impl Declared {
    /// Whether a case that needs `t` runs against this stack (`echoes`: it echoes
    /// flows), and how; or why not.
    pub fn fit(&self, t: &TargetSetup, echoes: bool) -> Result<Fit, String> {
        let mut fit = Fit {
            time_factor: 1.0,
            tester_rejects_flows: false,
        };
        let stretch = |fit: &mut Fit, declared: Duration, assumed: Duration| {
            if !assumed.is_zero() {
                let f = declared.as_secs_f64() / assumed.as_secs_f64();
                fit.time_factor = fit.time_factor.max(f);
            }
        };
        if let Some(k) = t.keepalive {
            let d = self
                .keepalive
                .ok_or("needs the target's keepalive period: declare it with --target-keepalive")?;
            stretch(&mut fit, d, k);
            if let Some(i) = self.idle_close
                && i <= d
                && t.idle_close.is_none()
            {
                // An idle session is closed before its first keepalive Ping.
                return Err(format!(
                    "needs an idle session kept open until the keepalive ({}); the target closes idle sessions after {}",
                    duration_text(d),
                    duration_text(i)
                ));
            }
        }
        if let Some(i) = t.idle_close {
            let d = self.idle_close.ok_or(
                "needs a target that closes idle sessions: declare when with --target-idle-close",
            )?;
            stretch(&mut fit, d, i);
        }
        if t.reject_flows && !self.rejects_flows {
            return Err(
                "needs a target whose application rejects flows: declare it with --target-rejects-flows"
                    .into(),
            );
        }
        if t.sink && self.rejects_flows {
            return Err(
                "needs a target that accepts flows (it was declared to reject them)".into(),
            );
        }
        if t.sink && !self.sinks && echoes {
            // RFC 7016 §3.6.3.7: the tester rejects the return flow; the
            // target has nothing left to send on it.
            fit.tester_rejects_flows = true;
        }
        if let Some(b) = t.receive_buffer {
            match self.receive_buffer {
                Some(d) if d <= b => {}
                Some(d) => {
                    return Err(format!(
                        "needs a receive buffer of at most {b} bytes (the case overfills it); the target declared {d}"
                    ));
                }
                None => {
                    return Err(format!(
                        "needs a receive buffer of at most {b} bytes: declare the target's with --target-receive-buffer"
                    ));
                }
            }
        }
        if t.max_startup_packet.is_some() || t.redirect_forwarded {
            return Err(
                "needs settings only the reference target has (startup fragmentation threshold, forwarder redirects)"
                    .into(),
            );
        }
        Ok(fit)
    }

    /// The command-line options that declare these settings (for re-run commands).
    pub fn args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(k) = self.keepalive {
            v.push(format!("--target-keepalive {}", duration_text(k)));
        }
        if let Some(i) = self.idle_close {
            v.push(format!("--target-idle-close {}", duration_text(i)));
        }
        if self.sinks {
            v.push("--target-sinks".into());
        }
        if self.rejects_flows {
            v.push("--target-rejects-flows".into());
        }
        if let Some(b) = self.receive_buffer {
            v.push(format!("--target-receive-buffer {b}"));
        }
        v
    }
}

/// `10s`, `250ms`, `1.5s`.
pub fn duration_text(d: Duration) -> String {
    if d.subsec_millis() != 0 && d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Parses a command-line duration (`10s`, `250ms`).
pub fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    crate::scenario::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}` is not a duration (like 10s or 250ms)"))
}

mod opt_duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::duration_text(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v = serde_yaml_ng::Value::deserialize(d)?;
        let s = match &v {
            serde_yaml_ng::Value::String(s) => s.clone(),
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            _ => return Err(serde::de::Error::custom("expected a duration like 10s")),
        };
        super::parse_duration_arg(&s)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(yaml: &str) -> TargetSetup {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn a_declared_period_stretches_the_case_never_shrinks_it() {
        let d = Declared {
            keepalive: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        let f = d.fit(&setup("{keepalive: 2s}"), true).unwrap();
        assert_eq!(f.time_factor, 5.0);
        let d = Declared {
            keepalive: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        assert_eq!(
            d.fit(&setup("{keepalive: 2s}"), true).unwrap().time_factor,
            1.0
        );
        let err = Declared::default()
            .fit(&setup("{keepalive: 2s}"), true)
            .unwrap_err();
        assert!(err.contains("--target-keepalive"), "{err}");
        // A stack that closes idle sessions before its keepalive fires
        // never shows the keepalive.
        let d = Declared {
            keepalive: Some(Duration::from_secs(10)),
            idle_close: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let err = d.fit(&setup("{keepalive: 2s}"), true).unwrap_err();
        assert!(err.contains("closes idle sessions after 5s"), "{err}");
        let err = Declared::default()
            .fit(&setup("{idle_close: 2s}"), true)
            .unwrap_err();
        assert!(err.contains("--target-idle-close"), "{err}");
    }

    #[test]
    fn an_echoing_target_sinks_once_the_tester_rejects_its_return_flow() {
        let none = Declared::default();
        let f = none.fit(&setup("{sink: true}"), true).unwrap();
        assert!(f.tester_rejects_flows);
        // A stack declared to sink, or not to echo, needs no rejection.
        let sinks = Declared {
            sinks: true,
            ..Default::default()
        };
        assert!(
            !sinks
                .fit(&setup("{sink: true}"), false)
                .unwrap()
                .tester_rejects_flows
        );
        assert!(
            !none
                .fit(&setup("{sink: true}"), false)
                .unwrap()
                .tester_rejects_flows
        );
        // No sink needed: the tester accepts the target's flows.
        assert!(!none.fit(&setup("{}"), true).unwrap().tester_rejects_flows);
    }

    #[test]
    fn rejection_and_buffers_need_a_declaration_that_fits() {
        let none = Declared::default();
        assert!(none.fit(&setup("{reject_flows: true}"), true).is_err());
        let rejects = Declared {
            rejects_flows: true,
            ..Default::default()
        };
        assert!(rejects.fit(&setup("{reject_flows: true}"), false).is_ok());
        let small = Declared {
            receive_buffer: Some(4096),
            ..Default::default()
        };
        assert!(small.fit(&setup("{receive_buffer: 4096}"), true).is_ok());
        let big = Declared {
            receive_buffer: Some(65536),
            ..Default::default()
        };
        assert!(big.fit(&setup("{receive_buffer: 4096}"), true).is_err());
        assert!(none.fit(&setup("{max_startup_packet: 24}"), true).is_err());
    }

    #[test]
    fn declarations_read_from_yaml_and_print_as_options() {
        let d: Declared =
            serde_yaml_ng::from_str("{keepalive: 10s, idle_close: 250ms, sinks: true}").unwrap();
        assert_eq!(d.keepalive, Some(Duration::from_secs(10)));
        assert_eq!(d.idle_close, Some(Duration::from_millis(250)));
        assert_eq!(
            d.args(),
            [
                "--target-keepalive 10s",
                "--target-idle-close 250ms",
                "--target-sinks"
            ]
        );
        assert!(serde_yaml_ng::from_str::<Declared>("{keepalive: soon}").is_err());
        assert!(serde_yaml_ng::from_str::<Declared>("{keepalives: 1s}").is_err());
    }
}
