//! The fuzzing page shows each target's figures and the live fuzzer's findings.

use serde_json::json;

#[test]
fn fuzzing_page_shows_targets_and_live_findings() {
    let lib = json!({
        "generated_by": "rtmfp-fuzz run-all",
        "machine": "2 CPU(s)",
        "targets": [
            {"target": "packet", "seconds": 60, "sanitizer": "address", "runs": 1234567,
             "exec_per_sec": 20576, "edges_covered": 811, "features": 2301, "corpus_size": 340,
             "peak_rss_mb": 61, "findings": [], "status": "ok", "load": [1.5, 2.25], "cpu_seconds": 12.5, "exec_per_cpu_sec": 98765,
             "line_coverage": {"lines": 20000, "covered": 2468, "percent": 12.3, "reached_lines": 4000, "reached_percent": 61.7, "corpus_inputs": 340}},
            {"target": "endpoint_pair", "seconds": 60, "sanitizer": "address", "runs": 999,
             "exec_per_sec": 16, "edges_covered": 5000, "features": 9000, "corpus_size": 50,
             "peak_rss_mb": 300, "findings": ["artifacts/endpoint_pair/crash-<b>"], "status": "finding"}
        ]
    });
    let live = json!({
        "target": "udp://127.0.0.1:1935", "profile": "plain", "seconds": 30.0, "inputs": 1350,
        "inputs_per_sec": 45.0, "by_kind": {"SessionChunks": 900}, "sessions_opened": 27,
        "liveness_checks": 27, "templates": 300,
        "findings": ["fz/finding-1.json: target dead or wedged"], "stopped_because": "finding"
    });
    let html = rtmfp_reports::fuzzing::render(Some(&lib), Some(&live)).unwrap();
    for want in [
        "packet",
        "20576",
        "811",
        "12.3 % (2468/20000)",
        "61.7 % of the 4000 lines",
        "1.5 → 2.25",
        "98765",
        "endpoint_pair",
        "1 finding",
        "SessionChunks",
        "fz/finding-1.json",
        "udp://127.0.0.1:1935",
    ] {
        assert!(html.contains(want), "page lacks {want}");
    }
    // Values are escaped.
    assert!(html.contains("crash-&lt;b&gt;") && !html.contains("crash-<b>"));
    // Either summary alone renders.
    assert!(
        rtmfp_reports::fuzzing::render(None, Some(&live))
            .unwrap()
            .contains("1350")
    );
    assert!(
        !rtmfp_reports::fuzzing::render(Some(&lib), None)
            .unwrap()
            .contains("Live target")
    );
}
