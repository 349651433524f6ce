//! The fuzzing page: the libFuzzer targets' summary (`rtmfp-fuzz run-all`) and the
//! live-target fuzzer's summary (`rtmfp-conformance fuzz`), as JSON values.

use minijinja::{Error, Value, context};

/// Renders `fuzzing.html` from either or both summaries.
pub fn render(
    libfuzzer: Option<&serde_json::Value>,
    live: Option<&serde_json::Value>,
) -> Result<String, Error> {
    let env = crate::templates::env()?;
    let total_findings: usize = libfuzzer
        .and_then(|l| l.get("targets"))
        .and_then(|t| t.as_array())
        .map_or(0, |ts| {
            ts.iter()
                .map(|t| {
                    t.get("findings")
                        .and_then(|f| f.as_array())
                        .map_or(0, Vec::len)
                })
                .sum()
        });
    let target = live
        .and_then(|l| l.get("target"))
        .and_then(|t| t.as_str())
        .unwrap_or("rtmfp (reference)");
    env.get_template("fuzzing.html")?.render(context! {
        page => "fuzzing",
        root => "",
        meta => context! { target => target, started => "", seed => "" },
        libfuzzer => libfuzzer.map(Value::from_serialize),
        live => live.map(Value::from_serialize),
        total_findings => total_findings,
    })
}
