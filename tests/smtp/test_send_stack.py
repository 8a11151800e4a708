"""Sending against the real local mail stack (Postfix submission + Dovecot):
inbox add, send-test over STARTTLS and implicit TLS, what arrives over IMAP,
the messages table, header injection, TLS trust, AUTH failures, XOAUTH2,
the daily cap, and that the password is never stored or printed."""
import email
import email.header
import email.utils
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-send-")
DATA = os.path.join(TMP, "data")
S = None
OUTPUTS = []


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120,
                   outputs=OUTPUTS)


def add_inbox(name, user, port, tls, extra=(), secret=None):
    cs("inbox", "add", name, "--email", S.user(user), "--smtp",
       "127.0.0.1:%d" % port, "--smtp-tls", tls, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", *extra,
       stdin=(secret or S.password) + "\n", check=0)


def decoded(h):
    return str(email.header.make_header(email.header.decode_header(h)))


def by_mid(mid):
    return lambda m: m.get("Message-ID") == mid


@test
def starttls_send_arrives_intact():
    add_inbox("user1", 1, S.submission_port, "starttls",
              ("--display-name", "Jürgen Müller"))
    p = cs("send-test", "--from", "user1", "--to", S.user(2), "--subject",
           "Grüße aus Köln", "--body", "Hallo,\n.dot line\nÄrger\n", check=0)
    first = p.stdout.splitlines()[0]
    assert first.startswith("Message-ID: <"), p.stdout
    mid = first.split(" ", 1)[1]
    assert p.stdout.splitlines()[1].startswith("250"), p.stdout
    msgs = S.wait_for(2, predicate=by_mid(mid), timeout=15)
    m = msgs[0]
    name, addr = email.utils.parseaddr(m["From"])
    eq(decoded(name), "Jürgen Müller", "From display name")
    eq(addr, S.user(1), "From address")
    eq(email.utils.parseaddr(m["To"])[1], S.user(2), "To")
    eq(decoded(m["Subject"]), "Grüße aus Köln", "Subject")
    eq(m["MIME-Version"], "1.0", "MIME-Version")
    date = email.utils.parsedate_to_datetime(m["Date"]).timestamp()
    assert abs(date - time.time()) < 300, m["Date"]
    assert m["List-Unsubscribe"].strip().startswith("<mailto:%s?subject=unsubscribe"
                                            "%%20" % S.user(1)), \
        m["List-Unsubscribe"]
    body = m.get_payload(decode=True).decode("utf-8")
    eq(body, "Hallo,\r\n.dot line\r\nÄrger\r\n", "body")
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    row = con.execute("SELECT recipient, purpose, outcome, smtp_code FROM "
                      "messages WHERE message_id = ?", (mid,)).fetchone()
    con.close()
    eq(row, (S.user(2), "test", "sent", 250), "messages row")
    # the send went through the outbox like every message that leaves:
    # one row, purpose test, sent, shown as a test message (no step)
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    rid, = con.execute("SELECT id FROM outbox WHERE message_id = ? AND "
                       "purpose = 'test' AND state = 'sent'",
                       (mid,)).fetchone()
    con.close()
    show = json.loads(cs("outbox", "show", str(rid), "--json",
                         check=0).stdout)
    eq((show["purpose"], show["state"], show["message_id"]),
       ("test", "sent", mid), "outbox show --json")
    text = cs("outbox", "show", str(rid), check=0).stdout
    assert text.startswith("outbox row %d: test message, sent" % rid), text
    # the exact message, marked seen, in the sender's Sent folder
    assert "Copy kept in: Sent" in p.stdout, p.stdout
    copy = S.wait_for(1, folder="Sent", predicate=by_mid(mid), timeout=10)[0]
    eq(str(copy["Subject"]), "Grüße aus Köln", "Sent copy subject")
    with S.imap(1) as c:
        c.select("Sent", readonly=True)
        typ, data = c.search(None, "SEEN", 'HEADER Message-ID "%s"' % mid)
        eq(len(data[0].split()), 1, "copy is \\Seen")


@test
def implicit_tls_send_arrives():
    add_inbox("user3", 3, S.submissions_port, "tls")
    doc = json.loads(cs("send-test", "--from", "user3", "--to", S.user(4),
                        "--json", check=0).stdout)
    eq(doc["outcome"], "sent", "outcome")
    S.wait_for(4, predicate=by_mid(doc["message_id"]), timeout=15)


@test
def header_injection_refused_nothing_delivered():
    before = len(S.wait_for(5, timeout=0.1, count=0))
    add_inbox("user6", 6, S.submission_port, "starttls")
    p = cs("send-test", "--from", "user6", "--to", S.user(5), "--subject",
           "Hello\r\nBcc: %s" % S.user(7), check=1)
    assert "line break" in p.stderr, p.stderr
    time.sleep(1)
    eq(len(S.wait_for(5, timeout=0.1, count=0)), before, "user5 inbox")
    eq(len(S.wait_for(7, timeout=0.1, count=0)), 0, "user7 inbox")


@test
def untrusted_certificate_refused_with_reason():
    cs("inbox", "add", "nocafile", "--email", S.user(8), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--password-stdin",
       stdin=S.password + "\n", check=0)
    doc = json.loads(cs("send-test", "--from", "nocafile", "--to",
                        S.user(2), "--json", check=1).stdout)
    eq(doc["outcome"], "inbox_failure", "outcome")
    assert "not trusted" in doc["error"] and "issuer" in doc["error"], doc


