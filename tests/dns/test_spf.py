"""`coldseq dns spf DOMAIN IP` against a real DNS server (NSD on loopback,
tests/lib/dnsstack.py): one row per rule of RFC 7208 that check_host()
must follow (research22 section 4, and the rules of the SPF brief).

Every expected result below was worked out by hand from RFC 7208 (the
section is named on the row), not from coldseq's code.  Rows whose rule
is a limit also assert that the reason names the limit.  Names outside
the served zones get REFUSED from NSD: that is how a DNS error
(temperror) is made; no public server is ever asked.
"""
import json
import os
import shutil
import tempfile

import tap
from cstool import coldseq
from dnsstack import DnsServer
from tap import eq, fail, test

TMP = tempfile.mkdtemp(prefix="coldseq-spf-")
DATA = os.path.join(TMP, "data")


def txt(name, record):
    """A TXT line, the record split into strings of at most 200 octets
    (a character-string holds 255): a reader must join them with nothing
    between (RFC 7208 3.3)."""
    parts = [record[i:i + 200] for i in range(0, len(record), 200)] or [""]
    return "%s. TXT %s" % (name, " ".join('"%s"' % p for p in parts))


def chain(prefix, n, last):
    return [txt("i%d.%s" % (i, prefix),
                "v=spf1 include:i%d.%s -all" % (i + 1, prefix))
            for i in range(1, n)] + [txt("i%d.%s" % (n, prefix), last)]


TEN = " ".join("a:h%d.ten.test" % i for i in range(1, 11))
ELEVEN = TEN + " a:h11.ten.test"

