"""SMTP faults a real server will not produce, played by the FAKE server of
tests/lib/fakesmtp.py, against the real coldseq binary (send-test)."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from fakesmtp import FakeSMTP
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-faults-")
DATA = os.path.join(TMP, "data")


def cs(*args, stdin=None, check=None, timeout=60):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=timeout)


def setup():
    cs("init", check=0)
    cs("inbox", "add", "fake", "--email", "sender@fake.example", "--smtp",
       "127.0.0.1:1", "--smtp-tls", "tls", "--imap", "127.0.0.1:2",
       "--password-stdin", stdin="pw-for-fake\n", check=0)
    cs("config", "set", "smtp.command_timeout", "2", check=0)
    cs("config", "set", "smtp.connect_timeout", "5", check=0)


def send_via(fake, to="rcpt@fake.example"):
    cs("inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % fake.port,
       "--ca-file", fake.ca_file, check=0)
    t0 = time.monotonic()
    p = cs("send-test", "--from", "fake", "--to", to, "--json")
    took = time.monotonic() - t0
    doc = json.loads(p.stdout)
    return p, doc, took


def stored_outcome(mid):
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    row = con.execute("SELECT outcome, smtp_reply FROM messages WHERE "
                      "message_id = ?", (mid,)).fetchone()
    con.close()
    return row


@test
def fake_ok_baseline_sends():
    with FakeSMTP("ok") as f:
        p, doc, _ = send_via(f)
    eq(p.returncode, 0, "exit")
    eq(doc["outcome"], "sent", "outcome")
    eq(stored_outcome(doc["message_id"])[0], "sent", "stored")
    assert any(c.startswith("AUTH") for c in f.commands), f.commands
    eq(len(f.messages), 1, "messages received")
    assert ("Message-ID: %s" % doc["message_id"]).encode() in f.messages[0]


@test
def greeting_421_defers():
    with FakeSMTP("greet421") as f:
        p, doc, _ = send_via(f)
    eq(p.returncode, 1, "exit")
    eq(doc["outcome"], "deferred", "outcome")
    eq(doc["code"], 421, "code")
    eq(stored_outcome(doc["message_id"])[0], "deferred", "stored")


@test
def mail_421_defers_and_sends_no_data():
    with FakeSMTP("mail421") as f:
        p, doc, _ = send_via(f)
    eq(doc["outcome"], "deferred", "outcome")
    assert "4.7.0" in doc["reply"], doc
    eq(f.messages, [], "no DATA")


@test
def rcpt_452_too_many_recipients_defers():
    with FakeSMTP("rcpt452") as f:
        p, doc, _ = send_via(f)
    eq(doc["outcome"], "deferred", "outcome")
    eq(doc["code"], 452, "code")


@test
def drop_after_final_dot_is_uncertain():
    with FakeSMTP("drop_after_dot") as f:
        p, doc, _ = send_via(f)
    eq(p.returncode, 1, "exit")
    eq(doc["outcome"], "uncertain", "outcome")
    assert "may be sent more than once" in doc["error"], doc
    eq(len(f.messages), 1, "the data did arrive")
    eq(stored_outcome(doc["message_id"])[0], "uncertain", "stored")


@test
def reply_slower_than_timeout_gives_up_without_hang():
    with FakeSMTP("slow_reply", slow_seconds=8) as f:
        p, doc, took = send_via(f)
    eq(doc["outcome"], "deferred", "outcome")
    assert "no reply" in doc["error"], doc
    assert took < 7, "took %.1f s with a 2 s timeout" % took


@test
def overlong_reply_is_capped():
    with FakeSMTP("long_reply") as f:
        p, doc, _ = send_via(f)
    eq(doc["outcome"], "rejected_recipient", "outcome")
    assert len(doc["reply"]) < 600, len(doc["reply"])
    assert doc["reply"].endswith("..."), doc["reply"][-20:]
    reply = stored_outcome(doc["message_id"])[1]
    assert len(reply) < 600, len(reply)


@test
def binary_reply_is_scrubbed():
    with FakeSMTP("binary_reply") as f:
        p, doc, _ = send_via(f)
    eq(doc["outcome"], "rejected_recipient", "outcome")
    for ch in doc["reply"]:
        assert 0x20 <= ord(ch) < 0x7f, repr(doc["reply"])
    assert "\x1b" not in p.stderr


@test
def certificate_for_wrong_host_refused_before_auth():
    with FakeSMTP("wrong_host") as f:
        p, doc, _ = send_via(f)
    eq(p.returncode, 1, "exit")
    eq(doc["outcome"], "inbox_failure", "outcome")
    assert "another host" in doc["error"], doc["error"]
    assert not any(c.startswith("AUTH") for c in f.commands), f.commands


@test
def password_never_in_output_or_database():
    with FakeSMTP("ok") as f:
        p, doc, _ = send_via(f)
        p2 = cs("inbox", "show", "fake", "--json")
        p3 = cs("inbox", "list", "-v")
    for out in (p.stdout, p.stderr, p2.stdout, p3.stdout, p3.stderr):
        assert "pw-for-fake" not in out
    with open(os.path.join(DATA, "coldseq.db"), "rb") as fh:
        assert b"pw-for-fake" not in fh.read()


try:
    setup()
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
