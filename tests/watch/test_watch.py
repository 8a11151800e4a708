"""The IMAP watcher against the real local mail stack: replies, bounces,
delays, auto-replies, unsubscribes, our own Sent copy, Junk to INBOX,
IDLE latency, and that nothing is recorded twice or marked read."""
import email.message
import email.utils
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq, replies
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-watch-")
DATA = os.path.join(TMP, "data")
S = None


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def add_inbox(n):
    cs("inbox", "add", "user%d" % n, "--email", S.user(n), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)


def send(frm, to, subject="Quick question"):
    p = cs("send-test", "--from", "user%d" % frm, "--to", to, "--subject",
           subject, "--body", "Hello, may I ask you something?", check=0)
    return p.stdout.splitlines()[0].split(" ", 1)[1]


def mail(frm, to, subject, body, headers=()):
    m = email.message.EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    for k, v in headers:
        m[k] = v
    m.set_content(body)
    return m


def events(*args):
    return replies(DATA, *args)


def sync(name="user1"):
    return json.loads(cs("inbox", "sync", name, "--once", "--json",
                         check=0).stdout.splitlines()[-1])


def suppressed(addr):
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    n = con.execute("SELECT count(*) FROM suppressions WHERE value = ?",
                    (addr.lower(),)).fetchone()[0]
    con.close()
    return n > 0


@test
def reply_is_recorded_once_and_sent_copy_is_not_a_reply():
    mid = send(1, S.user(2))
    S.wait_for(2, predicate=lambda m: m["Message-ID"] == mid)
    r = mail(S.user(2), S.user(1), "Re: Quick question", "Sure, ask away.",
             [("In-Reply-To", mid), ("References", mid)])
    S.submit(2, S.user(1), r.as_bytes())
    S.wait_for(1, predicate=lambda m: m["Message-ID"] == r["Message-ID"])
    st = sync()
    assert st["new_events"] >= 1, st
    got = [e for e in events("--kind", "reply") if e["message_id"] ==
           r["Message-ID"]]
    eq(len(got), 1, "one reply event")
    eq(got[0]["from"], S.user(2), "from")
    eq(got[0]["contact"], S.user(2), "contact")
    eq(got[0]["in_reply_to"], mid, "in_reply_to")
    # our own copy in Sent is never read, never a reply
    for e in events():
        assert e["message_id"] != mid, e
    # per folder: UIDVALIDITY, last UID and (CONDSTORE) HIGHESTMODSEQ
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    row = con.execute("SELECT uidvalidity, last_uid, highestmodseq FROM "
                      "inbox_folders WHERE role = 'inbox'").fetchone()
    con.close()
    assert row[0] > 0 and row[1] >= 1 and row[2] > 0, row
    # a second pass records nothing new
    eq(sync()["new_events"], 0, "second pass")
    eq(len([e for e in events("--kind", "reply")
            if e["message_id"] == r["Message-ID"]]), 1, "still one")


@test
def nothing_is_marked_read():
    with S.imap(1) as c:
        c.select("INBOX", readonly=True)
        typ, data = c.search(None, "SEEN")
        eq(data[0].split(), [], "no message of user1 became \\Seen")


@test
def hard_bounce_suppresses_and_delay_does_not():
    send(1, "gone@bounce.test", "Hello there")
    send(1, "slow@defer.test", "Hello later")
    S.wait_for(1, predicate=lambda m: "delivery-status" in
               m.get_content_type() + str(m.get("Content-Type")), count=2,
               timeout=20)
    sync()
    b = [e for e in events("--kind", "bounce") if e["recipient"] ==
         "gone@bounce.test"]
    eq(len(b), 1, "bounce event")
    eq(b[0]["hard"], True, "hard")
    assert b[0]["status"].startswith("5."), b[0]
    assert suppressed("gone@bounce.test")
    d = [e for e in events("--kind", "delay") if e["recipient"] ==
         "slow@defer.test"]
    eq(len(d), 1, "delay event")
    assert not suppressed("slow@defer.test")


@test
def out_of_office_with_return_date():
    mid = send(1, S.user(3), "Partnership")
    ooo = mail(S.user(3), S.user(1), "Automatic reply: Partnership",
               "I am out of the office until 14 December 2026 with limited "
               "access to email. I will be back on 14 December 2026.",
               [("Auto-Submitted", "auto-replied"), ("In-Reply-To", mid)])
    S.submit(3, S.user(1), ooo.as_bytes())
    S.wait_for(1, predicate=lambda m: m["Message-ID"] == ooo["Message-ID"])
    sync()
    a = [e for e in events("--kind", "auto_reply")
         if e["message_id"] == ooo["Message-ID"]]
    eq(len(a), 1, "auto_reply")
    eq(a[0]["return_date"], "2026-12-14", "return date")
    eq(events("--kind", "reply") and [e for e in events("--kind", "reply")
                                      if e["message_id"] ==
                                      ooo["Message-ID"]], [], "not a reply")