@test
def wrong_password_is_inbox_failure_naming_auth():
    add_inbox("badpw", 9, S.submission_port, "starttls",
              secret="not-the-password")
    doc = json.loads(cs("send-test", "--from", "badpw", "--to", S.user(2),
                        "--json", check=1).stdout)
    eq(doc["outcome"], "inbox_failure", "outcome")
    assert "authentication" in doc["error"], doc
    eq(doc["code"], 535, "code")


@test
def xoauth2_token_sends_and_revoked_token_fails():
    S.token("tok-user10-good", S.user(10))
    add_inbox("oauth10", 10, S.submission_port, "starttls",
              ("--auth", "oauth2"), secret="tok-user10-good")
    doc = json.loads(cs("send-test", "--from", "oauth10", "--to", S.user(2),
                        "--json", check=0).stdout)
    eq(doc["outcome"], "sent", "outcome with a valid token")
    S.wait_for(2, predicate=by_mid(doc["message_id"]), timeout=15)
    S.revoke("tok-user10-good")
    doc = json.loads(cs("send-test", "--from", "oauth10", "--to", S.user(2),
                        "--json", check=1).stdout)
    eq(doc["outcome"], "inbox_failure", "outcome with a revoked token")


@test
def daily_cap_stops_sending():
    add_inbox("capped", 11, S.submission_port, "starttls",
              ("--daily-cap", "1"))
    cs("send-test", "--from", "capped", "--to", S.user(12), check=0)
    p = cs("send-test", "--from", "capped", "--to", S.user(12), check=1)
    assert "daily cap of 1" in p.stderr, p.stderr
    time.sleep(1)
    eq(len(S.wait_for(12, timeout=5, count=1)), 1, "one delivered")


@test
def inbox_test_reports_tls_and_folders_on_both_ports():
    for name in ("user1", "user3"):  # STARTTLS 587-style, implicit TLS
        doc = json.loads(cs("inbox", "test", name, "--json", check=0).stdout)
        eq(doc["ok"], True, name)
        assert doc["smtp"]["tls"]["version"].startswith("TLSv1."), doc
        eq(doc["smtp"]["tls"]["verified"], True, "verified")
        assert "CN=localhost" in doc["smtp"]["tls"]["subject"], doc
        assert "AUTH" in doc["smtp"]["capabilities"], doc
        eq((doc["imap"]["sent"], doc["imap"]["junk"],
            doc["imap"]["special_use"]), ("Sent", "Junk", True), "folders")
    p = cs("inbox", "test", "user1", check=0)
    assert "Sent folder: Sent" in p.stdout and "TLSv1." in p.stdout
    # user1 on the implicit-TLS submission port too
    cs("inbox", "set", "user1", "--smtp", "127.0.0.1:%d" % S.submissions_port,
       "--smtp-tls", "tls", check=0)
    doc = json.loads(cs("inbox", "test", "user1", "--json", check=0).stdout)
    eq(doc["ok"], True, "user1 on the implicit-TLS port")
    cs("inbox", "set", "user1", "--smtp", "127.0.0.1:%d" % S.submission_port,
       "--smtp-tls", "starttls", check=0)


@test
def insecure_tls_is_explicit_and_warned_at_every_connect():
    cs("inbox", "set", "nocafile", "--insecure-tls", check=0)
    p = cs("send-test", "--from", "nocafile", "--to", S.user(2), check=0)
    assert "NOT verified" in p.stderr, p.stderr
    doc = json.loads(cs("inbox", "show", "nocafile", "--json",
                        check=0).stdout)
    eq(doc["insecure_tls"], True, "setting")
    cs("inbox", "set", "nocafile", "--verify-tls", check=0)
    cs("send-test", "--from", "nocafile", "--to", S.user(2), check=1)


@test
def inbox_test_names_the_problem():
    p = cs("inbox", "test", "badpw", check=1)
    assert "authentication failed" in p.stderr and "535" in p.stderr, \
        p.stderr
    p = cs("inbox", "test", "nocafile", check=1)
    assert "not trusted" in p.stderr, p.stderr
    cs("inbox", "add", "refused", "--email", "nobody1@example.test",
       "--smtp", "127.0.0.1:1", "--imap", "127.0.0.1:1", "--password-stdin",
       stdin="x\n", check=0)
    p = cs("inbox", "test", "refused", check=1)
    assert "Connection refused" in p.stderr, p.stderr


@test
def suppressed_or_forgotten_recipient_gets_nothing():
    cs("contacts", "suppress", S.user(5), "--reason", "asked", check=0)
    p = cs("send-test", "--from", "user1", "--to", S.user(5), check=1)
    assert "is suppressed (asked)" in p.stderr, p.stderr
    csv = os.path.join(TMP, "c.csv")
    with open(csv, "w") as f:
        f.write("email,first_name\n%s,Seven\n" % S.user(7))
    cs("contacts", "import", csv, check=0)
    cs("contacts", "forget", S.user(7), check=0)
    p = cs("send-test", "--from", "user1", "--to", S.user(7).upper(),
           check=1)
    assert "forgotten" in p.stderr, p.stderr
    time.sleep(1)
    eq(len(S.wait_for(7, timeout=0.1, count=0)), 0, "user7 inbox")


@test
def password_not_stored_or_printed_in_plaintext():
    with open(os.path.join(DATA, "coldseq.db"), "rb") as f:
        db = f.read()
    assert S.password.encode() not in db
    assert b"tok-user10-good" not in db
    for out in OUTPUTS:
        assert S.password not in out
        assert "tok-user10-good" not in out


try:
    S = Stack(users=12)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
