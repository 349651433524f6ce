//! `rtmfp-conformance diff OLD NEW`: two runs' results.json compared (the
//! comparison itself is `rtmfp_reports::diff`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A results.json, or a report directory holding one.
fn results_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    }
}

/// Prints the comparison (and writes `diff.html` into `out`); exit status 1
/// when a case got worse.
pub fn command(
    old: &Path,
    new: &Path,
    out: Option<&Path>,
    color: bool,
) -> Result<ExitCode, String> {
    let a = rtmfp_reports::load_results(&results_file(old)).map_err(|e| e.to_string())?;
    let b = rtmfp_reports::load_results(&results_file(new)).map_err(|e| e.to_string())?;
    let d = rtmfp_reports::diff(&a, &b);
    crate::manners::out(&rtmfp_reports::diff_text(&d, color));
    if let Some(dir) = out {
        rtmfp_reports::render_diff(&d, dir).map_err(|e| e.to_string())?;
        crate::outln!("comparison: {}", dir.join("diff.html").display());
    }
    Ok(if d.regressed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
