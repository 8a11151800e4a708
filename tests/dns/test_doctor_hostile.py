"""Hostile DNS data through `coldseq doctor` and `coldseq dns spf`, against
a real NSD on loopback (tests/lib/dnsstack.py): records are echoed (found,
and tag values quoted in why), so a zone's control bytes (ESC sequences),
C1 controls, invalid UTF-8 and a huge TXT must never reach the terminal
raw, must leave the JSON valid UTF-8, and must not grow the report without
bound.  And a key record that is well-formed but unusable: h=sha1 only
(RFC 8301 with RFC 6376 6.1.2: no signature can verify) fails.  Nothing
here asks a public DNS server."""
import base64
import json
import os
import shutil
import subprocess
import tempfile

import tap
from dnsstack import DnsServer
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-dochostile-")
DATA = os.path.join(TMP, "data")
LISTS = os.path.join(TMP, "lists.conf")


def txt(text):
    """A TXT rdata, split into strings of at most 250 characters."""
    return " ".join('"%s"' % text[i:i + 250]
                    for i in range(0, len(text), 250))


# NSD's \DDD escapes are decimal: \027 is ESC, \155\194 a stray
# continuation byte and a cut sequence (invalid UTF-8), \194\155 U+009B
# (C1 CSI), \200 and \255 bytes that start no UTF-8 sequence
ESC_SPF = ('@ TXT "v=spf1 include:a\\027[31m.h.test ip4:192.0.2.10 '
           '\\200bad -all"')
BIG = ("v=spf1 " + " ".join("ip4:10.%d.%d.1" % (i // 250, i % 250)
                            for i in range(3000)) + " -all")


def rsa_key(bits):
    """The base64 DER public key of a fresh RSA key of bits."""
    key = subprocess.run(["openssl", "genrsa", str(bits)], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"],
                         input=key, check=True, capture_output=True).stdout
    return base64.b64encode(der).decode()


KEY = rsa_key(2048)
ZONES = {
    "h.test": [
        "smtp A 192.0.2.10", "@ MX 10 smtp.h.test.", ESC_SPF,
        'default._domainkey TXT "v=DKIM1; k=rsa\\027[2J\\194\\155; '
        'p=abc\\255"',
        '_dmarc TXT "v=DMARC1; p=none; rua=mailto:x\\027]0;pwn\\007'
        '\\255@h.test"',
        '_mta-sts TXT "v=STSv1; id=\\027\\155\\194"',
        '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@h.test"',
    ],
    "big.test": ["smtp A 192.0.2.11", "@ MX 10 smtp.big.test.",
                 "@ TXT " + txt(BIG)],
    "2.0.192.in-addr.arpa": ["10 PTR smtp.h.test.", "11 PTR smtp.big.test.",
                             "12 PTR smtp.sha1.test."],
    "sha1.test": ["smtp A 192.0.2.12", "@ MX 10 smtp.sha1.test.",
                  '@ TXT "v=spf1 ip4:192.0.2.12 -all"',
                  "default._domainkey TXT "
                  + txt("v=DKIM1; k=rsa; h=sha1; p=" + KEY),
                  "s2._domainkey TXT "
                  + txt("v=DKIM1; k=rsa; h=sha1:sha256; p=" + KEY)],
    "bl.test": ["2.0.0.127 A 127.0.0.2"],
}


def run(*args):
    """coldseq ARGS as bytes (text mode would hide invalid UTF-8)."""
    return subprocess.run([BIN, "--data-dir", DATA] + list(args),
                          capture_output=True, timeout=120)


def raw_controls(b):
    """The control bytes (C0 but tab and newline, DEL) and C1 code points
    in output b, and whether it is valid UTF-8."""
    bad = sorted({c for c in b if (c < 0x20 and c not in (9, 10))
                  or c == 0x7f})
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return bad, False
    return bad + sorted({ord(c) for c in s if 0x80 <= ord(c) <= 0x9f}), True


@test
def doctor_text_shows_no_control_byte_of_a_record():
    p = run("doctor", "h")
    eq(p.returncode, 1, "exit: the SPF record is broken")
    eq(raw_controls(p.stdout), ([], True), "controls, valid UTF-8")
    out = p.stdout.decode()
    # the records are still shown, their odd bytes as '?'
    assert "v=DKIM1; k=rsa?[2J?; p=abc?" in out, out
    assert "unknown key type k=rsa?[2J?" in out, out
    assert "rua=mailto:x?]0;pwn??@h.test" in out, out
    assert "include:a?[31m.h.test ip4:192.0.2.10 ?bad -all" in out, out


@test
def doctor_json_is_valid_utf8_with_records_scrubbed():
    p = run("doctor", "h", "--json")
    eq(p.returncode, 1, "exit")
    eq(raw_controls(p.stdout), ([], True), "controls, valid UTF-8")
    doc = json.loads(p.stdout.decode("utf-8"))
    checks = {c["check"]: c for c in doc["domains"][0]["checks"]}
    eq(checks["dkim"]["defect"], "key_malformed", "dkim defect")
    eq(checks["dkim"]["found"], "v=DKIM1; k=rsa?[2J?; p=abc?", "dkim found")
    eq(checks["mta_sts"]["found"], "v=STSv1; id=???", "mta_sts found")
    for c in checks.values():
        for k in ("subject", "found", "why", "fix"):
            v = c[k] or ""
            assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f
                           for ch in v), (k, v)


