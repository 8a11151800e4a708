#!/bin/sh
# run.sh - coldseq benchmarks, each measured against a reference tool in
# the same run (machines are shared and noisy: compare ratios, not
# absolute figures).
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory -s build/release/bench_vault

secs=${BENCH_SECONDS:-2}
ours=$(build/release/bench_vault "$secs" | awk '{print $2}')
# OpenSSL's raw AES-256-GCM encryptions of 64-byte blocks per second.
ref=$(openssl speed -seconds "$secs" -bytes 64 -evp aes-256-gcm 2>/dev/null |
    awk 'tolower($1) == "aes-256-gcm" { v=$2; sub(/k$/, "", v); print v * 1000 / 64 }')
echo "vault: coldseq seal+open of 64-byte secrets: $ours /s"
echo "vault: openssl speed aes-256-gcm 64-byte blocks: ${ref:-?} /s"
if [ -n "$ref" ]; then
    awk -v a="$ours" -v b="$ref" 'BEGIN { printf "vault: ratio coldseq/openssl = %.3f (a seal+open is 2 cipher runs)\n", a / b }'
fi
