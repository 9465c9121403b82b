#!/usr/bin/env bash
# Called by `mvn` (exec-maven-plugin, generate-resources): builds librafka_jni with cargo and copies
# it to OUT/<os>-<arch>/, where io.rafka.internal.NativeLoader looks for it inside the jar.
#   build.sh OUT
set -euo pipefail
out="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --quiet -p rafka-jni --manifest-path "$root/Cargo.toml"
case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) arch="$(uname -m)" ;;
esac
mkdir -p "$out/linux-$arch"
# The release profile keeps line tables (debug = 1) for profiling; the jar does not need them.
if command -v strip >/dev/null; then
    strip --strip-debug -o "$out/linux-$arch/librafka_jni.so" "$target/release/librafka_jni.so"
else
    cp "$target/release/librafka_jni.so" "$out/linux-$arch/librafka_jni.so"
fi
