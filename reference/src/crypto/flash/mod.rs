//! RFC 7425, "Adobe's RTMFP Profile for Flash Communication": the cryptography
//! profile. Built from ../shared/specs/flash-profile.md (the fact sheet; the
//! RFC text was not available) and checked against the captures in vectors/.

pub mod cert;
pub mod dh;
pub mod epd;
pub mod keying;
pub mod packet;
pub mod tc;

use rand::RngCore;

use crate::crypto::{CryptoError, CryptoProfile, InitiatorKeying, PacketCipher, SessionKeys};
use crate::wire::Opt;

pub use keying::{Negotiation, Policy};
pub use packet::{DEFAULT_SESSION_KEY, DirectionKeys, FlashCipher};

use cert::Certificate;
use dh::KeyPair;
use keying::{Component, DerivedKeys};

/// The signature every implementation sends: the single byte 'X' (fact sheet §6.4).
pub const SIGNATURE: u8 = 0x58;

/// Extra Randomness is 64 bytes everywhere (fact sheet D9).
pub const EXTRA_RANDOMNESS_LEN: usize = 64;

/// How this endpoint does Diffie-Hellman (fact sheet §6.2, §7.6). RFC 7425 §7:
/// servers use ephemeral keys, clients static keys in their certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DhMode {
    Static,
    Ephemeral,
}

/// Configuration of a Flash-profile endpoint.
#[derive(Debug, Clone)]
pub struct FlashConfig {
    pub dh: DhMode,
    /// Groups in preference order. A static endpoint holds one key per group.
    pub groups: Vec<u64>,
    /// Certificate Hostname option (selected by EPD Required Hostname).
    pub hostname: Option<Vec<u8>>,
    /// Certificate Accepts Ancillary Data option: this endpoint is a "server".
    pub server: bool,
    pub hmac: Policy,
    /// Length of the HMAC this end appends when it sends one (4..=32).
    pub hmac_length: u8,
    pub sseq: Policy,
    /// Emit the legacy layouts Flash-era peers hard-code (fact sheet §7.9): the
    /// Adobe server certificate order, single-group static client certificate,
    /// SKRC with HMAC before SSEQ; the session layer also uses 64-byte cookies.
    pub flash_compatible: bool,
    /// A liberty of the Flash era (the Cumulus/MonaServer lineage, fact sheet
    /// §7.9): as a responder, take the initiator's Diffie-Hellman public key
    /// from the first option of its certificate (`VLU(len) 1d 02 ‖ key`, group
    /// 2) instead of the group its Session Key Initiator Component selects. It
    /// agrees with RFC 7425 whenever the initiator is Flash-Player-like.
    pub dh_key_from_first_option: bool,
}

impl FlashConfig {
    /// A client: static DH, not a server. Flash-compatible: one group-2 key.
    pub fn client(flash_compatible: bool) -> Self {
        FlashConfig {
            dh: DhMode::Static,
            groups: if flash_compatible {
                vec![2]
            } else {
                vec![16, 14, 2]
            },
            hostname: None,
            server: false,
            hmac: Policy::Off,
            hmac_length: 16,
            sseq: Policy::Off,
            flash_compatible,
            dh_key_from_first_option: false,
        }
    }

    /// Flash Player's client: one static group-2 key as the whole certificate
    /// (`81 02 1d 02` ‖ 128-byte key), and a Session Key Initiator Component
    /// `02 1d 02 ‖ 41 0e`+64 ‖ `03 1a 02 0a` ‖ `02 1e 02` (HMAC and session
    /// sequence numbers on request, HMAC length 10), as in the Adobe capture
    /// (fact sheet §6.2, §8.2, §13.2).
    pub fn flash_player() -> Self {
        FlashConfig {
            hmac_length: 10,
            ..Self::client(true)
        }
    }

    /// A server: ephemeral DH, accepts ancillary data. Flash-compatible: Adobe's
    /// 77-byte certificate (groups 2, 5, 14).
    pub fn server(flash_compatible: bool) -> Self {
        FlashConfig {
            dh: DhMode::Ephemeral,
            groups: if flash_compatible {
                vec![2, 5, 14]
            } else {
                vec![16, 14, 2]
            },
            server: true,
            ..Self::client(flash_compatible)
        }
    }
}

/// A Flash-profile endpoint identity: configuration, certificate, static keys.
#[derive(Debug)]
pub struct FlashProfile {
    config: FlashConfig,
    certificate: Vec<u8>,
    static_keys: Vec<KeyPair>,
}

