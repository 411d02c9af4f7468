#!/usr/bin/env bash
# Checks the Promela model of the alternation handshake
# (csp-core/src/alt/model.pml) with spin: exhaustive search for assertion
# violations and invalid end states (deadlocks). Installs spin if missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$here/csp-core/src/alt/model.pml"

if ! command -v spin >/dev/null 2>&1; then
    echo "check-alt-model: installing spin" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq spin >/dev/null
fi
command -v gcc >/dev/null 2>&1 || { echo "check-alt-model: gcc is needed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/model.pml"
cd "$work"
spin -a model.pml >/dev/null
gcc -O2 -w -DSAFETY -o pan pan.c
./pan -m200000 > out.txt
grep -E "errors:|states, stored" out.txt
if ! grep -q "errors: 0" out.txt; then
    cat out.txt
    [ -f model.pml.trail ] && spin -t -p model.pml | tail -40
    echo "check-alt-model: FAILED" >&2
    exit 1
fi
echo "check-alt-model: ok"
