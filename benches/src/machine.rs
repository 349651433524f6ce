//! The machine a run was measured on: CPU model, crypto instruction flags, cores,
//! rustc. Recorded with every run (the report prints it beside the figures).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    /// AES-NI (`aes`), SHA-NI (`sha_ni`), VAES (`vaes`), PCLMULQDQ, AVX2, as
    /// reported by /proc/cpuinfo.
    pub aes_ni: bool,
    pub sha_ni: bool,
    pub vaes: bool,
    pub avx2: bool,
    pub logical_cores: usize,
    pub rustc: String,
    pub os: String,
    /// 1-minute load average when the run started (a loaded machine gives noisy figures).
    pub load_average: Option<f64>,
}

impl Machine {
    /// Reads /proc/cpuinfo, /proc/loadavg and `rustc -V` (missing pieces stay empty).
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let flags = field("flags");
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
            .arg("-V")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()));
        Machine {
            cpu_model: field("model name"),
            aes_ni: has("aes"),
            sha_ni: has("sha_ni"),
            vaes: has("vaes"),
            avx2: has("avx2"),
            logical_cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            rustc,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            load_average,
        }
    }

    /// Writes the machine description to `target/criterion/machine.json` (where the
    /// report command looks for it).
    pub fn record(target_criterion: &std::path::Path) {
        let m = Machine::detect();
        let _ = std::fs::create_dir_all(target_criterion);
        if let Ok(s) = serde_json::to_string_pretty(&m) {
            let _ = std::fs::write(target_criterion.join("machine.json"), s);
        }
    }
}

/// criterion's output directory (`CARGO_TARGET_DIR` or the workspace's target/, then
/// `criterion`), as criterion itself chooses it.
pub fn criterion_dir() -> std::path::PathBuf {
    if let Ok(d) = std::env::var("CRITERION_HOME") {
        return d.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace root")
                .join("target")
        });
    target.join("criterion")
}
