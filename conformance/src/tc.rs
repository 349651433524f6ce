//! A minimal RFC 7425 §5 "TC" exchange, for Flash-era application servers
//! that do not echo arbitrary flows (`--tc-app NAME`): the tester opens the
//! NetConnection control flow (metadata `54 43 04 00`: TC, stream ID 0) and
//! sends `connect` as an AMF0 command (TC message type 20, transaction 1); the
//! server answers `_result` (or `_error`) on a flow in return association with
//! it (fact sheet §10.2, §10.4, §10.5). That answer is user data the target
//! sends, which is all a case needing the target to send some asks for.

use rtmfp::crypto::flash::tc::{TcMetadata, message};

/// TC message type 20: Command, AMF0.
pub const COMMAND_AMF0: u8 = 20;

/// The control flow's metadata: TC, stream ID 0, sequence order (`54 43 04 00`).
pub fn control_flow_metadata() -> Vec<u8> {
    TcMetadata {
        stream_id: 0,
        network_order: false,
    }
    .to_bytes()
}

fn amf0_string(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&b[..n]);
}

fn amf0_string_value(out: &mut Vec<u8>, s: &str) {
    out.push(0x02);
    amf0_string(out, s);
}

fn amf0_number(out: &mut Vec<u8>, x: f64) {
    out.push(0x00);
    out.extend_from_slice(&x.to_be_bytes());
}

/// The `connect` command: name, transaction ID 1, and the command object
/// `{app, tcUrl, flashVer, objectEncoding: 0}` (AMF0), as a TC message.
pub fn connect_message(app: &str, tc_url: &str) -> Vec<u8> {
    let mut p = Vec::new();
    amf0_string_value(&mut p, "connect");
    amf0_number(&mut p, 1.0);
    p.push(0x03); // object
    for (k, v) in [
        ("app", app),
        ("tcUrl", tc_url),
        ("flashVer", "WIN 32,0,0,0"),
    ] {
        amf0_string(&mut p, k);
        amf0_string_value(&mut p, v);
    }
    amf0_string(&mut p, "objectEncoding");
    amf0_number(&mut p, 0.0);
    p.extend_from_slice(&[0x00, 0x00, 0x09]); // object end
    message(COMMAND_AMF0, 0, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_bytes() {
        // Fact sheet KAT-T: the control flow's metadata.
        assert_eq!(control_flow_metadata(), vec![0x54, 0x43, 0x04, 0x00]);
        let m = connect_message("live", "rtmfp://127.0.0.1:19500/live");
        // type 20, timestamp 0, AMF0 string "connect", number 1.0, object
        let mut want = vec![0x14, 0, 0, 0, 0, 0x02, 0x00, 0x07];
        want.extend_from_slice(b"connect");
        want.extend_from_slice(&[0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 0x03]);
        want.extend_from_slice(b"app");
        want.extend_from_slice(&[0x02, 0x00, 0x04]);
        want.extend_from_slice(b"live");
        assert_eq!(&m[..want.len()], &want[..]);
        assert_eq!(&m[m.len() - 3..], &[0x00, 0x00, 0x09]);
    }
}