LINES = [
    "none.test. A 192.0.2.200",
    txt("two.test", "v=spf1 -all"), txt("two.test", "v=spf1 +all"),
    txt("notspf.test", "v=spf10 +all"),
    txt("notspf.test", "google-site-verification=x"),
    txt("ip4.test", "v=spf1 ip4:192.0.2.0/24 -all"),
    txt("soft.test", "v=spf1 ip4:192.0.2.0/24 ~all"),
    txt("neut.test", "v=spf1 ip4:192.0.2.0/24 ?all"),
    txt("nomatch.test", "v=spf1 ip4:192.0.2.0/24"),
    'split.test. TXT "v=spf1 ip4:192.0.2.1" " -all"',
    txt("case.test", "V=SPF1 IP4:192.0.2.1 -ALL"),
    txt("a.test", "v=spf1 a -all"), "a.test. A 192.0.2.10",
    txt("acidr.test", "v=spf1 a/24 -all"), "acidr.test. A 192.0.2.10",
    txt("mx.test", "v=spf1 mx -all"), "mx.test. MX 10 mx1.mx.test.",
    "mx1.mx.test. A 192.0.2.10",
    txt("mx11.test", "v=spf1 mx -all"),
] + ["mx11.test. MX %d m%d.mx11.test." % (i, i) for i in range(1, 12)] + [
    "m1.mx11.test. A 192.0.2.1",
    txt("mx10.test", "v=spf1 mx -all"),
] + ["mx10.test. MX %d m%d.mx10.test." % (i, i) for i in range(1, 11)] + [
    "m10.mx10.test. A 192.0.2.1",
    txt("inc.test", "v=spf1 include:p.test -all"),
    txt("p.test", "v=spf1 ip4:192.0.2.5 -all"),
    txt("incnone.test", "v=spf1 include:empty.test -all"),
    txt("empty.test", "hello"),
    txt("incperm.test", "v=spf1 include:two.test -all"),
    txt("inctemp.test", "v=spf1 include:tmp.example -all"),
    txt("redir.test", "v=spf1 redirect=p.test"),
    txt("redirnone.test", "v=spf1 redirect=empty.test"),
    txt("redirall.test", "v=spf1 -all redirect=p.test"),
    txt("loop.test", "v=spf1 include:loop.test -all"),
    txt("ten.test", "v=spf1 %s ip4:192.0.2.1 -all" % TEN),
    txt("eleven.test", "v=spf1 %s ip4:192.0.2.1 -all" % ELEVEN),
] + ["h%d.ten.test. A 198.51.100.%d" % (i, i) for i in range(1, 12)] + [
    txt("nested.test", "v=spf1 include:i1.nested.test -all"),
] + chain("nested.test", 11, "v=spf1 ip4:192.0.2.1 -all") + [
    txt("redir10.test", "v=spf1 redirect=i1.redir10.test"),
] + [txt("i%d.redir10.test" % i, "v=spf1 redirect=i%d.redir10.test" % (i + 1))
     for i in range(1, 11)] + [
    txt("i11.redir10.test", "v=spf1 ip4:192.0.2.1 -all"),
    txt("ipfirst.test", "v=spf1 ip4:192.0.2.1 " +
        " ".join("include:l%d.test" % i for i in range(1, 12)) + " -all"),
    txt("void.test", "v=spf1 a:nx1.test a:nx2.test a:nx3.test -all"),
    txt("void2.test", "v=spf1 a:nx1.test a:nx2.test -all"),
    txt("voidmx.test", "v=spf1 a:nx1.test mx:none.test exists:nx3.test -all"),
    txt("exists.test", "v=spf1 exists:%{i}.ok.test -all"),
    "192.0.2.3.ok.test. A 127.0.0.2",
    txt("macro-ir.test", "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all"),
    "3.2.0.192.in-addr._spf.macro-ir.test. A 127.0.0.2",
    txt("macro-l.test", "v=spf1 exists:%{l1r-}.u.test -all"),
    "strong.u.test. A 127.0.0.2",
    txt("macro-o.test", "v=spf1 exists:%{o}.senders.test -all"),
    "ok.sender.test.senders.test. A 127.0.0.2",
    txt("macro-h.test", "v=spf1 exists:%{h}.helos.test -all"),
    "mail.ok.test.helos.test. A 127.0.0.2",
    txt("badmacro.test", "v=spf1 exists:%{q}.x.test -all"),
    txt("badmech.test", "v=spf1 foo:bar -all"),
    txt("unkmod.test", "v=spf1 foo=bar ip4:192.0.2.1 -all"),
    txt("badcidr.test", "v=spf1 ip4:192.0.2.1/33 -all"),
    txt("badlate.test", "v=spf1 ip4:192.0.2.1 ip4:192.0.2.1/33 -all"),
    txt("zerocidr.test", "v=spf1 ip4:192.0.2.1/024 -all"),
    txt("ip6.test", "v=spf1 ip6:2001:db8::/32 -all"),
    txt("mapped.test", "v=spf1 ip4:192.0.2.1 -all"),
    txt("a6.test", "v=spf1 a//64 -all"), "a6.test. AAAA 2001:db8::1",
    "a6.test. A 192.0.2.1",
    txt("mxdual.test", "v=spf1 mx/24//64 -all"),
    "mxdual.test. MX 10 mx1.mxdual.test.",
    "mx1.mxdual.test. A 192.0.2.10", "mx1.mxdual.test. AAAA 2001:db8::10",
    txt("ptr.test", "v=spf1 ptr -all"), "h.ptr.test. A 192.0.2.10",
    txt("ptrnofc.test", "v=spf1 ptr -all"), "h.ptrnofc.test. A 192.0.2.99",
    txt("dupredir.test", "v=spf1 redirect=a.test redirect=b.test"),
    txt("dupexp.test", "v=spf1 -all exp=a.test exp=b.test"),
    txt("plusall.test", "v=spf1 +all"),
    txt("mxtemp.test", "v=spf1 mx:tmp.example -all"),
    txt("redirchain.test", "v=spf1 ip4:198.51.100.9 redirect=neut.test"),
    txt("long.test", "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.long.test -all"),
    "%s.long.test. A 127.0.0.2" % ".".join(["x" * 63] * 3),
]

