#!/bin/bash -eu
# Runs build.sh the way OSS-Fuzz's `compile` step does (its environment
# variables, for a Rust project with libFuzzer and $SANITIZER), without docker,
# then checks that every binary it put in $OUT starts and runs its seed corpus.
#
#   .clusterfuzzlite/local-compile.sh [BASE]      # default BASE=/tmp/rtmfp-oss-fuzz
#
# Needs: clang (apt-get install clang; OSS-Fuzz's image has its own), zip,
# cargo-fuzz, and a nightly compiler or RUSTC_BOOTSTRAP=1 (set here: the
# base-builder-rust image is on nightly). The one deliberate difference from the
# image: OSS-Fuzz links its prebuilt /usr/lib/libFuzzingEngine.a through
# CUSTOM_LIBFUZZER_PATH; here that is clang's own libclang_rt.fuzzer archive.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:-/tmp/rtmfp-oss-fuzz}
export SRC=$base/src OUT=$base/out WORK=$base/work
mkdir -p "$SRC" "$OUT" "$WORK"
ln -sfn "$root" "$SRC/rtmfp-conformance"

export FUZZING_LANGUAGE=rust ARCHITECTURE=x86_64 FUZZING_ENGINE=libfuzzer
export SANITIZER=${SANITIZER:-address}
export CC=clang CXX=clang++
# As infra/base-images/base-builder sets them (SANITIZER_FLAGS_address,
# COVERAGE_FLAGS for libFuzzer, CXXFLAGS_EXTRA).
sanitizer_flags="-fsanitize=address -fsanitize-address-use-after-scope"
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $sanitizer_flags -fsanitize=fuzzer-no-link"
export CXXFLAGS="$CFLAGS -stdlib=libc++"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
export RUSTFLAGS="--cfg fuzzing -Zsanitizer=$SANITIZER -Cdebuginfo=1 -Cforce-frame-pointers"
export RUSTC_BOOTSTRAP=1
engine=$(clang --print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
if [ ! -f "$engine" ]; then
    engine=$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null | head -n1)
fi
export CUSTOM_LIBFUZZER_PATH=$engine

bash -eux "$SRC/rtmfp-conformance/.clusterfuzzlite/build.sh"

# Every fuzzer in $OUT runs: its seed corpus once (-runs=0), as OSS-Fuzz's
# check_build does before it accepts a build.
failed=0
for bin in "$OUT"/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    t=$(basename "$bin")
    seeds="$WORK/seeds/$t"
    rm -rf "$seeds" && mkdir -p "$seeds"
    if [ -f "$OUT/${t}_seed_corpus.zip" ]; then
        unzip -q -o "$OUT/${t}_seed_corpus.zip" -d "$seeds"
    fi
    if "$bin" -runs=0 -dict="$OUT/$t.dict" "$seeds" >"$WORK/$t.check.log" 2>&1; then
        echo "ok      $t ($(ls "$seeds" | wc -l) seeds)"
    else
        echo "FAILED  $t (see $WORK/$t.check.log)"
        failed=1
    fi
done
exit $failed
