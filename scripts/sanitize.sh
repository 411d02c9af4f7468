#!/usr/bin/env bash
# Runs what of csp can run under Miri and under AddressSanitizer, and says
# plainly what that covers.
#
#   scripts/sanitize.sh          # both
#   scripts/sanitize.sh miri     # Miri only
#   scripts/sanitize.sh asan     # AddressSanitizer only
#
# Needs the nightly toolchain (`rustup toolchain install nightly`) and, for
# Miri, its component (`rustup +nightly component add miri rust-src`).
#
# WHAT MIRI COVERS, AND WHAT IT DOES NOT
# Miri interprets one process. It cannot run fork, memfd_create, a shared
# mmap, process-shared robust pthread mutexes or cross-process futexes, and
# every csp channel lives in that shared arena. So under Miri only the
# arena-free code runs: the message codec (serde + bincode 2) decoding
# random, truncated, extended and corrupted bytes into plain types
# (tests/fuzz.rs: random_bytes_never_panic, corrupt_and_truncated_records,
# records_round_trip), checked for undefined behaviour. The ring, the
# channel protocol, records, ledgers, alternation and every test that
# forks are NOT covered by Miri (they are marked `ignore` under cfg(miri)
# or never reached). csp-core has no in-process (heap) arena backing yet;
# with one, the ring and alternation could run here too.
#
# WHAT ASAN COVERS, AND WHAT IT DOES NOT
# AddressSanitizer instruments each process's own heap and stack, and
# follows forked children. It runs the real multi-process suites (crash,
# stress, fuzz, channel, dead_peer, retire_poison) and catches
# out-of-bounds and use-after-free on process-local memory (decode
# buffers, Vec/String payloads, ledger indexes, thread-locals). It does
# NOT see inside the shared arena: that is one big mmap ASan does not
# track, so an overflow of an arena block or a use of a freed arena block
# goes unnoticed. The standard library is not rebuilt with ASan (no
# -Zbuild-std), so its internals are checked only where inlined.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
what="${1:-all}"
target="$(rustc +nightly -vV | sed -n 's/^host: //p')"

run_miri() {
    if ! cargo +nightly miri --version >/dev/null 2>&1; then
        echo "sanitize: Miri is not installed (rustup +nightly component add miri rust-src); skipped" >&2
        return 0
    fi
    echo "== Miri: codec fuzzing (tests/fuzz.rs, arena-free tests; 12 cases each)"
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}/miri-run" \
        cargo +nightly miri test --test fuzz
}

run_asan() {
    if ! rustc +nightly -Zsanitizer=address --print cfg >/dev/null 2>&1; then
        echo "sanitize: this nightly has no AddressSanitizer for $target; skipped" >&2
        return 0
    fi
    echo "== AddressSanitizer ($target): the multi-process suites"
    # --target keeps proc macros (built for the host) out of the sanitizer.
    # detect_leaks=0: a forked child ends with _exit, leaving its heap for
    # the kernel; LeakSanitizer would report every child.
    RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}/asan" \
        cargo +nightly test --target "$target" \
            --test crash --test stress --test fuzz --test channel \
            --test dead_peer --test retire_poison
}

case "$what" in
    miri) run_miri ;;
    asan) run_asan ;;
    all) run_miri; run_asan ;;
    *) echo "usage: $0 [miri|asan|all]" >&2; exit 2 ;;
esac
echo "sanitize: ok"