impl FlashProfile {
    /// Creates the identity: generates static keys if static, builds the certificate.
    pub fn new(config: FlashConfig, rng: &mut dyn RngCore) -> Result<Self, CryptoError> {
        if config.groups.is_empty() {
            return Err(CryptoError::Handshake(
                "no Diffie-Hellman group configured".into(),
            ));
        }
        for &g in &config.groups {
            if dh::group(g).is_none() {
                return Err(CryptoError::Handshake(format!(
                    "unsupported Diffie-Hellman group {g}"
                )));
            }
        }
        if !packet::HMAC_LENGTHS.contains(&usize::from(config.hmac_length)) {
            return Err(CryptoError::Handshake(format!(
                "HMAC length {} outside 4..=32 (RFC 7425 §4.6.4)",
                config.hmac_length
            )));
        }
        let static_keys = match config.dh {
            DhMode::Static => config
                .groups
                .iter()
                .map(|&g| KeyPair::generate(g, rng))
                .collect::<Result<Vec<_>, _>>()?,
            DhMode::Ephemeral => Vec::new(),
        };
        let certificate = build_certificate(&config, &static_keys, rng);
        Ok(FlashProfile {
            config,
            certificate,
            static_keys,
        })
    }

    /// An identity with a certificate given as bytes (from a file, say). An
    /// ephemeral certificate needs nothing else; a static one needs the private
    /// key of every group it offers (`private_keys`: (group, big-endian key)).
    /// The configuration's groups, DH mode, hostname and server-ness are taken
    /// from the certificate.
    pub fn with_certificate(
        mut config: FlashConfig,
        certificate: Vec<u8>,
        private_keys: &[(u64, Vec<u8>)],
    ) -> Result<Self, CryptoError> {
        let c = Certificate::parse(&certificate)?;
        config.groups = c.groups();
        config.hostname = c.hostname.clone();
        config.server = c.accepts_ancillary_data;
        let mut static_keys = Vec::new();
        if c.is_static() {
            config.dh = DhMode::Static;
            for (g, public) in &c.static_keys {
                let (_, private) = private_keys.iter().find(|k| k.0 == *g).ok_or_else(|| {
                    CryptoError::Handshake(format!(
                        "the certificate has a static key for group {g} but no private key was given for it"
                    ))
                })?;
                let k = KeyPair::from_private(*g, private)?;
                let start = public.iter().position(|&b| b != 0).unwrap_or(public.len());
                if k.public.as_slice() != &public[start..] {
                    return Err(CryptoError::Handshake(format!(
                        "the private key given for group {g} does not match the certificate's public key"
                    )));
                }
                static_keys.push(k);
            }
        } else {
            config.dh = DhMode::Ephemeral;
        }
        for &g in &config.groups {
            if dh::group(g).is_none() {
                return Err(CryptoError::Handshake(format!(
                    "the certificate offers Diffie-Hellman group {g}, which is not implemented"
                )));
            }
        }
        Ok(FlashProfile {
            config,
            certificate,
            static_keys,
        })
    }

    pub fn config(&self) -> &FlashConfig {
        &self.config
    }

    /// RFC 7425 §4.3.2: this endpoint's fingerprint (its Peer ID).
    pub fn fingerprint(&self) -> [u8; 32] {
        cert::fingerprint(&self.certificate)
    }

    fn static_key(&self, group: u64) -> Option<&KeyPair> {
        self.static_keys.iter().find(|k| k.group == group)
    }

    fn negotiation_options(&self, responder: bool) -> Vec<Opt> {
        let h = keying::hmac_option(self.config.hmac.into(), self.config.hmac_length);
        let s = keying::sseq_option(self.config.sseq.into());
        // SKIC: HMAC, SSEQ (Flash Player and rtmfp-cpp agree). SKRC: Adobe puts
        // HMAC first, rtmfp-cpp SSEQ first (fact sheet X5).
        if responder && !self.config.flash_compatible {
            vec![s, h]
        } else {
            vec![h, s]
        }
    }
}

