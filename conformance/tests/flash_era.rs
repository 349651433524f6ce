//! Flash-era conformance (issue 16): tester identities, the key-agreement
//! check, and the reference target's Flash-era liberty of taking the far end's
//! Diffie-Hellman key from its certificate's first option.

use std::time::Duration;

use rand::SeedableRng;

use rtmfp::session::config::EndpointConfig;
use rtmfp_conformance::harness::SimHarness;
use rtmfp_conformance::identity::TesterIdentity;
use rtmfp_conformance::keying::{self, KEYING_FAILED};
use rtmfp_conformance::scenario::Scenario;
use rtmfp_conformance::suite::{Options, ProfileName, identity_for, run};
use rtmfp_reports::model::Outcome;

fn scenarios() -> Vec<Scenario> {
    rtmfp_conformance::embedded::builtin_checked().unwrap()
}

fn not_passing(r: &rtmfp_reports::model::Results) -> Vec<String> {
    r.cases
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .map(|c| {
            format!(
                "{} {:?}: {}",
                c.id,
                c.outcome,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// The liberty: the reference target reads the initiator's key from its
/// certificate's first option, as Cumulus/MonaServer do. With the tester
/// presenting Flash Player's identity the whole suite still passes.
#[test]
fn first_option_key_liberty_passes_with_the_flash_player_identity() {
    let all = scenarios();
    let chosen: Vec<&Scenario> = all.iter().collect();
    let opts = Options {
        tester_identity: Some(TesterIdentity::FlashPlayer),
        target_dh_key_from_first_option: true,
        ..Options::default()
    };
    let r = run(&chosen, &opts, |_| {}).unwrap();
    let bad = not_passing(&r);
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(r.cases.len(), all.len());
}

/// A target deriving the wrong session keys is one diagnosis, "keying failed",
/// on every case that needed a session: never a rule failure or warning.
#[test]
fn wrong_key_derivation_is_keying_failed_not_rule_failures() {
    let all = scenarios();
    let chosen: Vec<&Scenario> = all.iter().collect();
    let opts = Options {
        inject: vec!["wrong-key-derivation".into()],
        ..Options::default()
    };
    let r = run(&chosen, &opts, |_| {}).unwrap();
    let judged: Vec<String> = r
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Warn))
        .map(|c| format!("{} {:?}: {:?}", c.id, c.outcome, c.reason))
        .collect();
    assert!(
        judged.is_empty(),
        "rule verdicts from a keying failure: {judged:#?}"
    );
    let keying: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| {
            c.reason
                .as_deref()
                .is_some_and(|x| x.starts_with(KEYING_FAILED))
        })
        .map(|c| c.id.as_str())
        .collect();
    assert!(keying.len() >= 40, "only {} keying failures", keying.len());
    for c in &r.cases {
        if c.outcome == Outcome::Unsupported {
            assert!(
                c.reason
                    .as_deref()
                    .is_some_and(|x| x.starts_with(KEYING_FAILED)),
                "{}: {:?}",
                c.id,
                c.reason
            );
        }
    }
    // The same session-less cases pass as on the clean reference.
    assert!(
        r.cases
            .iter()
            .any(|c| c.id == "handshake.rhello-echoes-tag" && c.outcome == Outcome::Pass)
    );
}

fn preflight(
    fault: Option<&str>,
    first_option: bool,
    tester: TesterIdentity,
) -> Result<(), String> {
    let id = identity_for(ProfileName::Flash, 7, &tester, first_option, "tester").unwrap();
    let mut cfg = EndpointConfig::default();
    if let Some(f) = fault {
        cfg.faults.set(f).unwrap();
    }
    let epd = id.target.canonical_epd(id.target.certificate());
    let mut h = SimHarness::new(
        7,
        id.tester.clone(),
        id.target.clone(),
        cfg,
        rtmfp_conformance::liberties::AppSettings::default(),
    );
    keying::preflight(&mut h, epd, Duration::from_secs(5))
}

/// The preflight form of the check: one line for the whole run.
#[test]
fn preflight_reports_keying_once() {
    assert_eq!(preflight(None, false, TesterIdentity::Server), Ok(()));
    assert_eq!(preflight(None, true, TesterIdentity::FlashPlayer), Ok(()));
    let e = preflight(Some("wrong-key-derivation"), false, TesterIdentity::Server).unwrap_err();
    assert!(
        e.starts_with("keying failed: the target did not answer under the session key"),
        "{e}"
    );
    assert!(
        e.contains("did not decrypt") || e.contains("no datagram"),
        "{e}"
    );
    // With the liberty, a server-style certificate (hostname first) makes the
    // target take bytes of the hostname as the key, as MonaServer2 does: the
    // handshake completes with keys that disagree.
    let e = preflight(None, true, TesterIdentity::Server).unwrap_err();
    assert!(e.starts_with(KEYING_FAILED), "{e}");
}

/// The identities have the layouts of the stacks they are named for.
#[test]
fn tester_identities_have_their_layouts() {
    let fp = TesterIdentity::FlashPlayer.profile(1).unwrap();
    let c = fp.certificate();
    // Flash Player: `81 02 1d 02` + a 128-byte group-2 key, nothing else
    // (unless the key happens to have a leading zero byte).
    assert_eq!(&c[..4], &[0x81, 0x02, 0x1d, 0x02]);
    assert_eq!(c.len(), 132);
    let server = TesterIdentity::Server.profile(1).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let k = fp.initiate(&mut rng, server.certificate()).unwrap();
    let skic = k.skic();
    // SKIC: 02 1d 02 ‖ 41 0e + 64 ‖ 03 1a 02 0a ‖ 02 1e 02 (76 bytes)
    assert_eq!(skic.len(), 76);
    assert_eq!(&skic[..5], &[0x02, 0x1d, 0x02, 0x41, 0x0e]);
    assert_eq!(&skic[69..], &[0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02]);
    // rtmfp-cpp: static keys for groups 16, 14, 2 in that order.
    let cpp = TesterIdentity::RtmfpCpp.profile(1).unwrap();
    let parsed = rtmfp::crypto::flash::cert::Certificate::parse(cpp.certificate()).unwrap();
    assert_eq!(parsed.groups(), vec![16, 14, 2]);
    // The server style: hostname first, ephemeral.
    assert_eq!(&server.certificate()[..2], &[0x07, 0x00]);
    assert!(TesterIdentity::parse("no-such-identity-or-file").is_err());
}

/// `--tester-identity FILE`: an ephemeral certificate alone, or a static one
/// with its private key (KAT-D of the fact sheet).
#[test]
fn certificate_from_a_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("flash-era");
    std::fs::create_dir_all(&dir).unwrap();
    let eph = dir.join("eph.cert");
    std::fs::write(&eph, "# hostname x, ephemeral group 2\n0200 78\n021502\n").unwrap();
    let id = TesterIdentity::parse(eph.to_str().unwrap()).unwrap();
    let p = id.profile(1).unwrap();
    assert_eq!(p.certificate(), &[0x02, 0x00, 0x78, 0x02, 0x15, 0x02]);
    let x = "3d5a51af0d9a25fa7cd50861f6e15b0130a9d312b0c1d306a113741482256356";
    let kp = rtmfp::crypto::flash::dh::KeyPair::from_private(2, &hex::decode(x).unwrap()).unwrap();
    let cert = format!("81021d02{}", hex::encode(&kp.public));
    let st = dir.join("static.cert");
    std::fs::write(&st, format!("{cert}\n")).unwrap();
    let e = TesterIdentity::parse(st.to_str().unwrap())
        .unwrap()
        .profile(1)
        .map(|_| ())
        .unwrap_err();
    assert!(e.contains("no private key"), "{e}");
    std::fs::write(&st, format!("{cert}\nkey 2 {x}\n")).unwrap();
    let p = TesterIdentity::parse(st.to_str().unwrap())
        .unwrap()
        .profile(1)
        .unwrap();
    assert_eq!(
        hex::encode(rtmfp::crypto::flash::cert::fingerprint(p.certificate())),
        "bd9dc0f35cab44052d7b8d0a3c41fcea791454715e608a7f63f83ef64f3a2504"
    );
    std::fs::write(&st, format!("{cert}\nkey 2 01{}\n", &x[2..])).unwrap();
    let e = TesterIdentity::parse(st.to_str().unwrap())
        .unwrap()
        .profile(1)
        .map(|_| ())
        .unwrap_err();
    assert!(e.contains("does not match"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The liberty is in the `--liberty` table, and it brings the Flash Player
/// identity with it (so the per-liberty self-test meets the target with the
/// identity that liberty is about), unless an identity is given.
#[test]
fn first_option_key_is_a_liberty_with_the_flash_player_identity() {
    use rtmfp_conformance::liberties::{DH_KEY_FROM_FIRST_OPTION, find};
    let l = find(DH_KEY_FROM_FIRST_OPTION).expect("in the table");
    assert!(l.rfc.contains("§2.3.7"), "{}", l.rfc);
    let with = |liberties: &[&str], identity: Option<TesterIdentity>| Options {
        liberties: liberties.iter().map(|s| s.to_string()).collect(),
        tester_identity: identity,
        ..Options::default()
    };
    for names in [&[DH_KEY_FROM_FIRST_OPTION][..], &["all"]] {
        let o = with(names, None);
        assert!(o.target_first_option());
        assert_eq!(o.tester_identity(), TesterIdentity::FlashPlayer);
    }
    let o = with(&[], None);
    assert!(!o.target_first_option());
    assert_eq!(o.tester_identity(), TesterIdentity::Server);
    let o = with(&[DH_KEY_FROM_FIRST_OPTION], Some(TesterIdentity::Server));
    assert_eq!(o.tester_identity(), TesterIdentity::Server);
}

/// The run's preflight (`rtmfp-conformance run` calls it before any case):
/// a target deriving the wrong keys is one "keying failed" line for the run,
/// saying what the tester sent and what it saw; the liberty with the Flash
/// Player identity keys; with a server-style identity it does not.
#[test]
fn the_run_preflight_says_keying_failed_once() {
    use rtmfp_conformance::liberties::DH_KEY_FROM_FIRST_OPTION;
    use rtmfp_conformance::preflight::check;
    let e = check(&Options {
        inject: vec!["wrong-key-derivation".into()],
        ..Options::default()
    })
    .unwrap_err();
    assert!(e.starts_with("preflight: keying failed: "), "{e}");
    assert_eq!(e.matches(KEYING_FAILED).count(), 1, "{e}");
    assert!(
        e.contains("the tester sent: ")
            && e.contains("IIKeying with its certificate (tester identity server"),
        "{e}"
    );
    assert!(
        e.contains("it saw: ") && e.contains("RHello, RIKeying"),
        "{e}"
    );
    assert_eq!(check(&Options::default()), Ok(()));
    let liberty = |identity| Options {
        liberties: vec![DH_KEY_FROM_FIRST_OPTION.into()],
        tester_identity: identity,
        ..Options::default()
    };
    assert_eq!(check(&liberty(None)), Ok(()));
    let e = check(&liberty(Some(TesterIdentity::Server))).unwrap_err();
    assert!(e.contains(KEYING_FAILED), "{e}");
    // A fault that is a rule's to catch does not stop the run here.
    assert_eq!(
        check(&Options {
            inject: vec!["accept-bad-cookie".into()],
            ..Options::default()
        }),
        Ok(())
    );
}

/// The command line: exit status 3 and one diagnosis, no report of dozens of
/// cases; and the re-run command of a case names the identity the run
/// defaulted to (re-run commands are built from the arguments as typed).
#[test]
fn the_command_line_stops_once_and_reruns_name_the_identity() {
    let out = std::env::temp_dir().join(format!("flash-era-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rtmfp-conformance"))
            .arg("run")
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run(&["--inject", "wrong-key-derivation"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(err.matches(KEYING_FAILED).count(), 1, "{err}");
    assert!(!out.join("results.json").exists());
    let o = run(&["-q", "handshake.rhello-echoes-tag"]);
    assert_eq!(o.status.code(), Some(0));
    let r: rtmfp_reports::model::Results =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert!(
        r.cases[0].rerun.contains("--tester-identity server"),
        "{}",
        r.cases[0].rerun
    );
    let o = run(&[
        "-q",
        "--tester-identity",
        "rtmfp-cpp",
        "handshake.rhello-echoes-tag",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let r: rtmfp_reports::model::Results =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let rerun = &r.cases[0].rerun;
    assert_eq!(rerun.matches("--tester-identity").count(), 1, "{rerun}");
    assert!(rerun.contains("--tester-identity rtmfp-cpp"), "{rerun}");
    let _ = std::fs::remove_dir_all(&out);
}