REVERSE = ["10 PTR h.ptr.test.", "11 PTR h.ptrnofc.test."]

# (domain, ip, extra args, result, words the reason must hold, section)
ROWS = [
    ("none.test", "192.0.2.1", [], "none", "no v=spf1", "4.5: no record"),
    ("nx.test", "192.0.2.1", [], "none", "", "4.3: NXDOMAIN"),
    ("two.test", "192.0.2.1", [], "permerror", "2 v=spf1 records", "4.5"),
    ("notspf.test", "192.0.2.1", [], "none", "", "4.5: v=spf10 is not one"),
    ("ip4.test", "192.0.2.7", [], "pass", "ip4:192.0.2.0/24", "5.6"),
    ("ip4.test", "198.51.100.1", [], "fail", "-all", "5.1, 4.6.2"),
    ("soft.test", "198.51.100.1", [], "softfail", "~all", "4.6.2"),
    ("neut.test", "198.51.100.1", [], "neutral", "?all", "4.6.2"),
    ("nomatch.test", "198.51.100.1", [], "neutral", "no term", "4.7"),
    ("split.test", "192.0.2.1", [], "pass", "", "3.3: strings joined"),
    ("case.test", "192.0.2.1", [], "pass", "", "4.6.1: case-insensitive"),
    ("a.test", "192.0.2.10", [], "pass", "matched a", "5.3"),
    ("a.test", "192.0.2.11", [], "fail", "", "5.3"),
    ("acidr.test", "192.0.2.99", [], "pass", "", "5.3 with cidr"),
    ("mx.test", "192.0.2.10", [], "pass", "matched mx", "5.4"),
    ("mx11.test", "192.0.2.1", [], "permerror", "11 MX names",
     "4.6.4: at most 10 MX names"),
    ("mx10.test", "192.0.2.1", [], "pass", "", "4.6.4: 10 MX names is fine"),
    ("inc.test", "192.0.2.5", [], "pass", "include:p.test", "5.2"),
    ("inc.test", "198.51.100.1", [], "fail", "", "5.2: fail = no match"),
    ("incnone.test", "192.0.2.5", [], "permerror",
     "empty.test has no SPF record", "5.2: include of none"),
    ("incperm.test", "192.0.2.5", [], "permerror", "two.test", "5.2"),
    ("inctemp.test", "192.0.2.5", [], "temperror", "tmp.example", "5.2"),
    ("redir.test", "192.0.2.5", [], "pass", "", "6.1"),
    ("redirnone.test", "192.0.2.5", [], "permerror", "redirect=empty.test",
     "6.1: redirect to none"),
    ("redirall.test", "192.0.2.5", [], "fail", "-all",
     "6.1: ignored with all"),
    ("loop.test", "192.0.2.1", [], "permerror",
     "11th DNS-querying term include:loop.test", "4.6.4: a loop"),
    ("ten.test", "192.0.2.1", [], "pass", "", "4.6.4: 10 terms allowed"),
    ("eleven.test", "192.0.2.1", [], "permerror",
     "11th DNS-querying term a:h11.ten.test", "4.6.4"),
    ("nested.test", "192.0.2.1", [], "permerror",
     "11th DNS-querying term include:i11.nested.test",
     "4.6.4: counted over nested includes"),
    ("redir10.test", "192.0.2.1", [], "permerror",
     "11th DNS-querying term redirect=i11.redir10.test",
     "4.6.4: redirect counts"),
    ("ipfirst.test", "192.0.2.1", [], "pass", "ip4:192.0.2.1",
     "4.6.4: a match before the limit"),
    ("void.test", "192.0.2.1", [], "permerror",
     "3rd void lookup, a:nx3.test", "4.6.4: void lookups"),
    ("void2.test", "192.0.2.1", [], "fail", "", "4.6.4: 2 voids allowed"),
    ("voidmx.test", "192.0.2.1", [], "permerror", "void lookup",
     "4.6.4: NODATA is void too"),
    ("exists.test", "192.0.2.3", [], "pass", "exists", "5.7, 7.3 %{i}"),
    ("exists.test", "192.0.2.4", [], "fail", "", "5.7"),
    ("macro-ir.test", "192.0.2.3", [], "pass", "", "7.3 %{ir} %{v} %{d}"),
    ("macro-l.test", "192.0.2.3", ["--sender", "strong-bad@macro-l.test"],
     "pass", "", "7.4: %{l1r-}"),
    ("macro-l.test", "192.0.2.3", ["--sender", "weak-bad@macro-l.test"],
     "fail", "", "7.4: %{l1r-}"),
    ("macro-o.test", "192.0.2.3", ["--sender", "x@ok.sender.test"], "pass",
     "", "7.3 %{o}"),
    ("macro-o.test", "192.0.2.3", [], "fail", "",
     "7.3 %{o}: postmaster@domain"),
    ("macro-h.test", "192.0.2.3", ["--helo", "mail.ok.test"], "pass", "",
     "7.3 %{h}"),
    ("badmacro.test", "192.0.2.3", [], "permerror", "macro letter", "7.1"),
    ("badmech.test", "192.0.2.1", [], "permerror", "unknown mechanism",
     "4.6.1"),
    ("unkmod.test", "192.0.2.1", [], "pass", "", "6: unknown modifier"),
    ("badcidr.test", "192.0.2.1", [], "permerror", "out of range", "5.6"),
    ("badlate.test", "192.0.2.1", [], "permerror", "syntax",
     "4.6: parsed whole before evaluation"),
    ("zerocidr.test", "192.0.2.1", [], "permerror", "leading zero", "12"),
    ("ip6.test", "2001:db8::1", [], "pass", "", "5.6 ip6"),
    ("ip6.test", "192.0.2.1", [], "fail", "", "5.6: families differ"),
    ("mapped.test", "::ffff:192.0.2.1", [], "pass", "",
     "5: IPv4-mapped is IPv4"),
    ("a6.test", "2001:db8::10", [], "pass", "", "5.3: AAAA with //64"),
    ("a6.test", "2001:db8:0:1::10", [], "fail", "", "5.3"),
    ("mxdual.test", "2001:db8::99", [], "pass", "", "5.4: dual cidr"),
    ("mxdual.test", "192.0.2.77", [], "pass", "", "5.4: dual cidr"),
    ("mxdual.test", "192.0.3.1", [], "fail", "", "5.4"),
    ("ptr.test", "192.0.2.10", [], "pass", "ptr", "5.5"),
    ("ptrnofc.test", "192.0.2.11", [], "fail", "",
     "5.5: not forward-confirmed"),
    ("tmp.example", "192.0.2.1", [], "temperror", "refused", "4.4"),
    ("mxtemp.test", "192.0.2.1", [], "temperror", "", "5: DNS error"),
    ("dupredir.test", "192.0.2.1", [], "permerror", "twice", "6"),
    ("dupexp.test", "192.0.2.1", [], "permerror", "twice", "6"),
    ("plusall.test", "203.0.113.9", [], "pass", "+all", "5.1"),
    ("redirchain.test", "198.51.100.1", [], "neutral", "", "6.1"),
    ("long.test", "192.0.2.1", ["--sender", "%s@long.test" % ("x" * 63)],
     "pass", "", "7.3: over 253 octets, left labels dropped"),
    ("long.test", "192.0.2.1", ["--sender", "%s@long.test" % ("y" * 63)],
     "fail", "", "7.3"),
]

