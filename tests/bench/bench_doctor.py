"""bench_doctor.py - `coldseq doctor --all` over many inboxes and domains.

The issue's target: 500 inboxes on 50 domains checked in under 5 s against
a loopback DNS server (lookups in parallel, cached).  The reference, in
the same run: `dig` asking the same questions one after another (`dig -f`,
one process, sequential), against the same NSD.

Each domain has the records a real one has (MX, SPF with a nested include
chain shared by the domains of one provider, DKIM keys, DMARC, MTA-STS,
TLS-RPT); a fifth of the inboxes are generic, with an SMTP host whose
address has a PTR and which the block lists are asked about; two block
lists (an IP list and a domain list) are local zones.

Run from the repository root with the release build:
    python3 tests/bench/bench_doctor.py [--domains 50] [--per-domain 10]
Prints:  doctor: ... lines (wall time, questions sent, lookups/s) and the
ratio against dig.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dnsstack import DnsServer  # noqa: E402

BIN = os.path.abspath("coldseq")
KEY = ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwS9n3W0Jp5yN7m2m1o2b"
       "G1eTqvXo3mH9kR2JdQ2vP6xS8t0cH4aJ6XbW0lGx0v7dN1E0m3rT2mX8c0y5G3p"
       "Yb2k9QW0nJz2kz5yq7s1aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4yZ5aB6c")


def cs(data, *args, stdin=None, check=True):
    p = subprocess.run([BIN, "--data-dir", data] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=600)
    if check and p.returncode not in (0, 1):
        raise SystemExit("coldseq %s failed (%d): %s"
                         % (" ".join(args), p.returncode, p.stderr))
    return p


def rsa_pub():
    """A real 2048-bit RSA public key, base64 DER (SubjectPublicKeyInfo)."""
    pem = subprocess.run(
        "openssl genrsa 2048 2>/dev/null | openssl rsa -pubout 2>/dev/null",
        shell=True, capture_output=True, text=True, check=True).stdout
    return "".join(l for l in pem.splitlines() if "-----" not in l)


def txt(s):
    return " ".join('"%s"' % s[i:i + 250] for i in range(0, len(s), 250))


def zones(ndom, key):
    z = {}
    # the providers' own SPF trees, shared by their domains
    z["prov.test"] = [
        '_spf TXT "v=spf1 include:_nb1.prov.test include:_nb2.prov.test ~all"',
        '_nb1 TXT "v=spf1 ip4:198.51.100.0/24 ~all"',
        '_nb2 TXT "v=spf1 ip4:203.0.113.0/24 include:_nb3.prov.test ~all"',
        '_nb3 TXT "v=spf1 ip6:2001:db8::/32 ~all"',
        "mx1 A 198.51.100.25",
    ]
    z["dbl.bench"] = ["dbltest.com A 127.0.1.2", "listed0.test A 127.0.1.2"]
    z["zen.bench"] = ["2.0.0.127 A 127.0.0.2"]
    rev = []
    for i in range(ndom):
        d = "d%03d.test" % i
        lines = [
            "@ MX 10 mx1.prov.test.",
            "@ TXT %s" % txt("v=spf1 include:_spf.prov.test "
                             "a:smtp.%s -all" % d),
            "smtp A 192.0.2.%d" % (i % 250 + 1),
            "default._domainkey TXT %s" % txt("v=DKIM1; k=rsa; p=" + key),
            "_dmarc TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@%s\"" % d,
            "_mta-sts TXT \"v=STSv1; id=20260101\"",
            "_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:tls@%s\"" % d,
        ]
        z[d] = lines
        rev.append("%d PTR smtp.%s." % (i % 250 + 1, d))
    z["2.0.192.in-addr.arpa"] = rev
    return z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--per-domain", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not shutil.which("dig"):
        raise SystemExit("doctor: dig not found (Debian bind9-dnsutils; "
                         "make deps installs it)")
    data = tempfile.mkdtemp(prefix="coldseq-bench-doctor-")
    try:
        with DnsServer(zones(a.domains, rsa_pub())) as dns:
            cs(data, "init")
            cs(data, "config", "set", "dns.servers", dns.servers)
            lists = os.path.join(data, "lists.conf")
            with open(lists, "w") as f:
                f.write("zen.bench ip 127.0.0.2\n"
                        "dbl.bench domain dbltest.com\n")
            cs(data, "config", "set", "doctor.blocklists", lists)
            rows = ["name,email,smtp,imap,password"]
            for i in range(a.domains):
                d = "d%03d.test" % i
                for j in range(a.per_domain):
                    rows.append("i%03d_%02d,u%d@%s,smtp.%s:587,imap.%s:993,pw"
                                % (i, j, j, d, d, d))
            csv = os.path.join(data, "inboxes.csv")
            with open(csv, "w") as f:
                f.write("\n".join(rows) + "\n")
            cs(data, "inbox", "import", csv)
            n_inboxes = len(rows) - 1

            # the questions the doctor asks, from its debug log
            p = cs(data, "-v", "doctor", "--all", "--json")
            qs = []
            tnum = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR",
                    15: "MX", 16: "TXT", 28: "AAAA"}
            for m in re.finditer(r"dns: (\S+) type (\d+): ", p.stderr):
                qs.append((m.group(1), tnum.get(int(m.group(2)), "A")))
            doc = json.loads(p.stdout)
            if len(doc.get("inboxes", [])) != n_inboxes:
                raise SystemExit("doctor: %d inboxes checked, %d expected"
                                 % (len(doc.get("inboxes", [])), n_inboxes))
            times = []
            for _ in range(a.runs):
                t0 = time.monotonic()
                cs(data, "doctor", "--all", "--json")
                times.append(time.monotonic() - t0)
            ours = statistics.median(times)

            batch = os.path.join(data, "dig.batch")
            with open(batch, "w") as f:
                for name, t in qs:
                    f.write("%s %s\n" % (name, t))
            t0 = time.monotonic()
            subprocess.run(["dig", "@127.0.0.1", "-p", str(dns.port),
                            "+tries=1", "+time=2", "+noall", "-f", batch],
                           capture_output=True, check=True, timeout=600)
            ref = time.monotonic() - t0
        print("doctor: --all over %d inboxes on %d domains: %.2f s "
              "(median of %d; target < 5 s), %d questions, %.0f lookups/s"
              % (n_inboxes, a.domains, ours, a.runs, len(qs),
                 len(qs) / ours))
        print("doctor: dig -f, the same %d questions one after another: "
              "%.2f s, %.0f lookups/s" % (len(qs), ref, len(qs) / ref))
        print("doctor: ratio coldseq doctor (whole check) / dig (lookups "
              "only) wall time = %.2f" % (ours / ref))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
