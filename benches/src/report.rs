//! The benchmark page of the reports site (`rtmfp-bench-report`): criterion's JSON
//! estimates, ratios to the OpenSSL baselines of the same run, SVG charts drawn with
//! `plotters`, and the history of runs with a regression threshold.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::machine::Machine;

/// One criterion benchmark's estimate.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// criterion's full id (`group/function/value`).
    pub id: String,
    pub group: String,
    pub function: String,
    pub value: String,
    pub mean_ns: f64,
    pub ci_low_ns: f64,
    pub ci_high_ns: f64,
    /// Bytes or elements per iteration, when the bench declared a throughput.
    pub bytes: Option<u64>,
    pub elements: Option<u64>,
    /// criterion's own report page, relative to the bench directory of the site.
    pub href: String,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<BTreeMap<String, u64>>,
    full_id: String,
    directory_name: String,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Stat {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct EstimatesJson {
    mean: Stat,
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") && p.join("benchmark.json").is_file() {
                out.push(p);
            } else {
                walk(&p, out);
            }
        }
    }
}

/// Reads every `*/new/{benchmark,estimates}.json` under criterion's directory.
pub fn read_criterion(dir: &Path) -> Result<Vec<Estimate>, String> {
    let mut dirs = Vec::new();
    walk(dir, &mut dirs);
    let mut v = Vec::new();
    for d in dirs {
        let read = |name: &str| {
            let p = d.join(name);
            std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
        };
        let b: BenchmarkJson = serde_json::from_str(&read("benchmark.json")?)
            .map_err(|e| format!("{}: {e}", d.join("benchmark.json").display()))?;
        let Ok(est) = read("estimates.json") else {
            continue; // a --test run writes no estimates
        };
        let e: EstimatesJson = serde_json::from_str(&est)
            .map_err(|e| format!("{}: {e}", d.join("estimates.json").display()))?;
        let t = b.throughput.unwrap_or_default();
        v.push(Estimate {
            id: b.full_id,
            group: b.group_id,
            function: b.function_id.unwrap_or_default(),
            value: b.value_str.unwrap_or_default(),
            mean_ns: e.mean.point_estimate,
            ci_low_ns: e.mean.confidence_interval.lower_bound,
            ci_high_ns: e.mean.confidence_interval.upper_bound,
            bytes: t.get("Bytes").copied(),
            elements: t.get("Elements").copied(),
            href: format!("criterion/{}/report/index.html", b.directory_name),
        });
    }
    v.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(v)
}

pub fn read_machine(dir: &Path) -> Option<Machine> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("machine.json")).ok()?).ok()
}

/// One loopback UDP measurement (`rtmfp-bench-loopback`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loopback {
    /// e.g. "rtmfp connect -> rtmfp serve (plain)" or "rtmfp-cpp t2 -> server".
    pub name: String,
    pub bytes: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
    /// CPU (user + system) of both processes per MB moved, when known.
    pub cpu_ms_per_mb: Option<f64>,
}

