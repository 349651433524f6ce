//! RFC 7016 §2.3.1-§2.3.8: the session startup chunks (Packet Fragment, IHello,
//! FIHello, RHello, Redirect, RHello Cookie Change, IIKeying, RIKeying).

use super::*;

/// RFC 7016 §2.3.1 Packet Fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketFragment {
    /// `M`: more fragments follow.
    pub more_fragments: bool,
    #[serde(default)]
    pub reserved: u8,
    pub packet_id: u64,
    pub fragment_num: u64,
    #[serde(with = "crate::wire::hexser")]
    pub packet_fragment: Vec<u8>,
}

impl PacketFragment {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flags = r.u8("Packet Fragment flags")?;
        let packet_id = r.vlu("Packet Fragment packetID")?;
        let fragment_num = r.vlu("Packet Fragment fragmentNum")?;
        let packet_fragment = r.rest().to_vec();
        // RFC 7016 §2.3.1: a packetFragment MUST NOT be empty (and §3.4: MUST discard).
        if packet_fragment.is_empty() {
            return Err(WireError::Invalid {
                what: "Packet Fragment packetFragment",
                why: "empty (RFC 7016 §2.3.1 MUST NOT)",
            });
        }
        Ok(PacketFragment {
            more_fragments: flags & 0x80 != 0,
            reserved: flags & 0x7f,
            packet_id,
            fragment_num,
            packet_fragment,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.more_fragments) << 7 | (self.reserved & 0x7f));
        vlu::encode(self.packet_id, out);
        vlu::encode(self.fragment_num, out);
        out.extend_from_slice(&self.packet_fragment);
    }
}

/// RFC 7016 §2.3.2 Initiator Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IHello {
    /// endpointDiscriminator
    #[serde(with = "crate::wire::hexser")]
    pub epd: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub tag: Vec<u8>,
}

impl IHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let epd = r.vlu_prefixed("IHello epdLength")?.to_vec();
        Ok(IHello {
            epd,
            tag: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.epd, out);
        out.extend_from_slice(&self.tag);
    }
}

/// RFC 7016 §2.3.3 Forwarded Initiator Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FIHello {
    #[serde(with = "crate::wire::hexser")]
    pub epd: Vec<u8>,
    pub reply_address: Address,
    #[serde(with = "crate::wire::hexser")]
    pub tag: Vec<u8>,
}

impl FIHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let epd = r.vlu_prefixed("FIHello epdLength")?.to_vec();
        let reply_address = Address::read(&mut r)?;
        Ok(FIHello {
            epd,
            reply_address,
            tag: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.epd, out);
        self.reply_address.emit(out);
        out.extend_from_slice(&self.tag);
    }
}

/// RFC 7016 §2.3.4 Responder Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RHello {
    #[serde(with = "crate::wire::hexser")]
    pub tag_echo: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub cookie: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub responder_certificate: Vec<u8>,
}

impl RHello {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let tag_echo = r.vlu_prefixed("RHello tagLength")?.to_vec();
        let cookie = r.vlu_prefixed("RHello cookieLength")?.to_vec();
        Ok(RHello {
            tag_echo,
            cookie,
            responder_certificate: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.tag_echo, out);
        emit_prefixed(&self.cookie, out);
        out.extend_from_slice(&self.responder_certificate);
    }
}

/// RFC 7016 §2.3.5 Responder Redirect. No destinations = an Implied Redirect
/// (the packet's source address is the destination).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(with = "crate::wire::hexser")]
    pub tag_echo: Vec<u8>,
    #[serde(default)]
    pub redirect_destinations: Vec<Address>,
}

impl Redirect {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let tag_echo = r.vlu_prefixed("Redirect tagLength")?.to_vec();
        let mut redirect_destinations = Vec::new();
        while !r.is_empty() {
            redirect_destinations.push(Address::read(&mut r)?);
        }
        Ok(Redirect {
            tag_echo,
            redirect_destinations,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.tag_echo, out);
        for a in &self.redirect_destinations {
            a.emit(out);
        }
    }

    pub fn is_implied(&self) -> bool {
        self.redirect_destinations.is_empty()
    }
}

/// RFC 7016 §2.3.6 RHello Cookie Change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RHelloCookieChange {
    #[serde(with = "crate::wire::hexser")]
    pub old_cookie: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub new_cookie: Vec<u8>,
}

impl RHelloCookieChange {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let old_cookie = r
            .vlu_prefixed("RHello Cookie Change oldCookieLen")?
            .to_vec();
        Ok(RHelloCookieChange {
            old_cookie,
            new_cookie: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_prefixed(&self.old_cookie, out);
        out.extend_from_slice(&self.new_cookie);
    }
}

/// RFC 7016 §2.3.7 Initiator Initial Keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IIKeying {
    /// The 4 session-ID bytes, read as a big-endian u32.
    pub initiator_session_id: u32,
    #[serde(with = "crate::wire::hexser")]
    pub cookie_echo: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub initiator_certificate: Vec<u8>,
    /// sessionKeyInitiatorComponent (SKIC)
    #[serde(with = "crate::wire::hexser")]
    pub skic: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub signature: Vec<u8>,
}

impl IIKeying {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let initiator_session_id = r.u32("IIKeying initiatorSessionID")?;
        let cookie_echo = r.vlu_prefixed("IIKeying cookieLength")?.to_vec();
        let initiator_certificate = r.vlu_prefixed("IIKeying certLength")?.to_vec();
        let skic = r.vlu_prefixed("IIKeying skicLength")?.to_vec();
        Ok(IIKeying {
            initiator_session_id,
            cookie_echo,
            initiator_certificate,
            skic,
            signature: r.rest().to_vec(),
        })
    }

    /// `initiatorSignedParameters`: the payload up to the signature.
    pub fn signed_parameters(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.initiator_session_id.to_be_bytes());
        emit_prefixed(&self.cookie_echo, &mut out);
        emit_prefixed(&self.initiator_certificate, &mut out);
        emit_prefixed(&self.skic, &mut out);
        out
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.signed_parameters());
        out.extend_from_slice(&self.signature);
    }
}

/// RFC 7016 §2.3.8 Responder Initial Keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RIKeying {
    pub responder_session_id: u32,
    /// sessionKeyResponderComponent (SKRC)
    #[serde(with = "crate::wire::hexser")]
    pub skrc: Vec<u8>,
    #[serde(with = "crate::wire::hexser")]
    pub signature: Vec<u8>,
}

impl RIKeying {
    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let responder_session_id = r.u32("RIKeying responderSessionID")?;
        let skrc = r.vlu_prefixed("RIKeying skrcLength")?.to_vec();
        Ok(RIKeying {
            responder_session_id,
            skrc,
            signature: r.rest().to_vec(),
        })
    }

    /// `responderSignedParametersPortion`: the payload up to the signature.
    pub fn signed_parameters_portion(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.responder_session_id.to_be_bytes());
        emit_prefixed(&self.skrc, &mut out);
        out
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.signed_parameters_portion());
        out.extend_from_slice(&self.signature);
    }
}
