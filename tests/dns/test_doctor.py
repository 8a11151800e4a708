"""`coldseq doctor` against a real DNS server (issue 22): NSD on loopback
(tests/lib/dnsstack.py) serves one clean sending domain and one domain per
defect the issue lists; `doctor --json` must name each defect exactly, on
the right domain or inbox, pass the clean domain, exit 1 when something
fails and 0 when nothing does, store each inbox's verdict, and a failing
check's fix, published in the zone, must make that check pass.

The inboxes are generic (their SMTP hosts are names in the test zones,
with addresses in 192.0.2.0/24 and reverse DNS in 2.0.192.in-addr.arpa),
plus a Google one on a domain set up for another provider.  The block
lists are the test's own zones (config doctor.blocklists).  No mail server
is needed: every check here is DNS only."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

import tap
from cstool import coldseq
from dnsstack import DnsServer
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-doctor-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")
LISTS = os.path.join(TMP, "lists.conf")
LISTS2 = os.path.join(TMP, "lists2.conf")
DNS = None
ZONES = {}


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def doctor(*args, check=None):
    p = cs("doctor", *args, "--json", check=check)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        raise AssertionError("not JSON: exit %d\n%s\n%s" % (
            p.returncode, p.stdout, p.stderr))


def rsa_key(bits):
    """The base64 DER public key of a fresh RSA key of bits."""
    key = subprocess.run(["openssl", "genrsa", str(bits)], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"],
                         input=key, check=True, capture_output=True).stdout
    import base64
    return base64.b64encode(der).decode()


def txt(text):
    """A TXT rdata, split into strings of at most 250 bytes."""
    return " ".join('"%s"' % text[i:i + 250]
                    for i in range(0, len(text), 250))


KEY2048 = None
KEY1024 = None

# domain -> (the last octet of its SMTP host's address, what differs)
DOMAINS = {
    "clean.test": (10, {}),
    "nospf.test": (11, {"spf": None}),
    "twospf.test": (12, {"spf": ["v=spf1 ip4:192.0.2.12 -all",
                                 "v=spf1 mx -all"]}),
    "deep.test": (13, {"spf": ["v=spf1 include:i1.deep.test "
                               "ip4:192.0.2.13 -all"]}),
    "plusall.test": (14, {"spf": ["v=spf1 ip4:192.0.2.14 +all"]}),
    "dkimnone.test": (15, {"dkim": None}),
    "dkim1024.test": (16, {"dkim": "1024"}),
    "dkimbad.test": (17, {"dkim": "bad"}),
    "nodmarc.test": (18, {"dmarc": None}),
    "bulk.test": (19, {"dmarc": None}),
    "norua.test": (20, {"dmarc": "v=DMARC1; p=none"}),
    "nomx.test": (21, {"mx": False}),
    "listed.test": (22, {}),
    "noptr.test": (23, {"ptr": False}),
    "mismatch.test": (24, {"ptr": "elsewhere.mismatch.test"}),
    "ipl.test": (25, {}),
    "misaligned.test": (26, {}),
}

# what each domain (or its inbox) must fail or warn with, exactly:
# (where, "check.defect", status); where is "domain" or "inbox"
EXPECT = {
    "clean.test": [],
    "nospf.test": [("domain", "spf.missing", "fail")],
    "twospf.test": [("domain", "spf.multiple", "fail")],
    "deep.test": [("domain", "spf.lookup_limit", "fail")],
    "plusall.test": [("domain", "spf.plus_all", "fail")],
    "dkimnone.test": [("domain", "dkim.key_missing", "fail")],
    "dkim1024.test": [("domain", "dkim.key_short", "warn")],
    "dkimbad.test": [("domain", "dkim.key_malformed", "fail")],
    "nodmarc.test": [("domain", "dmarc.missing", "warn")],
    "bulk.test": [("domain", "dmarc.missing", "fail")],
    "norua.test": [("domain", "dmarc.no_rua", "warn")],
    "nomx.test": [("domain", "mx.missing", "fail")],
    "listed.test": [("domain", "blocklist.listed", "fail")],
    "noptr.test": [("inbox", "ptr.ptr_missing", "fail")],
    "mismatch.test": [("inbox", "ptr.ptr_mismatch", "fail")],
    "ipl.test": [("inbox", "blocklist.listed", "fail")],
    "misaligned.test": [("domain", "dmarc.misaligned", "fail")],
    "gmis.test": [("domain", "mx.provider_mismatch", "warn"),
                  ("domain", "spf.provider_not_authorised", "fail"),
                  ("domain", "dkim.key_missing", "fail")],
}


def domain_zone(dn, octet, d):
    ip = "192.0.2.%d" % octet
    lines = ["smtp A %s" % ip, "imap A %s" % ip]
    if d.get("mx", True):
        lines.append("@ MX 10 imap.%s." % dn)
    spf = d.get("spf", ["v=spf1 ip4:%s -all" % ip])
    for rec in spf or []:
        lines.append("@ TXT %s" % txt(rec))
    lines.append('@ TXT "google-site-verification=abc"')
    dkim = d.get("dkim", "2048")
    if dkim == "2048":
        lines.append("default._domainkey TXT %s"
                     % txt("v=DKIM1; k=rsa; p=" + KEY2048))
    elif dkim == "1024":
        lines.append("default._domainkey TXT %s"
                     % txt("v=DKIM1; k=rsa; p=" + KEY1024))
    elif dkim == "bad":
        lines.append('default._domainkey TXT "v=DKIM1; k=rsa; '
                     'p=not!base64*at#all"')
    dmarc = d.get("dmarc", "v=DMARC1; p=quarantine; rua=mailto:dmarc@%s"
                  % dn)
    if dmarc:
        lines.append("_dmarc TXT %s" % txt(dmarc))
    lines.append('_mta-sts TXT "v=STSv1; id=20260101"')
    lines.append('_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@%s"' % dn)
    if dn == "deep.test":  # 11 includes deep, each one DNS-querying term
        for i in range(1, 12):
            lines.append("i%d TXT \"v=spf1 include:i%d.deep.test -all\""
                         % (i, i + 1))
        lines.append('i12 TXT "v=spf1 -all"')
    if dn == "mismatch.test":
        lines.append("elsewhere A 198.51.100.7")
    return lines


def reverse_zone():
    lines = []
    for dn, (octet, d) in sorted(DOMAINS.items()):
        ptr = d.get("ptr", "smtp.%s" % dn)
        if ptr:
            lines.append("%d PTR %s." % (octet, ptr))
    lines.append("30 PTR smtp.gmis.test.")
    return lines


def all_zones():
    z = {}
    for dn, (octet, d) in DOMAINS.items():
        z[dn] = domain_zone(dn, octet, d)
    # a domain of a Google inbox whose mail setup is another provider's
    z["gmis.test"] = ["@ MX 10 mx.gmis.test.", "mx A 192.0.2.30",
                      "smtp A 192.0.2.30",
                      '@ TXT "v=spf1 ip4:192.0.2.30 -all"',
                      '_dmarc TXT "v=DMARC1; p=reject; '
                      'rua=mailto:d@gmis.test"',
                      '_mta-sts TXT "v=STSv1; id=1"',
                      '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@gmis.test"']
    # the DKIM key receivers saw for misaligned.test's mail: d=esp.test
    z["esp.test"] = ["s1._domainkey TXT %s" % txt("v=DKIM1; k=rsa; p="
                                                  + KEY2048)]
    z["2.0.192.in-addr.arpa"] = reverse_zone()
    # block lists: an IP list, a domain list (RFC 5782 test entries), and
    # one that answers every question with Spamhaus' "public resolver"
    # error code
    z["bl.test"] = ["2.0.0.127 A 127.0.0.2",
                    '2.0.0.127 TXT "test entry"',
                    "25.2.0.192 A 127.0.0.2",
                    '25.2.0.192 TXT "listed: see https://bl.test/25"']
    z["dbl.test"] = ["dbltest.test A 127.0.1.2",
                     "listed.test A 127.0.1.2",
                     'listed.test TXT "spam domain: https://dbl.test/l"']
    z["refused.test"] = ["* A 127.255.255.254"]
    # a list that answers its probes right but one question with an error
    # code: that answer is no listing either
    z["err.test"] = ["2.0.0.127 A 127.0.0.2", "10.2.0.192 A 127.255.255.252"]
    return z


def setup():
    global DNS, KEY2048, KEY1024
    KEY2048 = rsa_key(2048)
    KEY1024 = rsa_key(1024)
    ZONES.update(all_zones())
    DNS = DnsServer(ZONES).start()
    cs("init", check=0)
    cs("config", "set", "dns.servers", DNS.servers, check=0)
    cs("config", "set", "dns.timeout", "2s", check=0)
    with open(LISTS, "w") as f:
        f.write("# the test's block lists\n"
                "bl.test ip 127.0.0.2 127.0.0.2=a spam source\n"
                "dbl.test domain dbltest.test 127.0.1.2=spam domain\n")
    with open(LISTS2, "w") as f:
        f.write("bl.test ip 127.0.0.2 127.0.0.2=a spam source\n"
                "refused.test ip 127.0.0.2\n"
                "err.test ip 127.0.0.2\n")
    cs("config", "set", "doctor.blocklists", LISTS, check=0)
    cs("config", "set", "unsubscribe.url_template",
       "https://clean.test/u/{token}", check=0)
    for dn in DOMAINS:
        name = dn.split(".")[0]
        extra = ["--daily-cap", "6000"] if dn == "bulk.test" else []
        cs("inbox", "add", name, "--email", "%s@%s" % (name, dn),
           "--smtp", "smtp.%s:587" % dn, "--imap", "imap.%s:993" % dn,
           *extra, check=0)
    cs("inbox", "add", "gmis", "--email", "gmis@gmis.test", "--provider",
       "google", "--smtp", "smtp.gmail.com:587", "--imap",
       "imap.gmail.com:993", check=0)
    # a copy of misaligned.test's mail as another connected inbox received
    # it, signed d=esp.test (what the watcher records; helper E's table)
    con = sqlite3.connect(DB)
    ids = dict(con.execute("SELECT name, id FROM inboxes"))
    con.execute(
        "INSERT INTO received_copies(receiver_inbox_id, message_id, "
        "sender_inbox_id, purpose, folder, received_at, spf, dkim, dmarc, "
        "dkim_domain, dkim_selector, dkim_headers, mailfrom_domain) "
        "VALUES (?, 'm1@misaligned.test', ?, 'warmup', 'inbox', "
        "strftime('%s','now') * 1000, 'pass', 'pass', 'pass', "
        "'esp.test', 's1', 'from:to:subject', 'misaligned.test')",
        (ids["clean"], ids["misaligned"]))
    con.commit()
    con.close()


def problems(entry):
    """{"check.defect": status} of what does not pass in a checks list."""
    return {"%s.%s" % (c["check"], c["defect"]): c["status"]
            for c in entry["checks"] if c["status"] != "pass"}


def by_domain(doc):
    return {d["domain"]: d for d in doc["domains"]}


def by_email(doc):
    return {i["email"]: i for i in doc["inboxes"]}


@test
def every_defect_is_named_on_its_own_domain_or_inbox():
    rc, doc = doctor()
    eq(rc, 1, "exit: something fails")
    eq(doc["verdict"], "fail", "overall verdict")
    doms, ins = by_domain(doc), by_email(doc)
    eq(sorted(doms), sorted(EXPECT), "the domains checked")
    for dn, want in sorted(EXPECT.items()):
        name = dn.split(".")[0]
        email = "%s@%s" % (name, dn)
        got_d = problems(doms[dn])
        got_i = problems(ins[email])
        want_d = {w: s for where, w, s in want if where == "domain"}
        want_i = {w: s for where, w, s in want if where == "inbox"}
        eq(got_d, want_d, "%s: the domain's defects (checks: %s)" % (
            dn, json.dumps(doms[dn]["checks"], indent=1)[:3000]))
        eq(got_i, want_i, "%s: the inbox's defects" % email)
        eq(doms[dn]["inboxes"], [email], dn + " inboxes")
        worst = "fail" if "fail" in list(want_d.values()) + list(
            want_i.values()) else "warn" if want else "pass"
        eq(ins[email]["verdict"], worst, email + " verdict")
    # every failing check says what to change
    for d in doc["domains"] + doc["inboxes"]:
        for c in d["checks"]:
            if c["status"] == "pass":
                eq(c["fix"], None, "a pass has no fix")
                eq(c["defect"], "", "a pass has no defect")
            else:
                assert c["fix"], c
                assert c["why"], c
    eq(doms["bulk.test"]["daily_capacity"], 6000, "bulk capacity")
    eq(doms["nodmarc.test"]["daily_capacity"], 30, "a default cap")


@test
def the_clean_domain_passes_without_a_warning():
    rc, doc = doctor("clean")
    eq(rc, 0, "exit: nothing fails")
    eq(doc["verdict"], "pass", "verdict")
    eq([d["domain"] for d in doc["domains"]], ["clean.test"])
    checks = {c["check"] for c in doc["domains"][0]["checks"]}
    assert {"mx", "spf", "dkim", "dmarc", "blocklist", "mta_sts",
            "tls_rpt"} <= checks, checks
    checks = {c["check"] for c in doc["inboxes"][0]["checks"]}
    assert {"spf", "ptr", "blocklist", "headers"} <= checks, checks
    spf = [c for c in doc["domains"][0]["checks"] if c["check"] == "spf"]
    eq(spf[0]["found"], '"v=spf1 ip4:192.0.2.10 -all"', "the record found")
    # --domain and an address select the same
    rc2, doc2 = doctor("--domain", "clean.test")
    eq((rc2, [i["inbox"] for i in doc2["inboxes"]]), (0, ["clean"]))
    rc3, doc3 = doctor("clean@clean.test")
    eq((rc3, [i["inbox"] for i in doc3["inboxes"]]), (0, ["clean"]))



@test
def no_selector_to_try_is_said_not_skipped():
    # no probe selector configured and no received copy: the DKIM key
    # cannot be looked for, and the doctor says so instead of passing
    cs("config", "set", "doctor.dkim_selectors", "", check=0)
    try:
        rc, doc = doctor("clean")
    finally:
        cs("config", "unset", "doctor.dkim_selectors", check=0)
        doctor("clean")  # store its verdict again: later tests read it
    eq(rc, 0, "exit: a warning is not a failure")
    dk = [(c["status"], c["defect"]) for c in doc["domains"][0]["checks"]
          if c["check"] == "dkim"]
    eq(dk, [("warn", "selector_unknown")], "dkim lines")


@test
def warnings_alone_exit_zero_and_verdicts_are_stored():
    rc, doc = doctor("norua")
    eq((rc, doc["verdict"]), (0, "warn"), "warn only")
    con = sqlite3.connect(DB)
    rows = dict(con.execute(
        "SELECT i.name, v.verdict || ' ' || v.failing FROM "
        "doctor_verdicts v JOIN inboxes i ON i.id = v.inbox_id"))
    con.close()
    eq(rows["norua"], "warn ", "norua stored")
    eq(rows["nospf"], "fail spf.missing", "nospf stored")
    eq(rows["clean"], "pass ", "clean stored")
    eq(rows["gmis"], "fail spf.provider_not_authorised,dkim.key_missing",
       "gmis stored")


@test
def usage_errors_and_unknown_inboxes():
    p = cs("doctor", "clean", "--all", check=2)
    assert "not more than one" in p.stderr, p.stderr
    p = cs("doctor", "--domain", "clean.test", "nospf", check=2)
    p = cs("doctor", "nosuch", check=1)
    assert "no inbox named 'nosuch'" in p.stderr, p.stderr
    p = cs("doctor", "--domain", "nowhere.test", check=1)
    assert "no inbox sends from nowhere.test" in p.stderr, p.stderr
    p = cs("doctor", "--bogus", check=2)


@test
def text_output_names_each_check():
    p = cs("doctor", "nospf", check=1)
    assert "domain nospf.test: FAIL" in p.stdout, p.stdout
    assert "FAIL spf       nospf.test [missing]" in p.stdout, p.stdout
    assert 'fix:   nospf.test. TXT "v=spf1 ip4:192.0.2.11 ~all"' in \
        p.stdout, p.stdout
    assert "verdict: FAIL" in p.stdout, p.stdout


def fix_record(fix):
    """'NAME. TYPE RDATA' of a fix that is a record, as a zone line."""
    name, rtype, rdata = fix.split(" ", 2)
    assert name.endswith(".") and rtype in ("TXT", "MX", "A"), fix
    return "%s %s %s" % (name, rtype, rdata)


@test
def published_fixes_make_the_checks_pass():
    rc, doc = doctor()
    doms = by_domain(doc)
    # domain -> the defects whose fix record replaces what is there
    cases = [("nospf.test", "spf", "missing", None),
             ("twospf.test", "spf", "multiple", "@ TXT"),
             ("plusall.test", "spf", "plus_all", "@ TXT"),
             ("deep.test", "spf", "lookup_limit", "@ TXT \"v=spf1 incl"),
             ("nodmarc.test", "dmarc", "missing", None),
             ("norua.test", "dmarc", "no_rua", "_dmarc TXT"),
             ("nomx.test", "mx", "missing", None)]
    zones = dict(ZONES)
    for dn, check, defect, drop in cases:
        c = [c for c in doms[dn]["checks"]
             if (c["check"], c["defect"]) == (check, defect)]
        eq(len(c), 1, "%s %s.%s" % (dn, check, defect))
        lines = [l for l in zones[dn]
                 if drop is None or not (l.startswith(drop) and (
                     check != "spf" or "v=spf1" in l))]
        zones[dn] = lines + [fix_record(c[0]["fix"])]
    DNS.set_zones(zones)
    try:
        rc, doc = doctor()
        doms = by_domain(doc)
        for dn, check, defect, _ in cases:
            got = [c for c in doms[dn]["checks"] if c["check"] == check]
            eq([c["status"] for c in got], ["pass"] * len(got),
               "%s %s after publishing the fix: %s" % (dn, check, got))
        # their inboxes pass too (the inbox's SPF is checked again)
        ins = by_email(doc)
        eq(ins["nospf@nospf.test"]["verdict"], "pass", "nospf inbox")
    finally:
        DNS.set_zones(ZONES)


@test
def a_list_that_refuses_the_resolver_is_unusable_not_listed():
    cs("config", "set", "doctor.blocklists", LISTS2, check=0)
    try:
        rc, doc = doctor("clean")
        eq(rc, 0, "exit: a warning only")
        bl = [c for c in doc["inboxes"][0]["checks"]
              if c["check"] == "blocklist"]
        got = {(c["subject"], c["defect"], c["status"]) for c in bl}
        eq(got, {("192.0.2.10 on refused.test", "list_unusable", "warn"),
                 ("192.0.2.10 on err.test", "list_unusable", "warn"),
                 ("192.0.2.10 on bl.test", "", "pass")}, "the lines")
        c = {c["subject"]: c for c in bl}
        assert "127.255.255.254" in c["192.0.2.10 on refused.test"]["why"], c
        assert "recursive resolver" in \
            c["192.0.2.10 on refused.test"]["fix"], c
        eq(c["192.0.2.10 on err.test"]["found"], "127.255.255.252", "code")
        assert "error code" in c["192.0.2.10 on err.test"]["why"], c
        # the listed IP stays listed on the working list
        rc, doc = doctor("ipl")
        c = [c for c in doc["inboxes"][0]["checks"]
             if c["defect"] == "listed"][0]
        eq(c["subject"], "192.0.2.25 on bl.test", "listed subject")
        assert "a spam source" in c["why"], c
        assert "listed: see https://bl.test/25" in c["found"], c
    finally:
        cs("config", "set", "doctor.blocklists", LISTS, check=0)


@test
def a_bad_blocklists_file_names_its_line():
    bad = os.path.join(TMP, "bad.conf")
    with open(bad, "w") as f:
        f.write("bl.test ip 127.0.0.2\nzen.test sometimes 127.0.0.2\n")
    cs("config", "set", "doctor.blocklists", bad, check=0)
    try:
        p = cs("doctor", "clean", check=1)
        assert "bad.conf:2:" in p.stderr, p.stderr
        assert "neither ip nor domain" in p.stderr, p.stderr
    finally:
        cs("config", "set", "doctor.blocklists", LISTS, check=0)


try:
    setup()
    tap.main()
finally:
    if DNS:
        DNS.close()
    shutil.rmtree(TMP, ignore_errors=True)