dns = None


def spf(domain, ip, *extra, check=0):
    p = coldseq(DATA, "dns", "spf", domain, ip, *extra, "--json",
                check=check, timeout=60)
    return json.loads(p.stdout) if check == 0 else p


@test
def start():
    global dns
    dns = DnsServer({"test": LINES, "2.0.192.in-addr.arpa": REVERSE})
    dns.start()
    coldseq(DATA, "init", check=0)
    coldseq(DATA, "config", "set", "dns.servers", dns.servers, check=0)


@test
def every_row():
    bad = []
    for domain, ip, extra, want, words, section in ROWS:
        doc = spf(domain, ip, *extra)
        if doc["result"] != want or words not in doc["reason"]:
            bad.append("%s %s %s (RFC 7208 %s): got %s (%s), want %s%s" % (
                domain, ip, " ".join(extra), section, doc["result"],
                doc["reason"], want, " naming '%s'" % words if words
                else ""))
    if bad:
        fail("%d of %d rows wrong:\n" % (len(bad), len(ROWS)) +
             "\n".join(bad))
    assert len(ROWS) >= 30


@test
def limits_are_counted_and_named():
    doc = spf("ten.test", "192.0.2.1")
    eq(doc["lookups"], 10, "lookups of exactly 10 terms")
    eq(doc["voids"], 0)
    doc = spf("eleven.test", "192.0.2.1")
    eq(doc["result"], "permerror")
    assert "limit 10" in doc["reason"], doc["reason"]
    eq(doc["lookups"], 11)
    doc = spf("void.test", "192.0.2.1")
    assert "limit 2" in doc["reason"], doc["reason"]
    eq(doc["voids"], 3)
    doc = spf("void2.test", "192.0.2.1")
    eq((doc["lookups"], doc["voids"]), (2, 2))
    doc = spf("nested.test", "192.0.2.1")
    eq(doc["domains"], ["nested.test"] +
       ["i%d.nested.test" % i for i in range(1, 11)], "domains visited")