@test
def a_huge_spf_record_is_cut_in_the_report():
    p = run("doctor", "b", "--json")
    doc = json.loads(p.stdout.decode("utf-8"))
    spf = [c for c in doc["domains"][0]["checks"] if c["check"] == "spf"][0]
    assert spf["found"].startswith('"v=spf1 ip4:10.0.0.1 '), spf["found"]
    assert spf["found"].endswith("..."), spf["found"][-40:]
    assert len(spf["found"]) <= 2010, len(spf["found"])
    for c in doc["inboxes"][0]["checks"]:
        for k in ("subject", "found", "why", "fix"):
            assert len(c[k] or "") <= 2010, (c["check"], k, len(c[k]))


@test
def dns_spf_json_is_valid_utf8():
    p = run("dns", "spf", "h.test", "192.0.2.10", "--json")
    eq(raw_controls(p.stdout)[1], True, "valid UTF-8")
    doc = json.loads(p.stdout.decode("utf-8"))
    eq(doc["result"], "permerror", "result")
    assert doc["record"].startswith("v=spf1 include:a\x1b[31m"), doc
    p = run("dns", "spf", "h.test", "192.0.2.10")
    eq(raw_controls(p.stdout), ([], True), "text: controls, valid UTF-8")


@test
def a_key_for_sha1_only_fails():
    p = run("doctor", "s", "--json")
    eq(p.returncode, 1, "exit: a failing check")
    doc = json.loads(p.stdout.decode("utf-8"))
    dkim = {c["subject"]: (c["status"], c["defect"])
            for c in doc["domains"][0]["checks"] if c["check"] == "dkim"}
    eq(dkim.get("default._domainkey.sha1.test"), ("fail", "sha1_only"),
       "h=sha1 alone: %r" % dkim)
    eq(dkim.get("s2._domainkey.sha1.test"), ("pass", ""),
       "h=sha1:sha256: %r" % dkim)
    assert "dkim.sha1_only" in doc["inboxes"][0]["failing"], doc["inboxes"]


dns = DnsServer(ZONES)
try:
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    dns.start()
    with open(LISTS, "w") as f:
        f.write("bl.test ip 127.0.0.2\n")
    for k, v in (("dns.servers", dns.servers), ("dns.timeout", "2s"),
                 ("doctor.blocklists", LISTS),
                 ("doctor.dkim_selectors", "default,s2")):
        subprocess.run([BIN, "--data-dir", DATA, "config", "set", k, v],
                       check=True, capture_output=True)
    for name, dn in (("h", "h.test"), ("b", "big.test"),
                     ("s", "sha1.test")):
        subprocess.run([BIN, "--data-dir", DATA, "inbox", "add", name,
                        "--email", "%s@%s" % (name, dn), "--smtp",
                        "smtp.%s:587" % dn, "--imap", "smtp.%s:993" % dn],
                       check=True, capture_output=True)
    tap.main()
finally:
    dns.close()
    shutil.rmtree(TMP, ignore_errors=True)
