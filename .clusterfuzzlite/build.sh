#!/bin/bash -eu
# Builds every fuzz target of fuzz/ for ClusterFuzzLite / OSS-Fuzz, with a seed
# corpus (generated from vectors/, simulated sessions and the scenarios) and the
# dictionary for each. Uses the variables OSS-Fuzz sets: SRC, OUT, SANITIZER
# (address, undefined, memory, coverage, none).
cd "$SRC/rtmfp-conformance"

# 1. Seeds and dictionary: an ordinary (uninstrumented) build of the generator
#    (the workspace's dev profile optimises dependencies, so it is quick to run).
#    CC/CFLAGS are the sanitizer's: not for this host build.
host_build=(env -u RUSTFLAGS -u CARGO_BUILD_TARGET -u RUSTC_BOOTSTRAP -u CFLAGS -u CXXFLAGS
    -u CUSTOM_LIBFUZZER_PATH -u CUSTOM_LIBFUZZER_STD_CXX cargo run --locked -p rtmfp-fuzz-targets --)
"${host_build[@]}" corpus --out fuzz/corpus --dict fuzz/rtmfp.dict
# Each target's max_len (small inputs: more executions per second).
"${host_build[@]}" options --out fuzz/options

# 2. The targets, instrumented by cargo-fuzz for the requested sanitizer.
case "${SANITIZER:-address}" in
    address|memory|thread|leak) sanitizer_flag=(--sanitizer "$SANITIZER") ;;
    *) sanitizer_flag=(--sanitizer none) ;;
esac
cd fuzz
cargo fuzz build -O --debug-assertions "${sanitizer_flag[@]}"
targets=$(cargo fuzz list)
build_dir=target/x86_64-unknown-linux-gnu/release

# 3. Binaries, seed corpora and dictionaries where OSS-Fuzz looks for them.
for t in $targets; do
    cp "$build_dir/$t" "$OUT/$t"
    if [ -d "corpus/$t" ] && [ -n "$(ls -A "corpus/$t")" ]; then
        (cd "corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    fi
    cp rtmfp.dict "$OUT/$t.dict"
    cp "options/$t.options" "$OUT/$t.options"
done
echo "built: $targets" | tr '\n' ' '
echo
