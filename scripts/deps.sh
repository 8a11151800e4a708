#!/bin/sh
# deps.sh - install every Debian package coldseq needs to build, test,
# fuzz and lint, non-interactively.
#
#   sh scripts/deps.sh         everything (make deps, demo, test, ...)
#   sh scripts/deps.sh build   only what building and running ./coldseq
#                              needs (make, make install)
#
# Idempotent: when everything is installed it prints nothing and exits 0.
# It runs `apt-get update` only when a package is missing, preseeds
# Postfix's debconf question, and keeps package scripts from starting
# system services (a temporary policy-rc.d) so the test stack owns its ports.
set -eu

BUILD_PKGS="
build-essential pkg-config make
libetpan-dev libssl-dev libsqlite3-dev libuv1-dev libcurl4-gnutls-dev
libcjson-dev libcsv-dev libyaml-dev libicu-dev libidn2-dev
libc-ares-dev libpsl-dev publicsuffix
libsasl2-modules openssl ca-certificates
"
PKGS="$BUILD_PKGS
clang libclang-rt-14-dev clang-format clang-tidy cppcheck libcmocka-dev
sqlite3 python3 procps
dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve postfix
swaks libnet-ssleay-perl libsisimai-perl
nsd opendkim opendkim-tools postfix-policyd-spf-python bind9-dnsutils
"
case "${1:-all}" in
build) PKGS=$BUILD_PKGS ;;
all) ;;
*)
    echo "usage: deps.sh [build|all]" >&2
    exit 2
    ;;
esac

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
        exit 1
    fi
else
    SUDO=
fi

echo "deps: installing$missing" >&2
echo "postfix postfix/main_mailer_type select No configuration" |
    $SUDO debconf-set-selections

made_policy=no
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 0755 /usr/sbin/policy-rc.d
    made_policy=yes
fi
cleanup() {
    [ "$made_policy" = yes ] && $SUDO rm -f /usr/sbin/policy-rc.d
    return 0
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq &&
    $SUDO apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "deps: apt-get failed (output above)" >&2
    exit 1
fi
rm -f "$log"

# Package scripts may have enabled system services; the tests run their own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now dovecot.socket dovecot.service \
        postfix.service >/dev/null 2>&1 || true
fi
echo "deps: done" >&2
