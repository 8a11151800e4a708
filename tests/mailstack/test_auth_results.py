"""test_auth_results.py - the mail stack writes Authentication-Results.

With Stack(auth=AuthSpec(...)) (`up --auth`), mail submitted the way
coldseq submits it (STARTTLS or implicit-TLS submission with AUTH) is
DKIM-signed by opendkim and relayed to the stack's MX-style port, where
opendkim (verify mode) and Debian's policyd-spf add RFC 8601
Authentication-Results, resolving against a real NSD on loopback
(tests/lib/dnsstack.py) that serves:

    good.test     SPF ip4:127.0.0.1 -all, the signing key published
    badkey.test   SPF ip4:127.0.0.1 -all, a different key published
    spffail.test  SPF -all without 127.0.0.1, not signed

Each test sends from one domain's user to another's and reads the copy
that arrived over IMAP: its Authentication-Results (exactly one for DKIM,
one for SPF, with the stack's authserv-id) and that it arrived at all
(results never make the stack reject).  The last test shows the option is
off by default.
"""
import re
import secrets

import tap
from dnsstack import DnsServer
from mailstack import (AuthDomain, AuthSpec, Stack, auth_results,
                       dkim_zone_lines)
from tap import eq, test

SEL = "sel2026"
SIGN_HEADERS = ["From", "To", "Subject", "Message-ID", "List-Unsubscribe",
                "List-Unsubscribe-Post"]
ZONES = {
    "good.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"'],
    "badkey.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"'],
    "spffail.test": ['@ TXT "v=spf1 ip4:192.0.2.1 -all"'],
}
DNS = DnsServer(ZONES)
S = None
ALICE, BOB, CAROL = "alice@good.test", "bob@badkey.test", \
    "carol@spffail.test"


def message(frm, to, subject):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@test>\r\n"
            "List-Unsubscribe: <mailto:unsubscribe@good.test>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "\r\nbody of %s\r\n" % (frm, to, subject, secrets.token_hex(8),
                                     subject)).encode()


def send_and_read(frm, to, port="starttls"):
    """Submit a message as frm (AUTH, envelope sender frm) to `to`; return
    the delivered copy, after asserting nothing was refused."""
    subject = "auth %s" % secrets.token_hex(4)
    refused = S.submit(frm, to, message(frm, to, subject), port=port)
    eq(refused, {}, "recipients refused at submission")
    [m] = S.wait_for(to, predicate=lambda m: m["Subject"] == subject)
    return m


def results(m):
    """{method: result dict} of the stack's own A-R fields, asserting there
    is exactly one DKIM and one SPF result and no A-R field of another
    authserv-id."""
    fields = m.get_all("Authentication-Results") or []
    every = auth_results(m)
    ours = auth_results(m, S.authserv_id)
    eq(len(ours), len(every), "A-R results of another authserv-id (%r)"
       % fields)
    eq(sorted(r["method"] for r in ours if r["method"] in ("dkim", "spf")),
       ["dkim", "spf"], "DKIM and SPF results in %r" % fields)
    eq(len(fields), 2, "Authentication-Results fields (%r)" % fields)
    return {r["method"]: r for r in ours}


@test
def test_dkim_record_is_published_in_255_byte_strings():
    info = S.dkim["good.test"]
    eq(info["selector"], SEL, "selector")
    eq(info["bits"], 2048, "key size")
    eq(info["published_key"], info["signing_key"], "good.test's key")
    assert S.dkim["badkey.test"]["published_key"] != \
        S.dkim["badkey.test"]["signing_key"], "badkey.test publishes its key"
    [line] = info["zone_lines"]
    m = re.match(r'^%s\._domainkey\.good\.test\. IN TXT \( ((?:"[^"]*" )+)\)$'
                 % SEL, line)
    assert m, line
    strings = re.findall(r'"([^"]*)"', m.group(1))
    assert len(strings) > 1, "a 2048-bit key needs more than one string"
    for s in strings:
        assert 0 < len(s.encode()) <= 255, s
    body = "".join(x for x in info["published_key"].splitlines()
                   if not x.startswith("-----"))
    eq("".join(strings), "v=DKIM1; k=rsa; p=" + body,
       "the record, strings joined")
    eq(dkim_zone_lines(SEL, info["published_key"], "good.test"),
       info["zone_lines"], "dkim_zone_lines")
    eq(DNS.query("%s._domainkey.good.test" % SEL, "TXT"), (0, 1),
       "NSD's answer for the key (rcode, answers)")
    eq(DNS.query("%s._domainkey.spffail.test" % SEL, "TXT")[1], 0,
       "spffail.test publishes no key")