@test
def unsubscribe_reply_suppresses():
    mid = send(1, S.user(4), "Demo")
    u = mail(S.user(4), S.user(1), "Re: Demo",
             "Please remove me from your list and stop emailing me.",
             [("In-Reply-To", mid)])
    S.submit(4, S.user(1), u.as_bytes())
    S.wait_for(1, predicate=lambda m: m["Message-ID"] == u["Message-ID"])
    sync()
    got = [e for e in events("--kind", "unsubscribe")
           if e["message_id"] == u["Message-ID"]]
    eq(len(got), 1, "unsubscribe")
    assert suppressed(S.user(4))


@test
def junk_then_inbox_is_one_event():
    mid = send(1, S.user(5), "Offer")
    S.junk(S.user(5))
    r = mail(S.user(5), S.user(1), "Re: Offer", "Tell me more.",
             [("In-Reply-To", mid)])
    S.submit(5, S.user(1), r.as_bytes())
    S.wait_for(1, folder="Junk",
               predicate=lambda m: m["Message-ID"] == r["Message-ID"])
    S.junk()
    sync()
    # the user moves it from Junk to INBOX
    with S.imap(1) as c:
        c.select("Junk")
        typ, data = c.search(None, 'HEADER Message-ID "%s"' % r["Message-ID"])
        c.copy(data[0].split()[0], "INBOX")
    sync()
    got = [e for e in events() if e["message_id"] == r["Message-ID"]]
    eq(len(got), 1, "one event for the moved message")
    eq(got[0]["kind"], "reply", "kind")
    eq(got[0]["folder"], "Junk", "first seen in Junk")


@test
def running_watcher_records_reply_within_seconds_via_idle():
    mid = send(1, S.user(6), "Coffee?")
    proc = subprocess.Popen([BIN, "--data-dir", DATA, "inbox", "sync",
                             "user1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # first pass done, IDLE started
        r = mail(S.user(6), S.user(1), "Re: Coffee?", "Yes, Tuesday?",
                 [("In-Reply-To", mid)])
        t0 = time.monotonic()
        S.submit(6, S.user(1), r.as_bytes())
        found = False
        while time.monotonic() - t0 < 10:
            if any(e["message_id"] == r["Message-ID"]
                   for e in events("--kind", "reply")):
                found = True
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        assert found, "no reply event within 10 s"
        assert took < 2.0, "reply recorded after %.2f s" % took
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    eq(proc.returncode, 0, "watcher exit status on SIGTERM")


@test
def messages_with_new_uids_are_not_recorded_twice():
    before = len(events())
    # recreate INBOX's index: Dovecot gives the folder a new UIDVALIDITY
    with S.imap(1) as c:
        c.create("Tmp")
        c.select("INBOX")
        c.copy("1:*", "Tmp")
    with S.imap(1) as c:
        c.select("INBOX")
        c.store("1:*", "+FLAGS.SILENT", "\\Deleted")
        c.expunge()
        c.select("Tmp")
        c.copy("1:*", "INBOX")
    sync()
    eq(len(events()), before, "no event twice after messages got new UIDs")


@test
def uidvalidity_change_resyncs_without_duplicates():
    # delete and recreate Junk: a new UIDVALIDITY; put the old mail back
    before = len(events())
    with S.imap(1) as c:
        c.create("Keep")
        c.select("Junk")
        typ, data = c.search(None, "ALL")
        n = len(data[0].split())
        assert n >= 1, "Junk holds the earlier reply"
        c.copy("1:*", "Keep")
        c.close()
        c.delete("Junk")
        c.create("Junk")
        c.select("Keep")
        c.copy("1:*", "Junk")
    p = cs("inbox", "sync", "user1", "--once", "--json", check=0)
    assert "UIDVALIDITY" in p.stderr, p.stderr
    eq(json.loads(p.stdout.splitlines()[-1])["new_events"], 0, "new events")
    eq(len(events()), before, "no event twice after UIDVALIDITY changed")


try:
    S = Stack(users=8)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    add_inbox(1)
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
