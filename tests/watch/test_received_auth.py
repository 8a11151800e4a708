"""What receivers saw, on the real local mail stack: when a watched inbox
receives a message another of our inboxes sent (its Message-ID is in
messages), the watcher records one received copy with the folder it landed
in and the verdicts of the receiving server's Authentication-Results
(trusting only the topmost authserv-id above the sender's DKIM-Signature),
our DKIM-Signature's d=/s=/h= and the List-Unsubscribe fields.

The plain stack's Postfix writes no Authentication-Results, so the copies
here are submitted carrying them the way a receiving server writes them
(opendkim's and policyd-spf's shapes, authserv-id the stack's host), with
the Message-ID of a message coldseq sent (send-test) to an address that
is not one of our inboxes.  The end-to-end case with Postfix itself
writing them (opendkim + policyd-spf + NSD, good.test and badkey.test)
waits for helper C's stack option."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

import tap
from cstool import coldseq
from dnsstack import DnsServer
from mailstack import DOMAIN, Stack, dkim_zone_lines
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-rcvauth-")
DATA = os.path.join(TMP, "data")
HOST = "mail." + DOMAIN  # the receiving side's authserv-id
S = None
DNS = None


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def add_inbox(n):
    cs("inbox", "add", "user%d" % n, "--email", S.user(n), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)


def send_test(frm, to, subject):
    """coldseq sends a message (purpose test); its Message-ID."""
    p = cs("send-test", "--from", "user%d" % frm, "--to", to, "--subject",
           subject, "--body", "Hello there.", check=0)
    return p.stdout.splitlines()[0].split(" ", 1)[1]


def copy_of(mid, frm, to, top, signature, below=(), unsub=True):
    """The message mid as it would reach `to`: the receiving side's fields
    (top) above the sender's DKIM-Signature, the sender's own fields
    (below) under it."""
    lines = list(top)
    if signature:
        lines.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"
                     "\r\n\td=%s; s=%s;\r\n\th=%s; bh=abc=; b=xyz"
                     % signature)
    lines += list(below)
    lines += ["From: User <%s>" % frm, "To: %s" % to,
              "Subject: Hello", "Date: Mon, 07 Dec 2026 10:00:00 +0000",
              "Message-ID: %s" % mid]
    if unsub:
        lines += ["List-Unsubscribe: <mailto:%s?subject=unsubscribe>" % frm,
                  "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain", "",
              "Hello there.", ""]
    return "\r\n".join(lines).encode()


def sync(name):
    cs("inbox", "sync", name, "--once", "--json", check=0)


def rows(receiver=None):
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    con.row_factory = sqlite3.Row
    q = ("SELECT r.*, ri.name AS receiver, si.name AS sender FROM "
         "received_copies r JOIN inboxes ri ON ri.id = r.receiver_inbox_id "
         "JOIN inboxes si ON si.id = r.sender_inbox_id")
    out = [dict(r) for r in con.execute(q)]
    con.close()
    if receiver:
        out = [r for r in out if r["receiver"] == receiver]
    return {r["message_id"]: r for r in out}


@test
def receiving_servers_verdicts_are_recorded():
    mid = send_test(1, S.user(6), "Hello")
    # opendkim's and policyd-spf's shapes on top; a forged pass under the
    # signature and a relay's verdict of another authserv-id are ignored
    top = ["Authentication-Results: %s; dkim=pass (2048-bit key; "
           "unprotected) header.d=%s header.i=@%s header.a=rsa-sha256 "
           "header.s=mail header.b=AbCdEfGh" % (HOST, DOMAIN, DOMAIN),
           "Authentication-Results: %s; spf=pass (sender SPF authorized) "
           "smtp.mailfrom=user1@%s" % (HOST, DOMAIN),
           "Authentication-Results: relay.elsewhere.test; dmarc=fail",
           "Authentication-Results: %s; dmarc=pass (p=reject dis=none) "
           "header.from=%s" % (HOST, DOMAIN)]
    below = ["Authentication-Results: %s; dkim=fail; spf=fail" % HOST]
    S.submit(1, S.user(2), copy_of(
        mid, S.user(1), S.user(2), top,
        (DOMAIN, "mail", "from:to:subject:list-unsubscribe:"
         "list-unsubscribe-post"), below))
    S.wait_for(2, predicate=lambda m: m["Message-ID"] == mid)
    sync("user2")
    got = rows("user2")
    assert mid in got, got
    r = got[mid]
    eq(r["sender"], "user1", "sender inbox")
    eq(r["purpose"], "test", "purpose")
    eq(r["folder"], "inbox", "folder")
    eq((r["spf"], r["dkim"], r["dmarc"]), ("pass", "pass", "pass"),
       "verdicts")
    eq(r["mailfrom_domain"], DOMAIN, "smtp.mailfrom domain")
    eq((r["dkim_domain"], r["dkim_selector"]), (DOMAIN, "mail"), "d=, s=")
    eq(r["dkim_headers"],
       "from:to:subject:list-unsubscribe:list-unsubscribe-post", "h=")
    eq(r["list_unsub"], 3, "List-Unsubscribe and -Post present")


@test
def junk_copy_with_failing_dkim_and_received_spf():
    mid = send_test(1, S.user(6), "Offer")
    S.junk(S.user(1))
    try:
        top = ["Authentication-Results: %s; dkim=fail reason=\"signature "
               "verification failed\" (1024-bit key; unprotected) "
               "header.d=%s header.i=@%s header.s=old header.b=Zz"
               % (HOST, DOMAIN, DOMAIN),
               "Received-SPF: Softfail (mailfrom) identity=mailfrom; "
               "client-ip=127.0.0.1; helo=localhost; "
               "envelope-from=user1@%s; receiver=user3@%s"
               % (DOMAIN, DOMAIN)]
        S.submit(1, S.user(3), copy_of(mid, S.user(1), S.user(3), top,
                                       (DOMAIN, "old", "from:to"),
                                       unsub=False))
        S.wait_for(3, folder="Junk",
                   predicate=lambda m: m["Message-ID"] == mid)
    finally:
        S.junk()
    sync("user3")
    r = rows("user3")[mid]
    eq(r["folder"], "junk", "landed in Junk")
    eq(r["dkim"], "fail", "dkim")
    eq(r["spf"], "softfail", "spf from Received-SPF")
    eq(r["dmarc"], "", "no dmarc= written")
    eq(r["mailfrom_domain"], DOMAIN, "envelope-from domain")
    eq(r["list_unsub"], 0, "no List-Unsubscribe")
    # the user moves it to INBOX: still one copy, first folder stands
    with S.imap(3) as c:
        c.select("Junk")
        typ, data = c.search(None, 'HEADER Message-ID "%s"' % mid)
        c.copy(data[0].split()[0], "INBOX")
    sync("user3")
    got = [r for r in rows("user3").values() if r["message_id"] == mid]
    eq(len(got), 1, "one copy")
    eq(got[0]["folder"], "junk", "first folder stands")


@test
def not_ours_and_no_results_from_an_untrusted_place():
    # a Message-ID no inbox of ours sent: nothing recorded
    foreign = "<not-ours.%d@elsewhere.test>" % os.getpid()
    S.submit(1, S.user(4), copy_of(
        foreign, S.user(1), S.user(4),
        ["Authentication-Results: %s; dkim=pass" % HOST],
        (DOMAIN, "mail", "from")))
    # ours, but the only verdict lies under the signature: recorded,
    # with no results
    mid = send_test(1, S.user(6), "Plain")
    S.submit(1, S.user(4), copy_of(
        mid, S.user(1), S.user(4), [], (DOMAIN, "mail", "from"),
        ["Authentication-Results: %s; dkim=pass; spf=pass; dmarc=pass"
         % HOST]))
    S.wait_for(4, predicate=lambda m: m["Message-ID"] == mid)
    S.wait_for(4, predicate=lambda m: m["Message-ID"] == foreign)
    sync("user4")
    got = rows("user4")
    assert foreign not in got, got
    r = got[mid]
    eq((r["spf"], r["dkim"], r["dmarc"]), ("", "", ""), "nothing trusted")
    eq(r["dkim_selector"], "mail", "selector still read")


@test
def doctor_reads_the_same_copies():
    """user1's three copies as `doctor --json` sums them up: the copy
    with nothing trusted counts in the total only, not in a rate; one of
    three in Junk is a placement warning (three copies are too few for a
    failing rate); the DKIM check asks for the selectors the copies
    carried (mail, published; old, not)."""
    p = cs("doctor", "user1", "--json")
    doc = json.loads(p.stdout)
    [ins] = doc["inboxes"]
    rs = [c for c in ins["checks"] if c["check"] == "receivers"]
    eq([(r["status"], r["defect"], r["subject"]) for r in rs],
       [("warn", "junk_placement", DOMAIN)], "receivers lines (%s)" % rs)
    eq(rs[0]["found"], "%s: 3 copies, SPF 50%%, DKIM 50%%, DMARC 50%%, "
       "Inbox 2 / Junk 1" % DOMAIN, "the summary")
    [dom] = doc["domains"]
    ks = {c["subject"]: (c["status"], c["defect"])
          for c in dom["checks"] if c["check"] == "dkim"}
    eq(ks, {"mail._domainkey." + DOMAIN: ("pass", ""),
            "old._domainkey." + DOMAIN: ("fail", "key_missing")},
       "the selectors the receivers saw")


def dkim_key():
    """The PEM public key of a fresh 2048-bit RSA key."""
    key = subprocess.run(["openssl", "genrsa", "2048"], check=True,
                         capture_output=True).stdout
    return subprocess.run(["openssl", "rsa", "-pubout"], input=key,
                          check=True, capture_output=True).stdout.decode()


try:
    DNS = DnsServer({
        DOMAIN: ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                 "@ MX 10 mail.%s." % DOMAIN, "mail A 127.0.0.1",
                 '_dmarc TXT "v=DMARC1; p=none; rua=mailto:d@%s"' % DOMAIN]
        + dkim_zone_lines("mail", dkim_key()),
        "bl.test": ["2.0.0.127 A 127.0.0.2"]}).start()
    S = Stack(users=6)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    for n in (1, 2, 3, 4):
        add_inbox(n)
    # the doctor asks the test's NSD only, and its own block list
    lists = os.path.join(TMP, "lists.conf")
    with open(lists, "w") as f:
        f.write("bl.test ip 127.0.0.2 127.0.0.2=a spam source\n")
    cs("config", "set", "dns.servers", DNS.servers, check=0)
    cs("config", "set", "dns.timeout", "2s", check=0)
    cs("config", "set", "doctor.blocklists", lists, check=0)
    tap.main()
finally:
    if S:
        S.stop()
    if DNS:
        DNS.close()
    shutil.rmtree(TMP, ignore_errors=True)
