//! The tester's identity in the Flash profile (`--tester-identity`): whose
//! certificate and key-component layout the tester presents. Flash-era servers
//! (the Cumulus/MonaServer lineage) read the initiator's Diffie-Hellman key
//! from the first option of its certificate, as Flash Player's carries it
//! (fact sheet §7.9); rtmfp-cpp parses by type and accepts any layout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;

use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};

/// Which certificate and key components the tester presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TesterIdentity {
    /// Flash Player's client: static group-2 key as the certificate's only
    /// option (`81 02 1d 02` ‖ key), SKIC `02 1d 02 ‖ 41 0e … ‖ 03 1a 02 0a ‖
    /// 02 1e 02` (fact sheet §6.2, §8.2).
    FlashPlayer,
    /// rtmfp-cpp's client: one static key per group (16, 14, 2), SKIC with an
    /// HMAC length of 16.
    RtmfpCpp,
    /// A server-style certificate: hostname `tester`, accepts ancillary data,
    /// ephemeral groups 2, 5, 14 (the suite's historical tester).
    Server,
    /// A certificate from a file (see [`TesterIdentity::parse`]).
    File(PathBuf),
}

impl TesterIdentity {
    /// `flash-player`, `rtmfp-cpp`, `server`, or a file name. The file holds
    /// the certificate in hex (whitespace and `#` comments allowed) and, for a
    /// static certificate, one line `key GROUP HEX` per group with the private
    /// exponent.
    pub fn parse(s: &str) -> Result<TesterIdentity, String> {
        Ok(match s {
            "flash-player" => TesterIdentity::FlashPlayer,
            "rtmfp-cpp" => TesterIdentity::RtmfpCpp,
            "server" => TesterIdentity::Server,
            "" => return Err("--tester-identity: empty".into()),
            f => {
                let p = PathBuf::from(f);
                if !p.is_file() {
                    return Err(format!(
                        "--tester-identity `{f}`: not flash-player, rtmfp-cpp, server, nor a readable file"
                    ));
                }
                TesterIdentity::File(p)
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            TesterIdentity::FlashPlayer => "flash-player".into(),
            TesterIdentity::RtmfpCpp => "rtmfp-cpp".into(),
            TesterIdentity::Server => "server".into(),
            TesterIdentity::File(p) => p.display().to_string(),
        }
    }

    /// The tester's Flash-profile identity.
    pub fn profile(&self, seed: u64) -> Result<Arc<dyn CryptoProfile>, String> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let p = match self {
            TesterIdentity::FlashPlayer => FlashProfile::new(FlashConfig::flash_player(), &mut rng),
            TesterIdentity::RtmfpCpp => FlashProfile::new(FlashConfig::client(false), &mut rng),
            TesterIdentity::Server => {
                let mut c = FlashConfig::server(true);
                c.hostname = Some(b"tester".to_vec());
                FlashProfile::new(c, &mut rng)
            }
            TesterIdentity::File(path) => {
                let (cert, keys) = read_file(path)?;
                return FlashProfile::with_certificate(FlashConfig::client(true), cert, &keys)
                    .map(|p| Arc::new(p) as Arc<dyn CryptoProfile>)
                    .map_err(|e| format!("{}: {e}", path.display()));
            }
        };
        p.map(|p| Arc::new(p) as Arc<dyn CryptoProfile>)
            .map_err(|e| e.to_string())
    }
}

type Keys = Vec<(u64, Vec<u8>)>;

/// Reads a certificate file: hex of the certificate, then `key GROUP HEX` lines.
fn read_file(path: &Path) -> Result<(Vec<u8>, Keys), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cert = String::new();
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |what: &str| format!("{}:{}: {what}", path.display(), n + 1);
        if let Some(rest) = line.strip_prefix("key ") {
            let mut w = rest.split_whitespace();
            let group = w
                .next()
                .and_then(|g| g.parse::<u64>().ok())
                .ok_or_else(|| at("`key GROUP HEX`: GROUP is not a number"))?;
            let hexs: String = w.collect();
            let k = hex::decode(&hexs).map_err(|e| at(&format!("private key: {e}")))?;
            keys.push((group, k));
        } else {
            if !line
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c.is_whitespace())
            {
                return Err(at("expected certificate hex or `key GROUP HEX`"));
            }
            cert.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let cert = hex::decode(&cert).map_err(|e| format!("{}: certificate: {e}", path.display()))?;
    if cert.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok((cert, keys))
}