@test
def the_record_the_all_and_the_domains():
    doc = spf("inc.test", "198.51.100.1")
    eq(doc["record"], "v=spf1 include:p.test -all")
    eq(doc["domains"], ["inc.test", "p.test"])
    eq(doc["all"], "-")
    doc = spf("split.test", "192.0.2.1")
    eq(doc["record"], "v=spf1 ip4:192.0.2.1 -all", "strings joined")
    doc = spf("redirchain.test", "198.51.100.1")
    eq(doc["all"], "?", "the all after redirect=")
    eq(doc["domains"], ["redirchain.test", "neut.test"])
    doc = spf("plusall.test", "192.0.2.1")
    eq(doc["all"], "+")
    doc = spf("nomatch.test", "192.0.2.1")
    eq(doc["all"], None)
    doc = spf("none.test", "192.0.2.1")
    eq(doc["record"], None)


@test
def text_output():
    p = coldseq(DATA, "dns", "spf", "eleven.test", "192.0.2.1", check=0,
                timeout=60)
    assert p.stdout.startswith("spf eleven.test for 192.0.2.1: permerror"), \
        p.stdout
    assert "11th DNS-querying term a:h11.ten.test" in p.stdout, p.stdout
    assert "11 of 10 DNS-querying terms, 0 of 2 void lookups" in p.stdout, \
        p.stdout
    assert "domains: eleven.test\n" in p.stdout, p.stdout
    assert "all:     -all" in p.stdout, p.stdout


@test
def bad_arguments_exit_2():
    for args in (["a.test", "192.0.2"], ["a.test", "nothing"],
                 ["a.test", "192.0.2.1", "--sender", "no-at-sign"],
                 ["a.test"]):
        p = coldseq(DATA, "dns", "spf", *args, check=None, timeout=60)
        eq(p.returncode, 2, "exit status of dns spf %s" % " ".join(args))
        assert p.stderr.strip(), "no message for %s" % args


@test
def stop():
    dns.close()
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    try:
        tap.main()
    finally:
        if dns is not None:
            dns.close()
