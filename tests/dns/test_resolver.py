"""coldseq's resolver (net/dns.c: c-ares on libuv, the TTL cache) through
`coldseq dns query`, against a real NSD on loopback (tests/lib/dnsstack.py).

What is asserted is what the resolver answered (records, TTLs, statuses,
whether the cache answered, what went to the server), never only an exit
status.  Nothing here asks a public DNS server."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import tap
from cstool import coldseq
from dnsstack import DnsServer
from tap import eq, fail, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-dns-")
DATA = os.path.join(TMP, "data")

ZONES = {
    "a.test": [
        '@ TXT "v=spf1 ip4:192.0.2.1" " include:_spf.b.test" " -all"',
        "@ 600 MX 10 mx1.a.test.",
        "@ 900 MX 5 mx2.a.test.",
        "mx1 A 192.0.2.10",
        "mx1 120 AAAA 2001:db8::10",
        "mx2 A 192.0.2.11",
        # a CNAME'd DKIM selector, two hops, across zones
        "sel._domainkey 100 CNAME sel.hop.a.test.",
        "sel.hop 200 CNAME sel._domainkey.b.test.",
        'odd TXT "a\\000b" "\\"q\\" \\\\ \\007\\255"',
        "empty A 192.0.2.99",
        "short 2 TXT \"v1\"",
    ],
    "b.test": [
        'sel._domainkey 50 TXT "v=DKIM1; k=rsa; p=MIIBIjAN"',
        '_spf TXT "v=spf1 ip4:198.51.100.0/24 -all"',
    ],
    "2.0.192.in-addr.arpa": ["10 120 PTR mx1.a.test."],
}


def cs(*args, check=None, stdin=None, timeout=60):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=timeout)


def js(*args, check=None):
    p = cs(*args, "--json", check=check)
    return json.loads(p.stdout)


def answers(*args, check=0):
    return js("dns", "query", *args, check=check)["answers"]


def use(servers):
    cs("config", "set", "dns.servers", servers, check=0)


class Session:
    """One `coldseq dns query --stdin` process: ask() writes a line and
    returns the answer lines it printed (one resolver, one cache)."""

    def __init__(self, first):
        self.p = subprocess.Popen(
            [BIN, "--data-dir", DATA, "dns", "query", "--stdin", "--stats"] +
            first.split(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        # a hung resolver must fail the test, not hang it
        self.watchdog = threading.Timer(60, self.p.kill)
        self.watchdog.start()
        self.first = self.read_until_stats()

    def read_until_stats(self):
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                fail("dns query --stdin ended: %s" % self.p.stderr.read())
            if line.startswith("stats:"):
                return out, line.strip()
            out.append(line.rstrip("\n"))

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.read_until_stats()

    def close(self):
        self.p.stdin.close()
        rest = self.p.stdout.read()
        self.p.wait(30)
        self.watchdog.cancel()
        self.p.stdout.close()
        self.p.stderr.close()
        return rest


def stats_of(line):
    """"stats: queries 4, sent 3, cache hits 1, coalesced 0" -> dict"""
    words = line.replace(",", "").split()
    return {"queries": int(words[2]), "sent": int(words[4]),
            "cache_hits": int(words[7]), "coalesced": int(words[9])}


@test
def a_aaaa_mx_with_ttls():
    a = answers("mx1.a.test", "A", "AAAA")
    eq([(x["status"], x["cached"]) for x in a], [("ok", False)] * 2)
    eq([(r["ttl"], r["text"]) for r in a[0]["records"]], [(300, "192.0.2.10")])
    eq([(r["ttl"], r["text"]) for r in a[1]["records"]],
       [(120, "2001:db8::10")])
    mx = answers("a.test", "MX")[0]
    eq(sorted((r["pref"], r["text"], r["ttl"]) for r in mx["records"]),
       [(5, "mx2.a.test", 900), (10, "mx1.a.test", 600)])


@test
def txt_strings_are_joined_and_escaped():
    a = answers("a.test", "TXT")[0]
    eq([r["text"] for r in a["records"]],
       ["v=spf1 ip4:192.0.2.1 include:_spf.b.test -all"])
    # NUL, quote, backslash, a control byte and a non-ASCII byte: escaped
    # in text and JSON; the text output quotes the whole string
    a = answers("odd.a.test", "TXT")[0]
    eq(a["records"][0]["text"], 'a\\000b\\"q\\" \\\\ \\007\\255')
    p = cs("dns", "query", "odd.a.test", "TXT", check=0)
    assert '  300 "a\\000b\\"q\\" \\\\ \\007\\255"\n' in p.stdout, p.stdout
    assert "\x00" not in p.stdout and "\x07" not in p.stdout


@test
def ptr_of_an_address():
    a = answers("192.0.2.10", "PTR")[0]
    eq((a["name"], a["status"]), ("10.2.0.192.in-addr.arpa", "ok"))
    eq([(r["ttl"], r["text"]) for r in a["records"]], [(120, "mx1.a.test")])


@test
def cname_chain_to_a_txt():
    a = answers("SEL._domainkey.A.test.", "TXT")[0]
    eq((a["name"], a["status"], a["cname"]),
       ("sel._domainkey.a.test", "ok", "sel._domainkey.b.test"))
    eq([(r["ttl"], r["text"]) for r in a["records"]],
       [(50, "v=DKIM1; k=rsa; p=MIIBIjAN")])


@test
def nxdomain_and_nodata_are_answers_and_cached():
    p = cs("dns", "query", "nope.a.test", "A", "A", "--stats", check=0)
    eq(p.stdout.splitlines(),
       ["nope.a.test A: nxdomain", "nope.a.test A: nxdomain [cached]",
        "stats: queries 2, sent 1, cache hits 1, coalesced 0"])
    a = answers("empty.a.test", "MX", "MX")
    eq([(x["status"], x["cached"], x["records"]) for x in a],
       [("nodata", False, []), ("nodata", True, [])])


@test
def refused_is_an_error():
    p = cs("dns", "query", "outside.example", "TXT", check=1)
    eq(p.stdout, "outside.example TXT: error (refused)\n")
    a = answers("outside.example", "A", check=1)[0]
    eq((a["status"], a["error"], a["records"]), ("error", "refused", []))


def silent_server():
    """A UDP port that reads questions and never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    got = []

    def run():
        while True:
            try:
                got.append(s.recvfrom(4096)[0])
            except OSError:
                return

    threading.Thread(target=run, daemon=True).start()
    return s, got


