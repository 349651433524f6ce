//! The files the tool needs at run time, compiled into the binary, so that an
//! installed `rtmfp-conformance` (`cargo install --path conformance`) works from
//! any directory: the scenarios and the captures they replay. (The RFC text and
//! the report templates are `include_str!`ed by `requirements` and
//! `rtmfp-reports`.)
//!
//! Built-in files are named under the virtual root [`ROOT`]
//! (`<built-in>/conformance/scenarios/handshake/x.yaml`), so that a scenario's
//! relative path to a capture (`../../../vectors/flash-echo.pcap`) resolves as
//! it does in the source tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::scenario::{Scenario, ScenarioError};

static SCENARIOS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");
static VECTORS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../vectors");

/// The virtual directory built-in files are named under.
pub const ROOT: &str = "<built-in>";
const SCENARIO_DIR: &str = "conformance/scenarios";
const VECTOR_DIR: &str = "vectors";

/// The built-in scenario directory's name (for messages).
pub fn scenario_root() -> PathBuf {
    Path::new(ROOT).join(SCENARIO_DIR)
}

/// `path` without `.` and with `..` applied (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.iter().collect()
}

/// The contents of a built-in file named under [`ROOT`], if `path` names one.
pub fn builtin(path: &Path) -> Option<&'static [u8]> {
    let p = normalize(path);
    let rel = p.strip_prefix(ROOT).ok()?;
    if let Ok(r) = rel.strip_prefix(SCENARIO_DIR) {
        return SCENARIOS.get_file(r).map(|f| f.contents());
    }
    if let Ok(r) = rel.strip_prefix(VECTOR_DIR) {
        return VECTORS.get_file(r).map(|f| f.contents());
    }
    None
}

/// Reads a file: a built-in one (named under [`ROOT`]) or one on disk.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    match builtin(path) {
        Some(b) => Ok(b.to_vec()),
        None if path.starts_with(ROOT) => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no such built-in file", path.display()),
        )),
        None => std::fs::read(path),
    }
}

/// Reads a text file as [`read`] does.
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn collect<'a>(d: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for f in d.files() {
        if f.path()
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml")
        {
            out.push(f);
        }
    }
    for sub in d.dirs() {
        collect(sub, out);
    }
}

/// The built-in scenarios, their requirement IDs checked against the RFC's
/// catalogue (what the tests and the CLI load).
pub fn builtin_checked() -> Result<Vec<Scenario>, ScenarioError> {
    let known: BTreeSet<String> = crate::requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    builtin_scenarios(&known)
}

/// The built-in scenarios, sorted by path.
pub fn builtin_scenarios(known: &BTreeSet<String>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut files = Vec::new();
    collect(&SCENARIOS, &mut files);
    files.sort_by_key(|f| f.path());
    let mut out = Vec::new();
    let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    for f in files {
        let name = scenario_root().join(f.path());
        let text = f.contents_utf8().ok_or_else(|| ScenarioError {
            file: name.display().to_string(),
            line: 1,
            column: 1,
            message: "not UTF-8".into(),
        })?;
        let s = Scenario::parse(text, &name, known)?;
        if let Some(prev) = ids.insert(s.id.clone(), name.clone()) {
            return Err(ScenarioError {
                file: name.display().to_string(),
                line: 1,
                column: 1,
                message: format!(
                    "duplicate scenario id `{}` (also in {})",
                    s.id,
                    prev.display()
                ),
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// Where the scenarios of a run come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Directories given with `--scenarios` (in order).
    pub dirs: Vec<PathBuf>,
    /// Leave the built-in scenarios out (`--no-builtin`).
    pub no_builtin: bool,
}

/// The scenarios of a run: the built-in ones, then each `--scenarios` directory's,
/// a scenario with the ID of an earlier one replacing it (in place).
pub fn load(src: &Sources, known: &BTreeSet<String>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = if src.no_builtin {
        Vec::new()
    } else {
        builtin_scenarios(known)?
    };
    for d in &src.dirs {
        if !d.is_dir() {
            return Err(ScenarioError {
                file: d.display().to_string(),
                line: 0,
                column: 0,
                message: if d.exists() {
                    "--scenarios: not a directory".into()
                } else {
                    "--scenarios: no such directory".into()
                },
            });
        }
        for s in crate::scenario::load_dir(d, known)? {
            match all.iter_mut().find(|x| x.id == s.id) {
                Some(x) => *x = s,
                None => all.push(s),
            }
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        crate::requirements::catalogue()
            .iter()
            .map(|r| r.id.clone())
            .collect()
    }

    #[test]
    fn builtin_scenarios_match_the_source_tree() {
        let built_in = builtin_scenarios(&known()).unwrap();
        let on_disk = crate::scenario::load_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
            &known(),
        )
        .unwrap();
        let ids = |v: &[Scenario]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&built_in), ids(&on_disk));
        assert!(built_in.len() > 50, "{}", built_in.len());
        assert!(built_in[0].file.starts_with(ROOT));
    }

    #[test]
    fn relative_paths_resolve_inside_the_built_in_tree() {
        let p = scenario_root().join("handshake/../../../vectors/flash-echo.pcap");
        let bytes = read(&p).unwrap();
        let disk = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/flash-echo.pcap"),
        )
        .unwrap();
        assert_eq!(bytes, disk);
        assert!(read(&scenario_root().join("nope.yaml")).is_err());
    }

    #[test]
    fn a_missing_directory_is_named_without_a_position() {
        let src = Sources {
            dirs: vec![PathBuf::from("/nonexistent/scenarios")],
            no_builtin: false,
        };
        let e = load(&src, &known()).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.message.contains("no such directory"), "{e:?}");
    }
}
