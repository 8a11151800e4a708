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

# ---- message classifier vs Sisimai 4.25, same corpus, same run ----------
corpus=../shared/corpus/bounces/emails
if [ -d "$corpus" ]; then
    make --no-print-directory -s build/release/bench_classify
    ours=$(build/release/bench_classify "$secs" "$corpus" | awk '{print $2}')
    ref=$(perl tests/bench/bench_classify_sisimai.pl "$secs" "$corpus" 2>/dev/null |
        awk '{print $2}')
    echo "classify: coldseq over $corpus: $ours msgs/s (one core, parse included)"
    echo "classify: Sisimai->make(delivered => 1) over the same files: ${ref:-?} msgs/s"
    if [ -n "$ref" ]; then
        awk -v a="$ours" -v b="$ref" 'BEGIN { printf "classify: ratio coldseq/sisimai = %.1f (target >= 50)\n", a / b }'
    fi
else
    echo "classify: $corpus not found, skipped"
fi

# Accuracy against Sisimai's labels (the gate of the classifier issue).
PYTHONPATH=tests/lib COLDSEQ_BIN=./coldseq COLDSEQ_SRC=. \
    python3 tests/classify/test_accuracy.py 2>/dev/null |
    sed -n 's/^# \(bounce-or-not\|failed-recipient\|hard-or-soft\)/classify: accuracy \1/p'
# Generalisation: group-wise k-fold by MTA (tests/classify/kfold.py): per
# fold and mean, beside the whole-corpus figures; phrases seen only in a
# fold's MTAs are disabled while that fold is scored.
if [ -d "$corpus" ]; then
    make --no-print-directory -s build/asan/tests/kfold_classify
    python3 tests/classify/kfold.py -k "${BENCH_KFOLD:-10}"
fi

# ---- SMTP send path -------------------------------------------------------
# Reference: Postfix's smtp-source into smtp-sink (no TLS in either tool),
# same message size, count and concurrency; coldseq plaintext (the
# loopback-only test mode) into the same sink.  Then the cost of TLS:
# coldseq over STARTTLS+AUTH into the stack's submission port against
# coldseq plaintext into the same Postfix's MX port.
make --no-print-directory -s build/release/bench_smtp
N=${BENCH_MESSAGES:-10000}
C=${BENCH_CONCURRENCY:-4}
SIZE=3000
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
smtp-sink -u nobody "127.0.0.1:$port" 256 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.3
t0=$(date +%s.%N)
smtp-source -d -s "$C" -m "$N" -l "$SIZE" -f user1@example.test \
    -t user2@example.test "127.0.0.1:$port"
t1=$(date +%s.%N)
ref=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
ours=$(build/release/bench_smtp 127.0.0.1 "$port" "$N" "$C" "$SIZE" | awk '{print $2}')
kill $sink 2>/dev/null || true
echo "smtp: smtp-source -d -s $C, $N x $SIZE B into smtp-sink: $ref msg/s"
echo "smtp: coldseq build+send, $C sessions, same sink:       $ours msg/s"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "smtp: ratio coldseq/smtp-source = %.2f (target >= 0.50)\n", a / b }'

S=$(mktemp -d)
tests/mailstack/up "$S" --users 2 >/dev/null
trap 'tests/mailstack/down "$S" >/dev/null 2>&1; rm -rf "$S"' EXIT
. "$S/env"
M=${BENCH_TLS_MESSAGES:-2000}
plain=$(build/release/bench_smtp 127.0.0.1 "$MAILSTACK_SMTP_PORT" "$M" "$C" "$SIZE" | awk '{print $2}')
tls=$(build/release/bench_smtp 127.0.0.1 "$MAILSTACK_SUBMISSION_PORT" "$M" "$C" "$SIZE" \
    tls user1@example.test "$MAILSTACK_PASSWORD" "$MAILSTACK_CA_FILE" | awk '{print $2}')
echo "smtp: coldseq into Postfix, plaintext MX port:      $plain msg/s ($M messages)"
echo "smtp: coldseq into Postfix, STARTTLS+AUTH port:     $tls msg/s"
awk -v a="$tls" -v b="$plain" 'BEGIN { printf "smtp: TLS cost: STARTTLS/plaintext = %.2f\n", a / b }'
# down now: Postfix would go on delivering those messages into Dovecot
# (disk and CPU) while the next benchmarks run, and on one side only
tests/mailstack/down "$S" >/dev/null 2>&1
rm -rf "$S"
trap - EXIT

