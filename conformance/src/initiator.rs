//! Listen mode's helpers: starting the stack's initiator once per case
//! (`run --listen ... --initiator-cmd 'CMD'`), and telling "the initiator never
//! came" (unsupported) from "it came and misbehaved" (judged).
//!
//! The command runs under `sh -c` in a process group of its own, with `{addr}`,
//! `{host}` and `{port}` replaced by the address the tester listens on for this
//! case, its stdout and stderr going to a log next to the case's evidence; the
//! whole group is stopped when the case ends (SIGTERM, then SIGKILL), so
//! nothing it started outlives the case.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::WireRecord;

/// A started initiator (or responder: the matrix uses it for both); stopped on drop.
#[derive(Debug)]
pub struct Started {
    child: Child,
}

/// `{addr}`, `{host}`, `{port}` of `at`, for a command line.
pub fn substitute(template: &str, at: SocketAddr) -> String {
    let host = at.ip().to_string();
    let addr = at.to_string();
    template
        .replace("{addr}", &addr)
        .replace("{host}", &host)
        .replace("{port}", &at.port().to_string())
}

/// The directory of this executable, so that commands can name the workspace's
/// other binaries (`rtmfp serve`) as they were built next to it.
pub fn own_bin_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// `PATH` with this executable's directory first.
pub fn search_path() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = own_bin_dir().into_iter().collect();
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

impl Started {
    /// Runs `command` with `sh -c` in a new process group, output to `log`
    /// (or discarded).
    pub fn spawn(command: &str, log: Option<&Path>) -> Result<Started, String> {
        use std::os::unix::process::CommandExt;
        let out = |what: &str| -> Result<Stdio, String> {
            match log {
                Some(p) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map(Stdio::from)
                    .map_err(|e| format!("{} ({what}): {e}", p.display())),
                None => Ok(Stdio::null()),
            }
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("PATH", search_path())
            .stdin(Stdio::null())
            .stdout(out("stdout")?)
            .stderr(out("stderr")?)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `{command}`: {e}"))?;
        Ok(Started { child })
    }

    /// Whether it is still running (false once it exited on its own).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the whole process group: SIGTERM, up to `grace` to exit, SIGKILL.
    pub fn stop(&mut self, grace: Duration) {
        let group = self.child.id() as i32;
        signal_group(group, libc::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < grace {
            if !self.running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The shell may be gone while what it started is not.
        signal_group(group, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(300));
    }
}

fn signal_group(group: i32, sig: libc::c_int) {
    if group <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals that process group; it
    // touches no memory of ours. The group is the one `process_group(0)` made
    // for our child (its pid), never ours.
    unsafe {
        libc::kill(-group, sig);
    }
}

/// Listen mode: a case whose steps failed while nothing at all came from the
/// target never met its initiator, so it is unsupported, not failed.
pub fn never_came(records: &[WireRecord]) -> bool {
    !records.iter().any(|r| !r.from_tester)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_name_the_listening_address() {
        let a: SocketAddr = "127.0.0.1:4711".parse().unwrap();
        assert_eq!(
            substitute("fcclient -4 {host} {port} # {addr}", a),
            "fcclient -4 127.0.0.1 4711 # 127.0.0.1:4711"
        );
        let a: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(substitute("x {addr} {host}", a), "x [::1]:9 ::1");
    }

    #[test]
    fn stopping_ends_the_whole_process_group() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let pidfile = dir.join("grandchild.pid");
        // The shell starts a grandchild that ignores SIGTERM.
        let cmd = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 30' & wait",
            pidfile.display()
        );
        let mut s = Started::spawn(&cmd, Some(&dir.join("log"))).unwrap();
        let mut pid = None;
        for _ in 0..500 {
            if let Some(p) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                pid = Some(p);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = pid.expect("the grandchild started");
        s.stop(Duration::from_millis(100));
        // Reaped by init or gone: signal 0 fails once it no longer exists.
        let mut gone = false;
        for _ in 0..500 {
            // SAFETY: signal 0 only checks that the process exists.
            let exists = unsafe { libc::kill(pid, 0) } == 0;
            // A killed process not yet reaped by its new parent is a zombie.
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| {
                    t.rsplit(')')
                        .next()
                        .map(|r| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(false);
            if !exists || zombie {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone, "process {pid} survived the stop");
    }

    #[test]
    fn a_case_with_nothing_from_the_target_never_met_its_initiator() {
        let rec = |from_tester| WireRecord {
            time: rtmfp::time::Instant::from_micros(0),
            src: "127.0.0.1:1".parse().unwrap(),
            dst: "127.0.0.1:2".parse().unwrap(),
            data: vec![0; 4],
            from_tester,
            note: None,
        };
        assert!(never_came(&[]));
        assert!(never_came(&[rec(true)]));
        assert!(!never_came(&[rec(true), rec(false)]));
    }
}