@test
def test_good_domain_passes_dkim_and_spf():
    m = send_and_read(ALICE, CAROL)
    sig = " ".join(str(m["DKIM-Signature"] or "").split())
    h = re.search(r"\bh=([^;]*)", sig)
    assert h, "the delivered copy is signed: %r" % sig
    eq(sorted(x.strip().lower() for x in h.group(1).split(":")),
       sorted(x.lower() for x in SIGN_HEADERS), "h= (AuthSpec.sign_headers)")
    r = results(m)
    eq(r["dkim"]["result"], "pass", "dkim (%s)" % r["dkim"])
    eq(r["dkim"]["props"].get("header.d"), "good.test", "dkim header.d")
    eq(r["dkim"]["props"].get("header.s"), SEL, "dkim header.s")
    eq(r["spf"]["result"], "pass", "spf (%s)" % r["spf"])
    eq(r["spf"]["props"].get("smtp.mailfrom"), "good.test",
       "spf smtp.mailfrom")


@test
def test_implicit_tls_submission_is_signed_too():
    r = results(send_and_read(ALICE, BOB, port="implicit"))
    eq((r["dkim"]["result"], r["dkim"]["props"].get("header.d")),
       ("pass", "good.test"), "dkim over the implicit-TLS port")
    eq(r["spf"]["result"], "pass", "spf")


@test
def test_wrong_published_key_fails_dkim_but_arrives():
    m = send_and_read(BOB, ALICE)
    r = results(m)
    eq(r["dkim"]["result"], "fail", "dkim (%s)" % r["dkim"])
    eq(r["dkim"]["props"].get("header.d"), "badkey.test", "dkim header.d")
    eq(r["dkim"]["props"].get("header.s"), SEL, "dkim header.s")
    eq(r["spf"]["result"], "pass", "spf (SPF of badkey.test is fine)")


@test
def test_spf_fail_is_written_not_rejected():
    m = send_and_read(CAROL, BOB)
    r = results(m)
    eq(r["spf"]["result"], "fail", "spf (%s)" % r["spf"])
    eq(r["spf"]["props"].get("smtp.mailfrom"), "spffail.test",
       "spf smtp.mailfrom")
    eq(r["dkim"]["result"], "none", "dkim of an unsigned message")
    assert m["DKIM-Signature"] is None, "spffail.test has no key"


@test
def test_mail_to_the_mx_port_is_verified_unsigned():
    """The MX-style port is the receiving side: a message sent there
    directly (no AUTH) gets results too, and is not signed."""
    subject = "mx %s" % secrets.token_hex(4)
    with S.smtp(port="mx") as c:
        eq(c.sendmail(ALICE, [CAROL], message(ALICE, CAROL, subject)), {},
           "refused")
    [m] = S.wait_for(CAROL, predicate=lambda m: m["Subject"] == subject)
    r = results(m)
    eq(r["dkim"]["result"], "none", "dkim")
    eq(r["spf"]["result"], "pass", "spf")


@test
def test_zone_changes_are_seen_at_once():
    """Without the key in DNS, the same domain's mail fails DKIM: the
    verifier asks the test's DNS server each time (nothing cached)."""
    DNS.set_zones(ZONES)
    try:
        r = results(send_and_read(ALICE, BOB))
        eq(r["dkim"]["result"], "fail", "dkim without a published key (%s)"
           % r["dkim"])
    finally:
        DNS.set_zones(S.zones_with_dkim(ZONES))
    r = results(send_and_read(ALICE, BOB))
    eq(r["dkim"]["result"], "pass", "dkim with the key back")


@test
def test_off_by_default():
    with Stack(users=1) as plain:
        subject = "plain %s" % secrets.token_hex(4)
        plain.submit(1, plain.user(1), message(plain.user(1), plain.user(1),
                                               subject))
        [m] = plain.wait_for(1, predicate=lambda m: m["Subject"] == subject)
        eq(m.get_all("Authentication-Results"), None, "A-R on a plain stack")
        eq(m["DKIM-Signature"], None, "DKIM-Signature on a plain stack")
        assert plain.authserv_id is None and plain.dkim == {}


try:
    DNS.start()
    S = Stack(users=1, auth=AuthSpec(DNS, {
        "good.test": AuthDomain(users=["alice"], selector=SEL),
        "badkey.test": AuthDomain(users=["bob"], selector=SEL,
                                  bad_key=True),
        "spffail.test": AuthDomain(users=["carol"])},
        sign_headers=SIGN_HEADERS))
    S.start()
    DNS.set_zones(S.zones_with_dkim(ZONES))
    tap.main()
finally:
    if S:
        S.stop()
    DNS.close()