fn random_bytes(rng: &mut dyn RngCore, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

fn build_certificate(c: &FlashConfig, static_keys: &[KeyPair], rng: &mut dyn RngCore) -> Vec<u8> {
    use cert::types::*;
    let mut opts = Vec::new();
    if let Some(h) = &c.hostname {
        opts.push(Opt::new(HOSTNAME, h.clone()));
    }
    if c.server {
        opts.push(Opt::new(ACCEPTS_ANCILLARY_DATA, vec![]));
    }
    match c.dh {
        DhMode::Static => {
            for k in static_keys {
                opts.push(Opt::new(
                    STATIC_DH_PUBLIC_KEY,
                    cert::group_key_value(k.group, &k.public),
                ));
            }
        }
        DhMode::Ephemeral => {
            let randomness = Opt::new(EXTRA_RANDOMNESS, random_bytes(rng, EXTRA_RANDOMNESS_LEN));
            let groups = c
                .groups
                .iter()
                .map(|&g| Opt::new(SUPPORTED_EPHEMERAL_DH_GROUP, crate::wire::vlu::to_vec(g)));
            // Adobe's layout puts the randomness before the groups, rtmfp-cpp after.
            if c.flash_compatible {
                opts.push(randomness);
                opts.extend(groups);
            } else {
                opts.extend(groups);
                opts.push(randomness);
            }
        }
    }
    cert::build(&opts)
}

/// Key log facts shared by both roles (names as in vectors/README.md).
fn keylog_facts(
    group: u64,
    secret: &[u8],
    skic: &[u8],
    skrc: &[u8],
    initiator: &DerivedKeys,
    hmac_len: (Option<usize>, Option<usize>),
    sseq: (bool, bool),
) -> Vec<(String, String)> {
    let mut v = vec![
        ("crypto".to_string(), "flash".to_string()),
        ("dh_group".into(), group.to_string()),
        ("dh_shared_secret".into(), hex::encode(secret)),
        ("initiator_keying_component".into(), hex::encode(skic)),
        ("responder_keying_component".into(), hex::encode(skrc)),
        ("initiator_nonce".into(), hex::encode(initiator.near_nonce)),
        ("responder_nonce".into(), hex::encode(initiator.far_nonce)),
        (
            "initiator_encrypt_key".into(),
            hex::encode(initiator.encrypt_key()),
        ),
        (
            "responder_encrypt_key".into(),
            hex::encode(initiator.decrypt_key()),
        ),
        (
            "initiator_encrypt_key_full".into(),
            hex::encode(initiator.encrypt_full),
        ),
        (
            "responder_encrypt_key_full".into(),
            hex::encode(initiator.decrypt_full),
        ),
    ];
    for (who, len, key, sseq) in [
        ("initiator", hmac_len.0, initiator.send_hmac_key, sseq.0),
        ("responder", hmac_len.1, initiator.recv_hmac_key, sseq.1),
    ] {
        v.push((
            format!("{who}_hmac_send"),
            u8::from(len.is_some()).to_string(),
        ));
        v.push((
            format!("{who}_hmac_send_len"),
            len.map_or("-".into(), |l| l.to_string()),
        ));
        v.push((
            format!("{who}_hmac_send_key"),
            if len.is_some() {
                hex::encode(key)
            } else {
                "-".into()
            },
        ));
        v.push((format!("{who}_sseq_send"), u8::from(sseq).to_string()));
    }
    v
}

/// Applies the peer's negotiation options to our policies; returns the final
/// (hmac, sseq) negotiations and the peer's announced HMAC length.
fn negotiate(
    config: &FlashConfig,
    peer: &Component,
) -> Result<(Negotiation, Negotiation, u64), CryptoError> {
    let mut hmac: Negotiation = config.hmac.into();
    let mut sseq: Negotiation = config.sseq.into();
    let (hflags, hlen) = peer.hmac.unwrap_or((0, 0));
    hmac.apply_peer(hflags, "HMAC")?;
    sseq.apply_peer(peer.sseq.unwrap_or(0), "session sequence numbers")?;
    // RFC 7425 §4.6.4: the HMAC length must be 4..32 inclusive.
    if hmac.recv_required && !packet::HMAC_LENGTHS.contains(&(hlen as usize)) {
        return Err(CryptoError::Handshake(format!(
            "peer HMAC length {hlen} outside 4..=32 (RFC 7425 §4.6.4)"
        )));
    }
    Ok((hmac, sseq, hlen))
}

fn session_cipher(
    keys: &DerivedKeys,
    ours: (Negotiation, u8),
    sseq: Negotiation,
    peer_hmac_len: u64,
) -> FlashCipher {
    let (hmac, our_len) = ours;
    let tx = DirectionKeys::new(
        keys.encrypt_key(),
        hmac.send_always
            .then_some((keys.send_hmac_key, usize::from(our_len))),
        sseq.send_always,
    );
    let rx = DirectionKeys::new(
        keys.decrypt_key(),
        hmac.recv_required
            .then_some((keys.recv_hmac_key, peer_hmac_len as usize)),
        sseq.recv_required,
    );
    FlashCipher::new(tx, rx)
}

/// The value of a certificate's first option after its leading VLU (the group
/// of a Static DH Public Key option): where Flash-era servers read the
/// initiator's key (fact sheet §7.9).
fn first_option_key(certificate: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut r = crate::wire::Reader::new(certificate);
    let bad = |e: crate::wire::WireError| {
        CryptoError::Handshake(format!("certificate's first option: {e}"))
    };
    match crate::wire::option::read_item(&mut r, "certificate option").map_err(bad)? {
        crate::wire::option::OptionItem::Option(o) => {
            let mut v = crate::wire::Reader::new(&o.value);
            v.vlu("first option's group").map_err(bad)?;
            Ok(v.rest().to_vec())
        }
        crate::wire::option::OptionItem::Marker => Err(CryptoError::Handshake(
            "certificate starts with a marker, not a key".into(),
        )),
    }
}

#[derive(Debug)]
struct FlashInitiator {
    config: FlashConfig,
    group: u64,
    keypair: KeyPair,
    responder: Certificate,
    skic: Vec<u8>,
}

impl InitiatorKeying for FlashInitiator {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        let c = Component::parse(skrc)?;
        let far_public = match &c.ephemeral_key {
            Some((g, key)) if *g == self.group => key.clone(),
            Some((g, _)) => {
                return Err(CryptoError::Handshake(format!(
                    "responder used group {g}, {} was selected",
                    self.group
                )));
            }
            None => self
                .responder
                .static_key(self.group)
                .ok_or_else(|| {
                    CryptoError::Handshake("responder component has no ephemeral key and its certificate no static key for the group".into())
                })?
                .to_vec(),
        };
        let secret = self.keypair.shared_secret(&far_public)?;
        let (hmac, sseq, peer_len) = negotiate(&self.config, &c)?;
        let keys = DerivedKeys::derive(&secret, &self.skic, skrc);
        let cipher = session_cipher(&keys, (hmac, self.config.hmac_length), sseq, peer_len);
        let keylog = keylog_facts(
            self.group,
            &secret,
            &self.skic,
            skrc,
            &keys,
            (cipher.tx().hmac_len(), cipher.rx().hmac_len()),
            (sseq.send_always, sseq.recv_required),
        );
        Ok(SessionKeys {
            cipher: Box::new(cipher),
            near_nonce: keys.near_nonce.to_vec(),
            far_nonce: keys.far_nonce.to_vec(),
            keylog,
        })
    }
}

