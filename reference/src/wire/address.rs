//! RFC 7016 §2.1.5: Internet Socket Address, with its origin tag.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::reader::Reader;

/// RFC 7016 §2.1.5 `origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// 0: unknown, unspecified, or "other"
    #[default]
    Unknown,
    /// 1: reported by the origin as a local, directly attached interface address
    Local,
    /// 2: observed as the source address of a received packet (reflexive)
    Observed,
    /// 3: a relay, proxy, or introducer (Redirector and/or Forwarder)
    Relay,
}

impl Origin {
    pub fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Origin::Unknown,
            1 => Origin::Local,
            2 => Origin::Observed,
            _ => Origin::Relay,
        }
    }

    pub fn bits(self) -> u8 {
        self as u8
    }
}

/// RFC 7016 §2.1.5 `address_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub addr: SocketAddr,
    #[serde(default)]
    pub origin: Origin,
    /// The 5 reserved bits (`rsv`), which a sender sets to 0. Kept so that
    /// parse and emit are exact inverses and a checker can see them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reserved: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl Address {
    pub fn new(addr: SocketAddr, origin: Origin) -> Self {
        Address {
            addr,
            origin,
            reserved: 0,
        }
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let flags = r.u8("Address.flags")?;
        let ip = if flags & 0x80 != 0 {
            IpAddr::V6(Ipv6Addr::from(r.array::<16>("Address.ipAddress")?))
        } else {
            IpAddr::V4(Ipv4Addr::from(r.array::<4>("Address.ipAddress")?))
        };
        let port = r.u16("Address.port")?;
        Ok(Address {
            addr: SocketAddr::new(ip, port),
            origin: Origin::from_bits(flags),
            reserved: (flags >> 2) & 0x1f,
        })
    }

    pub fn encoded_len(&self) -> usize {
        match self.addr {
            SocketAddr::V4(_) => 7,
            SocketAddr::V6(_) => 19,
        }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let flags = self.origin.bits() | ((self.reserved & 0x1f) << 2);
        match self.addr.ip() {
            IpAddr::V4(a) => {
                out.push(flags);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(flags | 0x80);
                out.extend_from_slice(&a.octets());
            }
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match self.origin {
            Origin::Unknown => "unknown",
            Origin::Local => "local",
            Origin::Observed => "observed",
            Origin::Relay => "relay",
        };
        write!(f, "{} ({origin})", self.addr)?;
        if self.reserved != 0 {
            write!(f, " rsv={:#x}", self.reserved)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_layouts() {
        let a = Address::new("127.0.0.1:19401".parse().unwrap(), Origin::Unknown);
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out, [0x00, 127, 0, 0, 1, 0x4b, 0xc9]);
        let b = Address::new("[::1]:1935".parse().unwrap(), Origin::Observed);
        let mut out6 = Vec::new();
        b.emit(&mut out6);
        assert_eq!(out6.len(), 19);
        assert_eq!(out6[0], 0x82);
        assert_eq!(out6[16], 1);
        assert_eq!(&out6[17..], &1935u16.to_be_bytes());
        for (bytes, want) in [(&out[..], a), (&out6[..], b)] {
            let mut r = Reader::new(bytes);
            assert_eq!(Address::read(&mut r).unwrap(), want);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn reserved_bits_survive() {
        let bytes = [0x7d, 10, 0, 0, 1, 0, 80];
        let a = Address::read(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(a.origin, Origin::Local);
        assert_eq!(a.reserved, 0x1f);
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn truncated() {
        assert!(Address::read(&mut Reader::new(&[0x80, 0, 0, 0, 0, 0, 0, 0])).is_err());
        assert!(Address::read(&mut Reader::new(&[0x00, 1, 2, 3, 4, 5])).is_err());
    }
}