# ---- contacts import vs sqlite3 .import, template rendering --------------
# The same generated 1,000,000-row CSV (10 columns, some quoted, quoted
# quotes) on the same disk: `coldseq contacts import` (parse, check every
# address, stage, store in one transaction) against the sqlite3 shell's
# `.import --csv` into a bare table.  Peak RSS from /usr/bin/time.
make --no-print-directory -s build/release/bench_tmpl
echo "templates: render $(build/release/bench_tmpl "$secs" | awk '{print $2}') msgs/s (one core; subject, text and HTML part)"
R=${BENCH_CONTACT_ROWS:-1000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/coldseq-bench-contacts.XXXXXX")
python3 - "$W/contacts.csv" "$R" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,first_name,last_name,company,title,website,timezone,"
            "Industry,Seats,Notes\n")
    for i in range(int(sys.argv[2])):
        f.write('user%d@domain%d.example,First%d,Last%d,"Company, %d Inc",'
                'Head of %d,https://c%d.example,Europe/Berlin,logistics,%d,'
                '"note ""%d"""\n' % (i, i % 5000, i, i, i, i % 50, i,
                                     i % 500, i))
PY
./coldseq init --data-dir "$W/d" >/dev/null
sync
/usr/bin/time -f "%e %M" -o "$W/ours" ./coldseq --data-dir "$W/d" -q contacts import "$W/contacts.csv"
sync
/usr/bin/time -f "%e %M" -o "$W/ref" sqlite3 "$W/ref.db" ".import --csv $W/contacts.csv t"
read -r ot orss < "$W/ours"
read -r rt rrss < "$W/ref"
echo "contacts: coldseq contacts import, $R rows: ${ot} s, peak RSS $((orss / 1024)) MB (target <= 64)"
echo "contacts: sqlite3 .import --csv, same file:   ${rt} s, peak RSS $((rrss / 1024)) MB"
awk -v a="$ot" -v b="$rt" 'BEGIN { printf "contacts: ratio coldseq/sqlite3 = %.2f (target <= 1.5)\n", a / b }'
rm -rf "$W"

# ---- scheduler ---------------------------------------------------------------
# One scheduling pass with 1,000,000 active enrollments, 2,000 inboxes and
# 200 campaigns, a null transport, the simulated clock jumping from wake to
# wake through a working day.  Targets: p99 <= 5 ms per pass, RSS <= 50 MB.
# Twice from the same database in the same run: without provider limits
# (limits_off) and with the rolling counters binding (limits_on: Google
# Workspace inboxes at messages_24h=8).
make --no-print-directory -s build/release/bench_sched
W=$(mktemp -d "${TMPDIR:-/tmp}/coldseq-bench-sched.XXXXXX")
build/release/bench_sched "$W" "${BENCH_ENROLLMENTS:-1000000}" 10 both |
    awk '{ printf "scheduler %s: %s passes, p50 %s ms, p99 %s ms (target <= 5), max %s ms, %s sent, peak RSS %s MB (target <= 50), setup %s s\n", $1, $3, $5, $7, $9, $11, $13, $15 }'
rm -rf "$W"

# ---- IMAP watcher ---------------------------------------------------------
# Sync with no new mail on a 1,000- and a 100,000-message INBOX (about equal
# expected), reply-to-event latency through IDLE, threads and memory of one
# watcher process watching 500 inboxes of the stack.
python3 tests/bench/bench_watch.py --inboxes "${BENCH_INBOXES:-500}" \
    --big "${BENCH_BIG_MAILBOX:-100000}"

# ---- deliverability check -------------------------------------------------
# `doctor --all` over 500 inboxes on 50 domains against a local NSD (target
# < 5 s), beside dig asking the same questions one after another.
python3 tests/bench/bench_doctor.py --domains "${BENCH_DOCTOR_DOMAINS:-50}" \
    --per-domain "${BENCH_DOCTOR_PER_DOMAIN:-10}"