impl CryptoProfile for FlashProfile {
    fn name(&self) -> &'static str {
        "flash"
    }

    fn default_cipher(&self) -> Box<dyn PacketCipher> {
        Box::new(FlashCipher::default_key())
    }

    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn epd_selects_me(&self, epd_bytes: &[u8]) -> bool {
        epd::Epd::parse(epd_bytes).is_ok_and(|e| e.selects(&self.certificate))
    }

    fn epd_selects_certificate(&self, epd_bytes: &[u8], certificate: &[u8]) -> bool {
        epd::Epd::parse(epd_bytes).is_ok_and(|e| e.selects(certificate))
    }

    fn canonical_epd(&self, certificate: &[u8]) -> Vec<u8> {
        epd::canonical(certificate)
    }

    /// RFC 7425 §4.3.6: the lexicographically lower certificate wins.
    fn glare_near_wins(&self, far_certificate: &[u8]) -> bool {
        far_certificate >= self.certificate.as_slice()
    }

    fn validate_certificate(&self, certificate: &[u8]) -> Result<(), CryptoError> {
        let c = Certificate::parse(certificate)?;
        for (g, key) in &c.static_keys {
            if dh::group(*g).is_some() {
                dh::validate_public_key(*g, key)?;
            }
        }
        Ok(())
    }

    fn initiate(
        &self,
        rng: &mut dyn RngCore,
        responder_certificate: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        let responder = Certificate::parse(responder_certificate)?;
        let offered = responder.groups();
        // Fact sheet §7.6: the first group in OUR preference that the responder offers.
        let group = self
            .config
            .groups
            .iter()
            .copied()
            .find(|g| offered.contains(g))
            .ok_or_else(|| {
                CryptoError::Handshake(format!(
                    "no common Diffie-Hellman group (we have {:?}, responder offers {offered:?})",
                    self.config.groups
                ))
            })?;
        let mut opts = Vec::new();
        let keypair = match self.config.dh {
            DhMode::Static => {
                let k = self
                    .static_key(group)
                    .expect("static keys cover the configured groups")
                    .clone();
                opts.push(Opt::new(
                    keying::types::DH_GROUP_SELECT,
                    crate::wire::vlu::to_vec(group),
                ));
                opts.push(Opt::new(
                    keying::types::EXTRA_RANDOMNESS,
                    random_bytes(rng, EXTRA_RANDOMNESS_LEN),
                ));
                k
            }
            DhMode::Ephemeral => {
                let k = KeyPair::generate(group, rng)?;
                opts.push(Opt::new(
                    keying::types::EPHEMERAL_DH_PUBLIC_KEY,
                    cert::group_key_value(group, &k.public),
                ));
                k
            }
        };
        opts.extend(self.negotiation_options(false));
        Ok(Box::new(FlashInitiator {
            config: self.config.clone(),
            group,
            keypair,
            responder,
            skic: cert::build(&opts),
        }))
    }

    fn respond(
        &self,
        rng: &mut dyn RngCore,
        initiator_certificate: &[u8],
        skic: &[u8],
    ) -> Result<(Vec<u8>, SessionKeys), CryptoError> {
        let initiator = Certificate::parse(initiator_certificate)?;
        let c = Component::parse(skic)?;
        let (group, far_public) = match (&c.ephemeral_key, c.group_select) {
            (Some((g, key)), _) => (*g, key.clone()),
            (None, Some(g)) => (
                g,
                initiator
                    .static_key(g)
                    .ok_or_else(|| {
                        CryptoError::Handshake(format!(
                            "initiator selected group {g} but its certificate has no key for it"
                        ))
                    })?
                    .to_vec(),
            ),
            (None, None) => {
                return Err(CryptoError::Handshake(
                    "initiator component has neither an ephemeral key nor a group select".into(),
                ));
            }
        };
        // The Flash-era liberty (fact sheet §7.9, Cumulus/MonaServer): the key is
        // the first certificate option's value after its group, in group 2.
        let (group, far_public) = if self.config.dh_key_from_first_option {
            (2, first_option_key(initiator_certificate)?)
        } else {
            (group, far_public)
        };
        if !self.config.groups.contains(&group) {
            return Err(CryptoError::Handshake(format!(
                "initiator chose group {group}, which we do not offer"
            )));
        }
        let (hmac, sseq, peer_len) = negotiate(&self.config, &c)?;
        let mut opts = self.negotiation_options(true);
        let keypair = match self.config.dh {
            DhMode::Static => {
                opts.push(Opt::new(
                    keying::types::EXTRA_RANDOMNESS,
                    random_bytes(rng, EXTRA_RANDOMNESS_LEN),
                ));
                self.static_key(group)
                    .expect("static keys cover the configured groups")
                    .clone()
            }
            DhMode::Ephemeral => {
                let k = KeyPair::generate(group, rng)?;
                opts.push(Opt::new(
                    keying::types::EPHEMERAL_DH_PUBLIC_KEY,
                    cert::group_key_value(group, &k.public),
                ));
                k
            }
        };
        // Our flags must reflect the negotiated outcome (fact sheet §4.2): the
        // responder applies the initiator's flags before writing its own.
        let h = keying::hmac_option(hmac, self.config.hmac_length);
        let s = keying::sseq_option(sseq);
        for o in opts.iter_mut() {
            if o.kind == keying::types::HMAC_NEGOTIATION {
                *o = h.clone();
            } else if o.kind == keying::types::SSEQ_NEGOTIATION {
                *o = s.clone();
            }
        }
        let skrc = cert::build(&opts);
        let secret = keypair.shared_secret(&far_public)?;
        let keys = DerivedKeys::derive(&secret, &skrc, skic);
        let initiator_view = DerivedKeys::derive(&secret, skic, &skrc);
        let cipher = session_cipher(&keys, (hmac, self.config.hmac_length), sseq, peer_len);
        let keylog = keylog_facts(
            group,
            &secret,
            skic,
            &skrc,
            &initiator_view,
            (cipher.rx().hmac_len(), cipher.tx().hmac_len()),
            (sseq.recv_required, sseq.send_always),
        );
        Ok((
            skrc,
            SessionKeys {
                cipher: Box::new(cipher),
                near_nonce: keys.near_nonce.to_vec(),
                far_nonce: keys.far_nonce.to_vec(),
                keylog,
            },
        ))
    }

    fn sign(&self, _signed_parameters: &[u8]) -> Vec<u8> {
        vec![SIGNATURE]
    }

    /// No signature scheme is configured, so any signature is accepted (fact
    /// sheet X6: rtmfp-cpp ignores it; librtmfp requires 0x58).
    fn verify(&self, _far: &[u8], _signed: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
