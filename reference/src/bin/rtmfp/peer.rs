//! Options shared by `serve` and `connect`: the cryptography profile and identity.

use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile, Policy};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::Event;
use rtmfp::keylog::KeyLogWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileName {
    Flash,
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
    Require,
}

impl From<Switch> for Policy {
    fn from(s: Switch) -> Self {
        match s {
            Switch::On => Policy::On,
            Switch::Off => Policy::Off,
            Switch::Require => Policy::Require,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct CryptoArgs {
    /// Cryptography profile: flash (RFC 7425) or plain (cleartext test profile).
    #[arg(long, value_enum, default_value = "flash")]
    pub profile: ProfileName,
    /// HMAC on session packets (flash): off = only if the peer asks, on = always
    /// send, require = send and require.
    #[arg(long, value_enum, default_value = "off")]
    pub hmac: Switch,
    /// Session sequence numbers (flash), as --hmac.
    #[arg(long, value_enum, default_value = "off")]
    pub sseq: Switch,
    /// Emit the legacy layouts Flash-era peers hard-code (Adobe certificate and
    /// key component order, single group-2 client key, 64-byte cookies).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub flash_compat: bool,
    /// Append session keys to this key log file (vectors/README.md format).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Seed for all randomness (keys, tags, session IDs); random if absent.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl CryptoArgs {
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(rand::random)
    }

    /// Builds the profile; `server` selects ephemeral DH and Accepts Ancillary
    /// Data, `name` the certificate hostname (flash) or identity (plain).
    pub fn profile(
        &self,
        server: bool,
        name: Option<&str>,
        seed: u64,
    ) -> Result<Arc<dyn CryptoProfile>, String> {
        match self.profile {
            ProfileName::Plain => Ok(Arc::new(PlainProfile::new(
                name.unwrap_or(if server { "server" } else { "client" })
                    .as_bytes()
                    .to_vec(),
            ))),
            ProfileName::Flash => {
                let mut c = if server {
                    FlashConfig::server(self.flash_compat)
                } else {
                    FlashConfig::client(self.flash_compat)
                };
                c.hostname = name.map(|n| n.as_bytes().to_vec());
                c.hmac = self.hmac.into();
                c.sseq = self.sseq.into();
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
                FlashProfile::new(c, &mut rng)
                    .map(|p| Arc::new(p) as Arc<dyn CryptoProfile>)
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn keylog(&self) -> Result<Option<KeyLogWriter<std::fs::File>>, String> {
        let Some(p) = &self.keys else { return Ok(None) };
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(Some(KeyLogWriter::new(f)))
    }
}

/// Options of the data plane shared by `serve` and `connect`.
#[derive(clap::Args, Debug, Clone)]
pub struct TransportArgs {
    /// Most packets with user data sent between acknowledgements (RFC 7016
    /// §3.5.2.3 SHOULD: 6), or `off`.
    #[arg(long, value_name = "N|off", default_value = "6", value_parser = parse_burst_limit)]
    pub burst_limit: BurstLimit,
    /// The burst limit applies while the session's SRTT is unknown or at least
    /// this many milliseconds (as rtmfp-cpp: 4.5); 0: always.
    #[arg(long, value_name = "MS", default_value = "4.5", value_parser = parse_millis)]
    pub burst_min_srtt: std::time::Duration,
}

/// `--burst-min-srtt`: milliseconds, 0 to 10 s.
fn parse_millis(s: &str) -> Result<std::time::Duration, String> {
    number_in(s, 10_000.0, "10000", "milliseconds")
        .map(|v| std::time::Duration::from_secs_f64(v / 1000.0))
}

/// A finite number from 0 to `max` (written `max_text` in the error) of `unit`.
pub fn number_in(s: &str, max: f64, max_text: &str, unit: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => Ok(v),
        Ok(_) => Err(format!("{s} is not between 0 and {max_text} {unit}")),
        Err(_) => Err(format!("`{s}` is not a number of {unit}")),
    }
}

/// `--burst-limit`: a positive count or `off`.
#[derive(Clone, Copy, Debug)]
pub struct BurstLimit(pub Option<u32>);

fn parse_burst_limit(s: &str) -> Result<BurstLimit, String> {
    if s == "off" {
        return Ok(BurstLimit(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(BurstLimit(Some(n))),
        _ => Err(format!(
            "expected a positive number of packets or `off`, got `{s}`"
        )),
    }
}

impl TransportArgs {
    pub fn apply(&self, c: &mut rtmfp::session::config::EndpointConfig) {
        c.burst_limit = self.burst_limit.0;
        c.burst_min_srtt = self.burst_min_srtt;
    }
}

/// Writes a key log event, if there is a key log.
pub fn log_keys(w: &mut Option<KeyLogWriter<std::fs::File>>, ev: &Event) {
    if let (
        Some(w),
        Event::KeyLog {
            initiator,
            responder,
            facts,
        },
    ) = (w.as_mut(), ev)
        && let Err(e) = w.write_session(*initiator, *responder, facts)
    {
        tracing::warn!(error = %e, "cannot write key log");
    }
}

/// Parses `--epd`: for the plain profile, the identity bytes; for flash, a comma
/// separated list of `any` (ancillary data "rtmfp:"), `uri:URI`, `hostname:NAME`,
/// `fingerprint:HEX`, or `hex:BYTES` (a whole raw EPD).
pub fn parse_epd(profile: ProfileName, spec: &str) -> Result<Vec<u8>, String> {
    if profile == ProfileName::Plain {
        return Ok(spec.as_bytes().to_vec());
    }
    rtmfp::crypto::flash::epd::Epd::from_spec(spec).map_err(|e| format!("--{e}"))
}