pub fn read_loopback(dir: &Path) -> Vec<Loopback> {
    std::fs::read_to_string(dir.join("loopback.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// One run in the history file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub time: String,
    pub commit: String,
    #[serde(default)]
    pub note: Option<String>,
    pub machine: Option<Machine>,
    /// criterion id -> mean time per iteration in nanoseconds.
    pub results: BTreeMap<String, f64>,
    #[serde(default)]
    pub loopback: Vec<Loopback>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    pub runs: Vec<Run>,
}

/// A result slower than the previous run's by more than the threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub id: String,
    pub before_ns: f64,
    pub after_ns: f64,
    /// after / before.
    pub factor: f64,
}

impl History {
    pub fn load(p: &Path) -> Result<History, String> {
        match std::fs::read_to_string(p) {
            Ok(s) => serde_json::from_str(&s).map_err(|e| format!("{}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(History::default()),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    pub fn save(&self, p: &Path) -> Result<(), String> {
        let s = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// The results of `run` slower than the last run's by more than `threshold`.
    pub fn regressions(&self, run: &Run, threshold: f64) -> Vec<Regression> {
        let Some(prev) = self.runs.last() else {
            return Vec::new();
        };
        run.results
            .iter()
            .filter_map(|(id, &after)| {
                let &before = prev.results.get(id)?;
                let factor = after / before;
                (before > 0.0 && factor > 1.0 + threshold).then(|| Regression {
                    id: id.clone(),
                    before_ns: before,
                    after_ns: after,
                    factor,
                })
            })
            .collect()
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// A target of issue 13 §2: `id` must reach `min_ratio` of the baseline's speed
/// (baseline time / our time).
pub struct Target {
    pub id: &'static str,
    pub baseline: &'static str,
    pub min_ratio: f64,
    pub what: &'static str,
}

pub const TARGETS: &[Target] = &[
    Target {
        id: "flash_seal/checksum/rtmfp/1184",
        baseline: "flash_seal/checksum/openssl/1184",
        min_ratio: 0.9,
        what: "Flash seal, 1184 bytes vs OpenSSL AES-128-CBC encrypt",
    },
    Target {
        id: "flash_open/checksum/rtmfp/1184",
        baseline: "flash_open/checksum/openssl/1184",
        min_ratio: 0.8,
        what: "Flash open, 1184 bytes vs OpenSSL AES-128-CBC decrypt",
    },
    Target {
        id: "hmac_sha256/rtmfp/1184",
        baseline: "hmac_sha256/openssl/1184",
        min_ratio: 0.9,
        what: "HMAC-SHA256, 1184 bytes vs OpenSSL",
    },
    Target {
        id: "dh/group14_ffdh2048/shared_secret/rtmfp",
        baseline: "dh/group14_ffdh2048/shared_secret/openssl",
        min_ratio: 1.0 / 1.5,
        what: "DH group 14 shared secret within 1.5x of OpenSSL ffdh2048",
    },
    Target {
        id: "dh/group14_ffdh2048/shared_secret_same_key/rtmfp",
        baseline: "dh/group14_ffdh2048/shared_secret_same_key/openssl",
        min_ratio: 1.0 / 1.5,
        what: "the same, OpenSSL given our private key (320 bits; its own choice is 225)",
    },
];

/// The OpenSSL twin of an `rtmfp` result (same id with `rtmfp` -> `openssl`).
fn baseline_id(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    parts.contains(&"rtmfp").then(|| {
        parts
            .iter()
            .map(|p| if *p == "rtmfp" { "openssl" } else { p })
            .collect::<Vec<_>>()
            .join("/")
    })
}

#[derive(Serialize)]
struct Row {
    id: String,
    group: String,
    name: String,
    time: String,
    ci: String,
    rate: String,
    baseline_time: String,
    ratio: String,
    ratio_class: &'static str,
    href: String,
}

#[derive(Serialize)]
struct TargetRow {
    what: &'static str,
    ours: String,
    theirs: String,
    ratio: String,
    target: String,
    met: Option<bool>,
}

pub fn fmt_ns(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.2} s", n / 1e9),
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

fn rate(e: &Estimate) -> String {
    if let Some(b) = e.bytes {
        format!("{:.1} MB/s", b as f64 * 1e3 / e.mean_ns)
    } else if let Some(n) = e.elements {
        format!("{:.0} /s", n as f64 * 1e9 / e.mean_ns)
    } else {
        String::new()
    }
}

/// Throughput (MB/s) against packet size, one line per implementation.
fn throughput_chart(results: &[Estimate], title: &str, group: &str) -> Result<String, String> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for imp in ["rtmfp", "openssl"] {
        let mut pts: Vec<(f64, f64)> = results
            .iter()
            .filter(|e| e.group == group && e.function == imp)
            .filter_map(|e| {
                let size: f64 = e.value.parse().ok()?;
                Some((size, e.bytes? as f64 * 1e3 / e.mean_ns))
            })
            .collect();
        if !pts.is_empty() {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            series.push((imp.to_string(), pts));
        }
    }
    line_chart(title, "packet bytes", "MB/s", &series)
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
];

/// A line chart as an SVG string.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0f64);
        for &(x, y) in series.iter().flat_map(|s| s.1.iter()) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if x0 >= x1 {
            x0 = 0.0;
            x1 = x1.max(1.0);
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..(y1 * 1.1).max(1e-9))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// CWND and RTT over time from the sender's congestion trace during a 2 MiB
/// plain-profile transfer over the simulated lossy path ([`crate::transfer::lossy_link`]).
pub fn congestion_charts() -> Result<(String, String, String), String> {
    let link = crate::transfer::lossy_link();
    let o = crate::transfer::transfer(
        crate::transfer::Profile::Plain,
        2 << 20,
        16384,
        link.clone(),
        true,
        7,
    );
    let t = o.trace.ok_or("the transfer recorded no congestion trace")?;
    let secs = |s: &rtmfp::congestion::trace::Sample| s.time.as_micros() as f64 / 1e6;
    let t0 = t.samples.first().map_or(0.0, secs);
    let series = |f: &dyn Fn(&rtmfp::congestion::trace::Sample) -> Option<f64>| {
        t.samples
            .iter()
            .filter_map(|s| Some((secs(s) - t0, f(s)?)))
            .collect::<Vec<_>>()
    };
    let a = line_chart(
        "CWND and bytes in flight (simulated lossy transfer)",
        "seconds",
        "KiB",
        &[
            ("CWND".into(), series(&|s| Some(s.cwnd as f64 / 1024.0))),
            (
                "in flight".into(),
                series(&|s| Some(s.in_flight as f64 / 1024.0)),
            ),
        ],
    )?;
    let b = line_chart(
        "Smoothed RTT and ERTO",
        "seconds",
        "ms",
        &[
            (
                "SRTT".into(),
                series(&|s| Some(s.srtt?.as_secs_f64() * 1e3)),
            ),
            ("ERTO".into(), series(&|s| Some(s.erto.as_secs_f64() * 1e3))),
        ],
    )?;
    let caption = format!(
        "2 MiB, plain profile, {} ms one way, {:.0} % loss, {:.0} % reordering, {} kB/s bottleneck, {} KiB queue: delivered {} bytes in {:.2} s of virtual time; {} trace samples ({} dropped).",
        link.delay.as_millis(),
        link.loss * 100.0,
        link.reorder * 100.0,
        link.bandwidth.unwrap_or(0) / 1000,
        link.queue_bytes / 1024,
        o.delivered_bytes,
        o.elapsed.as_secs_f64(),
        t.samples.len(),
        t.dropped
    );
    Ok((a, b, caption))
}

pub struct Page<'a> {
    pub results: &'a [Estimate],
    pub machine: Option<&'a Machine>,
    pub loopback: &'a [Loopback],
    pub history: &'a History,
    pub regressions: &'a [Regression],
    pub threshold: f64,
    pub note: Option<&'a str>,
}

const TEMPLATE: &str = include_str!("../../reports/templates/bench.html");
const STYLE: &str = include_str!("../../reports/templates/style.css");

pub fn render(p: Page<'_>) -> Result<String, String> {
    let by_id: BTreeMap<&str, &Estimate> = p.results.iter().map(|e| (e.id.as_str(), e)).collect();
    let rows: Vec<Row> = p
        .results
        .iter()
        .filter(|e| !e.id.split('/').any(|s| s == "openssl"))
        .map(|e| {
            let base = baseline_id(&e.id).and_then(|b| by_id.get(b.as_str()).copied());
            let ratio = base.map(|b| b.mean_ns / e.mean_ns);
            Row {
                id: e.id.clone(),
                group: e.group.clone(),
                name: e
                    .id
                    .strip_prefix(&format!("{}/", e.group))
                    .unwrap_or(&e.id)
                    .to_string(),
                time: fmt_ns(e.mean_ns),
                ci: format!("{} – {}", fmt_ns(e.ci_low_ns), fmt_ns(e.ci_high_ns)),
                rate: rate(e),
                baseline_time: base.map(|b| fmt_ns(b.mean_ns)).unwrap_or_default(),
                ratio: ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                ratio_class: match ratio {
                    Some(r) if r >= 0.9 => "good",
                    Some(r) if r >= 0.5 => "fair",
                    Some(_) => "poor",
                    None => "",
                },
                href: e.href.clone(),
            }
        })
        .collect();
    let targets: Vec<TargetRow> = TARGETS
        .iter()
        .map(|t| {
            let (a, b) = (by_id.get(t.id), by_id.get(t.baseline));
            let ratio = a.zip(b).map(|(a, b)| b.mean_ns / a.mean_ns);
            TargetRow {
                what: t.what,
                ours: a.map_or("not measured".into(), |a| fmt_ns(a.mean_ns)),
                theirs: b.map_or("not measured".into(), |b| fmt_ns(b.mean_ns)),
                ratio: ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                target: format!("≥ {:.2}×", t.min_ratio),
                met: ratio.map(|r| r >= t.min_ratio),
            }
        })
        .collect();
    let seal = throughput_chart(
        p.results,
        "Flash seal vs OpenSSL AES-128-CBC encrypt",
        "flash_seal/checksum",
    )?;
    let open = throughput_chart(
        p.results,
        "Flash open vs OpenSSL AES-128-CBC decrypt",
        "flash_open/checksum",
    )?;
    let hmac = throughput_chart(p.results, "HMAC-SHA256 vs OpenSSL", "hmac_sha256")?;
    let (cwnd, rtt, cc_caption) = congestion_charts()?;
    // History: the last 20 runs of the headline figures.
    let headline: Vec<&str> = TARGETS
        .iter()
        .map(|t| t.id)
        .chain([
            "flow/ack_processing/10000",
            "transfer/sim/plain_4MB_clean",
            "handshake/flash",
        ])
        .collect();
    let runs: Vec<serde_json::Value> = p
        .history
        .runs
        .iter()
        .rev()
        .take(20)
        .map(|r| {
            let values: Vec<String> = headline
                .iter()
                .map(|h| r.results.get(*h).map(|v| fmt_ns(*v)).unwrap_or_default())
                .collect();
            serde_json::json!({
                "time": r.time,
                "commit": r.commit,
                "note": r.note,
                "load": r.machine.as_ref().and_then(|m| m.load_average),
                "values": values,
            })
        })
        .collect();
    let regressions: Vec<serde_json::Value> = p
        .regressions
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "before": fmt_ns(r.before_ns),
                "after": fmt_ns(r.after_ns),
                "factor": format!("{:.2}×", r.factor),
            })
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.add_template("bench.html", TEMPLATE)
        .map_err(|e| format!("bench.html: {e}"))?;
    let ctx = minijinja::context! {
        // Trusted CSS: inserted unescaped (HTML-escaping turned its `/* */`
        // comments into text that swallowed the next rule, the header's).
        style => minijinja::Value::from_safe_string(STYLE.to_string()),
        generated => now_utc(),
        note => p.note,
        machine => p.machine,
        targets => targets,
        rows => rows,
        loopback => p.loopback,
        seal_svg => seal,
        open_svg => open,
        hmac_svg => hmac,
        cwnd_svg => cwnd,
        rtt_svg => rtt,
        cc_caption => cc_caption,
        headline => headline,
        runs => runs,
        regressions => regressions,
        threshold => format!("{:.0} %", p.threshold * 100.0),
    };
    env.get_template("bench.html")
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("bench.html: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_twin_and_regression_threshold() {
        assert_eq!(
            baseline_id("dh/group14_ffdh2048/shared_secret/rtmfp").as_deref(),
            Some("dh/group14_ffdh2048/shared_secret/openssl")
        );
        assert_eq!(baseline_id("codec/parse/data_1ud"), None);
        let run = |v: f64| Run {
            time: String::new(),
            commit: String::new(),
            note: None,
            machine: None,
            results: [("a".to_string(), v), ("b".to_string(), 100.0)].into(),
            loopback: vec![],
        };
        let h = History {
            runs: vec![run(100.0)],
        };
        assert!(h.regressions(&run(109.0), 0.10).is_empty());
        let r = h.regressions(&run(120.0), 0.10);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].id, "a");
        assert!(History::default().regressions(&run(1e9), 0.1).is_empty());
    }

    #[test]
    fn style_is_inserted_verbatim() {
        let html = render(Page {
            results: &[],
            machine: None,
            loopback: &[],
            history: &History::default(),
            regressions: &[],
            threshold: 0.1,
            note: None,
        })
        .unwrap();
        // HTML-escaping the CSS turned `/* */` into `&#x2f;* *&#x2f;`, which ate the
        // header's rule: a white navigation bar on a white page.
        assert!(html.contains("/* Sticky header and navigation */\nheader.top {"));
        assert!(!html.contains("&#x2f;*"));
    }

    #[test]
    fn utc_time_format() {
        let t = now_utc();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
