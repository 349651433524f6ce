//! Flash-profile Endpoint Discriminators (RFC 7425 §4.4; fact sheet §5).

use crate::crypto::CryptoError;
use crate::wire::option::{self, Opt, OptionItem};

use super::cert::{self, Certificate};

/// EPD option types.
pub mod types {
    pub const REQUIRED_HOSTNAME: u64 = 0x00;
    pub const ANCILLARY_DATA: u64 = 0x0a;
    pub const FINGERPRINT: u64 = 0x0f;
}

pub fn option_name(t: u64) -> &'static str {
    match t {
        types::REQUIRED_HOSTNAME => "Required Hostname",
        types::ANCILLARY_DATA => "Ancillary Data",
        types::FINGERPRINT => "Fingerprint",
        _ => "unknown",
    }
}

/// What an EPD asks for. Unknown options are ignored and Markers skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Epd {
    pub required_hostname: Option<Vec<u8>>,
    pub ancillary_data: Option<Vec<u8>>,
    pub fingerprint: Option<Vec<u8>>,
}

impl Epd {
    /// An EPD from a command-line spec: a comma separated list of `any` (ancillary
    /// data "rtmfp:"), `uri:URI`, `hostname:NAME`, `fingerprint:HEX`, or `hex:BYTES`
    /// (a whole raw EPD).
    pub fn from_spec(spec: &str) -> Result<Vec<u8>, String> {
        let mut e = Epd::default();
        for part in spec.split(',') {
            let (k, v) = part.split_once(':').unwrap_or((part, ""));
            match k {
                "any" => e.ancillary_data = Some(b"rtmfp:".to_vec()),
                "uri" => e.ancillary_data = Some(v.as_bytes().to_vec()),
                "hostname" => e.required_hostname = Some(v.as_bytes().to_vec()),
                "fingerprint" => {
                    e.fingerprint =
                        Some(hex::decode(v).map_err(|err| format!("epd fingerprint: {err}"))?)
                }
                "hex" => return hex::decode(v).map_err(|err| format!("epd hex: {err}")),
                _ => {
                    return Err(format!(
                        "epd: unknown part `{part}` (any, uri:, hostname:, fingerprint:, hex:)"
                    ));
                }
            }
        }
        Ok(e.to_bytes())
    }

    pub fn parse(bytes: &[u8]) -> Result<Epd, CryptoError> {
        let items = option::parse_sequence(bytes, "EPD option")
            .map_err(|e| CryptoError::Handshake(format!("malformed EPD: {e}")))?;
        let mut epd = Epd::default();
        for item in items {
            if let OptionItem::Option(o) = item {
                match o.kind {
                    types::REQUIRED_HOSTNAME => epd.required_hostname = Some(o.value),
                    types::ANCILLARY_DATA => epd.ancillary_data = Some(o.value),
                    types::FINGERPRINT => epd.fingerprint = Some(o.value),
                    _ => {}
                }
            }
        }
        Ok(epd)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(f) = &self.fingerprint {
            Opt::new(types::FINGERPRINT, f.clone()).emit(&mut out);
        }
        if let Some(h) = &self.required_hostname {
            Opt::new(types::REQUIRED_HOSTNAME, h.clone()).emit(&mut out);
        }
        if let Some(a) = &self.ancillary_data {
            Opt::new(types::ANCILLARY_DATA, a.clone()).emit(&mut out);
        }
        out
    }

    /// RFC 7425 §4.4.3 (fact sheet §5.1): does this EPD select the endpoint with
    /// this certificate? An EPD with none of the three options selects nothing.
    pub fn selects(&self, certificate: &[u8]) -> bool {
        if self.fingerprint.is_none()
            && self.required_hostname.is_none()
            && self.ancillary_data.is_none()
        {
            return false;
        }
        // RFC 7425 §4.4.3: a fingerprint, when present, always wins.
        if let Some(f) = &self.fingerprint {
            return f.as_slice() == cert::fingerprint(certificate);
        }
        let Ok(c) = Certificate::parse(certificate) else {
            return false;
        };
        if let Some(h) = &self.required_hostname {
            // Exact bytes (fact sheet X11).
            if c.hostname.as_ref() != Some(h) {
                return false;
            }
        }
        if self.ancillary_data.is_some() && !c.accepts_ancillary_data {
            return false;
        }
        true
    }
}

/// RFC 7425 §4.4.4: the canonical EPD of a certificate is its Fingerprint option.
pub fn canonical(certificate: &[u8]) -> Vec<u8> {
    Epd {
        fingerprint: Some(cert::fingerprint(certificate).to_vec()),
        ..Default::default()
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    // KAT-T (fact sheet §13.7): ancillary URI + required hostname.
    #[test]
    fn kat_t_epd() {
        let bytes = hex::decode(
            "180a72746d66703a2f2f6578616d706c652e636f6d2f6170700c006578616d706c652e636f6d",
        )
        .unwrap();
        let e = Epd::parse(&bytes).unwrap();
        assert_eq!(
            e.ancillary_data.as_deref(),
            Some(&b"rtmfp://example.com/app"[..])
        );
        assert_eq!(e.required_hostname.as_deref(), Some(&b"example.com"[..]));
        assert!(e.fingerprint.is_none());
    }

    #[test]
    fn selection_rules() {
        // echoserver-like: hostname "echo", accepts ancillary data, ephemeral groups
        let server = [&b"\x05\x00echo\x01\x0a\x02\x15\x02"[..]].concat();
        let client = [&b"\x05\x1d\x02"[..], &[1, 2, 3]].concat();
        let any_server = Epd::parse(b"\x07\x0artmfp:").unwrap();
        assert!(any_server.selects(&server));
        assert!(!any_server.selects(&client));
        let by_name = Epd::parse(b"\x05\x00echo").unwrap();
        assert!(by_name.selects(&server));
        assert!(!Epd::parse(b"\x05\x00Echo").unwrap().selects(&server));
        // fingerprint always wins, even against a hostname that would not match
        let mut fp = Epd::parse(&canonical(&server)).unwrap();
        assert!(fp.selects(&server));
        fp.required_hostname = Some(b"other".to_vec());
        assert!(fp.selects(&server));
        assert!(!Epd::parse(&canonical(&client)).unwrap().selects(&server));
        // nothing to select by
        assert!(!Epd::parse(b"\x03\x7fzz").unwrap().selects(&server));
        assert!(!Epd::parse(b"").unwrap().selects(&server));
        assert_eq!(canonical(&server).len(), 34);
        assert_eq!(&canonical(&server)[..2], &[0x21, 0x0f]);
    }
}