@test
def dead_server_times_out_within_the_bound_and_is_not_cached_long():
    s, got = silent_server()
    try:
        use("127.0.0.1:%d" % s.getsockname()[1])
        cs("config", "set", "dns.timeout", "1", check=0)
        t0 = time.monotonic()
        sess = Session("dead.a.test TXT")
        took = time.monotonic() - t0
        eq(sess.first[0], ["dead.a.test TXT: error (timeout)"])
        # dns.timeout bounds one server's question (the process start
        # is in the measured time too)
        assert 0.6 <= took < 2.5, "answered after %.2f s" % took
        asked = len(got)
        assert asked >= 2, "tries: %d" % asked
        # within NET_DNS_ERROR_TTL (5 s): from the cache, nothing sent
        out, st = sess.ask("dead.a.test TXT")
        eq(out, ["dead.a.test TXT: error (timeout) [cached]"])
        eq(stats_of(st)["sent"], 1)
        time.sleep(5.5 - (time.monotonic() - t0 - took))
        out, st = sess.ask("dead.a.test TXT")
        eq(out, ["dead.a.test TXT: error (timeout)"])
        eq(stats_of(st)["sent"], 2)
        assert len(got) > asked, "the second question never left"
        sess.close()
    finally:
        s.close()
        cs("config", "unset", "dns.timeout", check=0)
        use(dns.servers)


@test
def ttl_is_honoured():
    sess = Session("short.a.test TXT")
    t_first = time.monotonic()
    eq(sess.first[0], ["short.a.test TXT: ok", '  2 "v1"'])
    zones = dict(ZONES)
    zones["a.test"] = [l.replace('"v1"', '"v2"') for l in ZONES["a.test"]]
    dns.set_zones(zones)
    try:
        eq(dns.query("short.a.test", "TXT"), (0, 1))
        if time.monotonic() - t_first > 1.8:
            fail("the zone change took too long to test the TTL")
        out, st = sess.ask("short.a.test TXT")
        eq(out, ["short.a.test TXT: ok [cached]", '  2 "v1"'])
        time.sleep(max(0, 2.3 - (time.monotonic() - t_first)))
        out, st = sess.ask("short.a.test TXT")
        eq(out, ["short.a.test TXT: ok", '  2 "v2"'])
        eq(stats_of(st), {"queries": 3, "sent": 2, "cache_hits": 1,
                          "coalesced": 0})
        sess.close()
    finally:
        dns.set_zones(ZONES)


