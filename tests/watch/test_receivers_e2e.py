"""What receivers saw, end to end (issue 22): the stack's Postfix writes
the Authentication-Results, coldseq sends, watches and reports.

A real NSD on loopback (tests/lib/dnsstack.py) serves two sending
domains, each with SPF ip4:127.0.0.1 -all, an MX, DMARC with rua and the
DKIM record the stack publishes under selector sel2026x, a name not in
the doctor's default probe list, so only a received copy can reveal it:

    good.test     alice: the stack signs with the key DNS publishes
    badkey.test   bob:   the stack signs with another key (bad_key), so
                         receivers write dkim=fail

The stack (Stack(auth=...)) signs on submission with opendkim and, on
receipt, writes one Authentication-Results for DKIM (opendkim) and one
for SPF (policyd-spf), both resolving against the NSD.  coldseq has both
users as generic inboxes (submission + IMAPS with the stack's CA) and
sends each way with `send-test`; one of alice's copies is moved to Junk
in bob's mailbox; `inbox sync` records the copies; `doctor --json` must
then show, from the copies alone:
  * alice: a receivers line for bob's server (provider badkey.test):
    SPF 100%, DKIM 100%, Inbox 5 / Junk 1, pass; good.test's DKIM check
    reads the key of sel2026x (before the sync it could not find any);
  * bob: receivers "dkim_failing" fail with DKIM 0%, its fix naming
    selector sel2026x; badkey.test's DKIM check passes on the published
    key (DNS alone cannot tell it is not the signing key: only the
    receivers line can)."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import tap
from cstool import coldseq
from dnsstack import DnsServer
from mailstack import AuthDomain, AuthSpec, Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-rcve2e-")
DATA = os.path.join(TMP, "data")
SEL = "sel2026x"
N = 6  # copies each way (a pass rate fails from 5 copies on)
ALICE, BOB = "alice@good.test", "bob@badkey.test"


def zone(dn):
    return ['@ TXT "v=spf1 ip4:127.0.0.1 -all"', "@ MX 10 mx.%s." % dn,
            "mx A 127.0.0.1",
            '_dmarc TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@%s"' % dn]


ZONES = {"good.test": zone("good.test"), "badkey.test": zone("badkey.test"),
         # the test's own block lists (RFC 5782 test entries), so that no
         # public list is ever asked
         "bl.test": ["2.0.0.127 A 127.0.0.2"],
         "dbl.test": ["dbltest.test A 127.0.1.2"]}
DNS = DnsServer(ZONES)
S = None
SENT = {}  # sender inbox name -> [Message-ID]


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def doctor(*args):
    p = cs("doctor", *args, "--json")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "inboxes" not in doc:
        raise AssertionError("no doctor report: exit %d\n%s\n%s" % (
            p.returncode, p.stdout, p.stderr))
    return doc


def checks(entry, check):
    return [c for c in entry["checks"] if c["check"] == check]


def entry(doc, key, value):
    """The one domain (key "domains", by name) or inbox ("inboxes", by
    address) of a doctor report."""
    field = "domain" if key == "domains" else "email"
    [e] = [x for x in doc[key] if x[field] == value]
    return e


def key_body(pem):
    """The base64 of a PEM public key (the record's p=)."""
    return "".join(x for x in pem.splitlines() if not x.startswith("-----"))


def record_text(found):
    """A found TXT record as one string: quotes and the spaces between
    strings dropped (the key is cut into strings of at most 255 bytes)."""
    return re.sub(r'"\s*"', "", found or "").replace('"', "")


def add_inbox(name, addr):
    cs("inbox", "add", name, "--email", addr, "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)


def send(frm, to, i):
    subject = "e2e %s %d" % (frm, i)
    p = cs("send-test", "--from", frm, "--to", to, "--subject", subject,
           "--body", "Hello from %s, number %d." % (frm, i), check=0)
    mid = p.stdout.splitlines()[0].split(" ", 1)[1]
    SENT.setdefault(frm, []).append(mid)
    return mid


def delivered(addr, mids):
    """Wait until every Message-ID of mids is in addr's INBOX; the
    copies, in mids' order."""
    got = S.wait_for(addr, predicate=lambda m: m["Message-ID"] in mids,
                     count=len(mids), timeout=30)
    by = {m["Message-ID"]: m for m in got}
    return [by[m] for m in mids]


@test
def before_any_copy_the_selector_is_unknown():
    """Nothing received yet: the doctor probes its default selectors and
    finds no key, so sel2026x can only come from a copy."""
    doc = doctor("alice")
    [k] = checks(entry(doc, "domains", "good.test"), "dkim")
    eq((k["status"], k["defect"]), ("fail", "key_missing"),
       "good.test's DKIM before any copy (%s)" % k)
    assert SEL not in k["subject"], k
    [r] = checks(entry(doc, "inboxes", ALICE), "receivers")
    eq((r["status"], r["found"]), ("pass", "no copies seen in 7 days"),
       "no receivers line yet")


@test
def the_stack_wrote_the_verdicts_coldseq_reads():
    """The copies as they arrived: signed with sel2026x, and the stack's
    own Authentication-Results above the signature (what the watcher
    trusts)."""
    for i in range(N):
        send("alice", BOB, i)
        send("bob", ALICE, i)
    at_bob = delivered(BOB, SENT["alice"])
    at_alice = delivered(ALICE, SENT["bob"])
    for m, d, dkim in ((at_bob[0], "good.test", "pass"),
                       (at_alice[0], "badkey.test", "fail")):
        names = [k.lower() for k in m.keys()]
        sig = names.index("dkim-signature")
        ars = [i for i, k in enumerate(names)
               if k == "authentication-results"]
        eq(len(ars), 2, "A-R fields on %s's copy" % d)
        assert max(ars) < sig, "A-R above the signature: %r" % names
        text = " ".join(str(m["DKIM-Signature"]).split())
        assert "s=%s;" % SEL in text and "d=%s;" % d in text, text
        ar = " ".join(" ".join(str(v).split())
                      for v in m.get_all("Authentication-Results"))
        assert "dkim=%s" % dkim in ar and "spf=pass" in ar, ar
    # the user (or a filter) files one of alice's copies as Junk
    with S.imap(BOB) as c:
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID",
                          '"%s"' % SENT["alice"][0])
        eq(typ, "OK", "search")
        [uid] = data[0].split()
        typ, data = c.uid("MOVE", uid, "Junk")
        eq(typ, "OK", "MOVE to Junk: %r" % data)
    for name in ("alice", "bob"):
        p = cs("inbox", "sync", name, "--once", "--json", check=0)
        assert p.stdout.strip(), p.stderr


@test
def good_domain_passes_and_its_selector_comes_from_the_copy():
    doc = doctor("alice")
    ins = entry(doc, "inboxes", ALICE)
    rs = checks(ins, "receivers")
    eq([(r["status"], r["defect"], r["subject"]) for r in rs],
       [("pass", "", "badkey.test")], "alice's receivers lines (%s)" % rs)
    eq(rs[0]["found"], "badkey.test: %d copies, SPF 100%%, DKIM 100%%, "
       "DMARC 100%%, Inbox %d / Junk 1" % (N, N - 1), "what bob's server saw")
    ks = checks(entry(doc, "domains", "good.test"), "dkim")
    eq([(k["status"], k["defect"], k["subject"]) for k in ks],
       [("pass", "", "%s._domainkey.good.test" % SEL)],
       "good.test's DKIM lines (%s)" % ks)
    info = S.dkim["good.test"]
    eq(record_text(ks[0]["found"]),
       "v=DKIM1; k=rsa; p=" + key_body(info["published_key"]),
       "the key found")
    assert "2048" in ks[0]["why"], ks[0]


@test
def bad_key_fails_only_in_what_receivers_saw():
    doc = doctor("bob")
    ins = entry(doc, "inboxes", BOB)
    rs = checks(ins, "receivers")
    eq([(r["status"], r["defect"], r["subject"]) for r in rs],
       [("fail", "dkim_failing", "good.test")],
       "bob's receivers lines (%s)" % rs)
    eq(rs[0]["found"], "good.test: %d copies, SPF 100%%, DKIM 0%%, "
       "DMARC 100%%, Inbox %d / Junk 0" % (N, N), "what alice's server saw")
    assert "selector %s at %s._domainkey.badkey.test" % (SEL, SEL) \
        in rs[0]["fix"], rs[0]["fix"]
    assert "receivers.dkim_failing" in ins["failing"], ins["failing"]
    eq(ins["verdict"], "fail", "bob's verdict")
    # DNS holds a well-formed 2048-bit key for the selector seen: the
    # doctor's key check passes; that it is not the signing key shows only
    # in the receivers line above
    ks = checks(entry(doc, "domains", "badkey.test"), "dkim")
    eq([(k["status"], k["defect"], k["subject"]) for k in ks],
       [("pass", "", "%s._domainkey.badkey.test" % SEL)],
       "badkey.test's DKIM lines (%s)" % ks)
    info = S.dkim["badkey.test"]
    found = record_text(ks[0]["found"])
    eq(found, "v=DKIM1; k=rsa; p=" + key_body(info["published_key"]),
       "the published key is the one shown")
    assert key_body(info["signing_key"]) not in found, \
        "the signing key is not what DNS publishes"


try:
    DNS.start()
    S = Stack(users=1, auth=AuthSpec(DNS, {
        "good.test": AuthDomain(users=["alice"], selector=SEL),
        "badkey.test": AuthDomain(users=["bob"], selector=SEL,
                                  bad_key=True)}))
    S.start()
    DNS.set_zones(S.zones_with_dkim(ZONES))
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    cs("config", "set", "dns.servers", DNS.servers, check=0)
    cs("config", "set", "dns.timeout", "2s", check=0)
    lists = os.path.join(TMP, "lists.conf")
    with open(lists, "w") as f:
        f.write("bl.test ip 127.0.0.2 127.0.0.2=a spam source\n"
                "dbl.test domain dbltest.test 127.0.1.2=spam domain\n")
    cs("config", "set", "doctor.blocklists", lists, check=0)
    add_inbox("alice", ALICE)
    add_inbox("bob", BOB)
    tap.main()
finally:
    if S:
        S.stop()
    DNS.close()
    shutil.rmtree(TMP, ignore_errors=True)
