//! `rtmfp-reports`: renders conformance results.
//!
//! The input is [`model::Results`], what `rtmfp-conformance run` writes as `results.json`.
//! The outputs are
//!
//! - a static HTML site ([`render_site`]): `index.html` (summary and cases),
//!   `requirements.html` (coverage per section over the RFC text) and one page per case
//!   under `cases/` with the steps, the packet trace and a message sequence chart;
//! - JUnit XML ([`junit_xml`]) for CI systems;
//! - a terse terminal summary ([`summary_text`], [`summary_text_with_report`]).
//!
//! All HTML and XML is produced by `minijinja` templates (in `templates/`, compiled into
//! the crate) with every value escaped.

use std::path::{Path, PathBuf};

pub mod fuzzing;
pub mod model;

mod coverage;
pub mod diff;
mod html;
mod junit;
mod rfctext;
mod sequence;
mod summary;
mod templates;

pub use diff::{diff, diff_text, render_diff};
pub use html::{case_file_name, render_site};
pub use junit::junit_xml;
pub use summary::{summary_text, summary_text_with_report};

use model::Results;

/// Everything that can go wrong while loading results or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A results file is not valid results JSON.
    #[error("{}: not a valid results file: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A template failed to render (a bug in this crate, not in the input).
    #[error("template error: {0:#}")]
    Template(#[from] minijinja::Error),
}

impl ReportError {
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads and parses a `results.json` file.
pub fn load_results(path: &Path) -> Result<Results, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    })
}