@test
def the_same_question_at_once_goes_out_once():
    d = js("dns", "query", "a.test", *(["TXT"] * 6), "--parallel",
           "--stats", check=0)
    eq(d["stats"], {"queries": 6, "sent": 1, "cache_hits": 0,
                    "coalesced": 5})
    eq({a["records"][0]["text"] for a in d["answers"]},
       {"v=spf1 ip4:192.0.2.1 include:_spf.b.test -all"})
    # one after the other: the cache answers the repeats
    d = js("dns", "query", "a.test", "TXT", "TXT", "MX", "--stats", check=0)
    eq(d["stats"], {"queries": 3, "sent": 2, "cache_hits": 1,
                    "coalesced": 0})


@test
def config_refuses_bad_servers():
    for bad, item in (("1.2.3", "1.2.3"), ("127.0.0.1:0", "127.0.0.1:0"),
                      ("127.0.0.1:65536", "127.0.0.1:65536"),
                      ("ns.example.com:53", "ns.example.com:53"),
                      ("[::1", "[::1"), ("[::1]53", "[::1]53"),
                      ("127.0.0.1:5353,bogus", "bogus"),
                      ("127.0.0.1:5353,", ""), ("127.0.0.1:53x", "53x")):
        p = cs("config", "set", "dns.servers", bad)
        assert p.returncode != 0, bad
        assert '"%s"' % item in p.stderr or item in p.stderr, p.stderr
        assert "dns.servers" in p.stderr, p.stderr
    eq(cs("config", "get", "dns.servers", check=0).stdout.strip(),
       dns.servers, "a refused value was stored")
    for good in ("127.0.0.1:5353,[::1]:53", "::1", "192.0.2.1"):
        cs("config", "set", "dns.servers", good, check=0)
    for bad in ("0", "61", "2m"):
        p = cs("config", "set", "dns.timeout", bad)
        assert p.returncode != 0 and "dns.timeout" in p.stderr, p.stderr
    cs("config", "unset", "dns.timeout", check=0)
    # the doctor's probe selectors are DNS labels, checked when set
    for bad in ("a" * 3000, "bad sel", "a,,b", ".x", "x.", "a..b",
                "x" * 64, ",".join("s%d" % i for i in range(33))):
        p = cs("config", "set", "doctor.dkim_selectors", bad)
        assert p.returncode == 2, (bad[:20], p.returncode)
        assert "is not a DKIM selector" in p.stderr, p.stderr
        assert len(p.stderr) < 400, len(p.stderr)
    for good in ("google,selector1,s1.sub,k_2", "x" * 63, ""):
        cs("config", "set", "doctor.dkim_selectors", good, check=0)
    cs("config", "unset", "doctor.dkim_selectors", check=0)
    use(dns.servers)


@test
def a_name_that_is_not_utf8_still_gives_valid_json():
    # bytes 0xc8 0xff in the argument (surrogate escapes on the way out)
    p = cs("dns", "query", "\udcc8\udcff.test", "--json")
    eq(p.returncode, 1, "a bad name is an error")
    doc = json.loads(p.stdout.encode("utf-8", "surrogateescape"))
    eq(doc["answers"][0]["name"], "\ufffd\ufffd.test", "name repaired")
    eq(doc["answers"][0]["error"], "bad name", "why")


@test
def malformed_answer_from_a_server():
    """A server that answers the question with a compression loop."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def run():
        try:
            q, peer = s.recvfrom(4096)
        except OSError:
            return
        # header: same id, QR|RD|RA, QD 1, AN 1; the question as asked;
        # one RR whose owner points at itself
        end = 12 + q[12:].index(b"\0") + 5
        hdr = q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
        off = end
        rr = bytes([0xC0 | (off >> 8), off & 0xFF]) + \
            b"\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x02\x01x"
        s.sendto(hdr + q[12:end] + rr, peer)

    threading.Thread(target=run, daemon=True).start()
    try:
        use("127.0.0.1:%d" % s.getsockname()[1])
        a = answers("loop.a.test", "TXT", check=1)[0]
        eq((a["status"], a["error"]), ("error", "malformed answer"))
    finally:
        s.close()
        use(dns.servers)


dns = DnsServer(ZONES)
try:
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    dns.start()
    use(dns.servers)
    tap.main()
finally:
    dns.close()
    shutil.rmtree(TMP, ignore_errors=True)
