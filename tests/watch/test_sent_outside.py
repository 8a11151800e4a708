"""Sends made outside coldseq (issue 21): the watcher reads the header
fields of the inbox's Sent folder and counts, per recipient, what the
person using the mailbox sent from a mail client, never what coldseq sent
itself; incrementally, idempotently, from the last 25 hours on the first
pass, and without changing anything on the server."""
import email.message
import email.utils
import imaplib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-sentout-")
DATA = os.path.join(TMP, "data")
S = None
OUTSIDE = {}  # msg_key -> set of recipients, what the person sent


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def sync():
    p = cs("inbox", "sync", "user1", "--once", "--json", check=0)
    return p


def rows():
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    r = con.execute("SELECT msg_key, recipient, external, sent_at, "
                    "local_day FROM sent_external ORDER BY msg_key, "
                    "recipient").fetchall()
    con.close()
    return r


def sent_cursor():
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    r = con.execute("SELECT name, uidvalidity, last_uid FROM inbox_folders "
                    "WHERE role = 'sent'").fetchone()
    con.close()
    return r


def show():
    return json.loads(cs("inbox", "show", "user1", "--json",
                         check=0).stdout)["sent_outside_24h"]


def person_sends(to, cc=(), bcc=(), envelope=None, message_id=True,
                 when=None, subject="From my phone"):
    """What a mail client does: submit the message, then APPEND its copy
    (Bcc included, not \\Seen here so that a \\Seen after the sync would
    show) to the sender's Sent folder.  Returns the copy's bytes."""
    m = email.message.EmailMessage()
    m["From"] = S.user(1)
    m["To"] = ", ".join(to)
    if cc:
        m["Cc"] = ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(when)
    if message_id:
        m["Message-ID"] = email.utils.make_msgid(domain="phone.example")
    m.set_content("Written by hand.")
    if envelope:  # the message on the wire carries no Bcc
        S.submit(1, envelope, m.as_bytes())
    if bcc:
        m["Bcc"] = ", ".join(bcc)
    raw = m.as_bytes()
    with S.imap(1) as c:
        typ, data = c.append("Sent", "", imaplib.Time2Internaldate(
            when if when is not None else time.time()), raw)
        assert typ == "OK", data
    return m


@test
def first_pass_counts_only_outside_sends_of_the_last_25_hours():
    # in Sent before the first pass: a copy 30 hours old (never counted)
    person_sends([S.user(3)], when=time.time() - 30 * 3600,
                 envelope=None, subject="Old news")
    # the person writes two messages from a mail client; the stack lets
    # nothing leave the machine, so the external Cc is on the copy only
    a = person_sends([S.user(2)], cc=[S.user(3)],
                     envelope=[S.user(2), S.user(3)])
    b = person_sends(["Partner <partner@elsewhere.test>"], cc=[S.user(4)],
                     bcc=[S.user(2)], envelope=[S.user(4), S.user(2)],
                     message_id=False)
    # coldseq sends one itself: its copy in Sent is coldseq's
    p = cs("send-test", "--from", "user1", "--to", S.user(4), "--subject",
           "From coldseq", "--body", "Hello.", check=0)
    mid = p.stdout.splitlines()[0].split(" ", 1)[1]
    assert "Copy kept in: Sent" in p.stdout, p.stdout
    S.wait_for(1, folder="Sent", predicate=lambda m: m["Message-ID"] == mid)
    p = sync()
    eq(p.returncode, 0, "sync: " + p.stderr)
    r = rows()
    keys = sorted({x[0] for x in r})
    eq(len(keys), 2, "two messages sent outside coldseq: %r" % (r,))
    assert a["Message-ID"] in keys, keys
    assert mid not in keys, "coldseq's own send is not counted"
    hashed = [k for k in keys if k != a["Message-ID"]]
    assert hashed[0].startswith("h:"), hashed
    got = {}
    for k, rcpt, ext, at, day in r:
        got.setdefault(k, {})[rcpt.lower()] = ext
    eq(got[a["Message-ID"]], {S.user(2): 0, S.user(3): 0}, "A's recipients")
    eq(got[hashed[0]], {"partner@elsewhere.test": 1, S.user(4): 0,
                        S.user(2): 0}, "B's recipients (To, Cc, Bcc)")
    now = time.time() * 1000
    for k, rcpt, ext, at, day in r:
        assert now - 600000 < at <= now + 60000, (rcpt, at, now)
        eq(day, time.strftime("%Y-%m-%d", time.gmtime(at / 1000)),
           "local day (UTC inbox)")
    eq(show(), {"messages": 2, "recipients": 5}, "inbox show --json")
    out = cs("inbox", "show", "user1", check=0).stdout
    assert "sent outside coldseq (24 h): 2 messages, 5 recipients" in out, \
        out
    name, uv, last = sent_cursor()
    eq(name, "Sent", "cursor folder")
    assert uv > 0 and last >= 4, (uv, last)


@test
def second_pass_adds_nothing_and_new_sends_add_once():
    before = rows()
    p = sync()
    eq(p.returncode, 0, p.stderr)
    eq(rows(), before, "a second pass adds nothing")
    c = person_sends([S.user(3)], envelope=[S.user(3)], subject="One more")
    sync()
    sync()
    r = rows()
    eq(len(r), len(before) + 1, "the new send, once")
    assert (c["Message-ID"], S.user(3)) in [(x[0], x[1]) for x in r], r
    eq(show(), {"messages": 3, "recipients": 6}, "inbox show --json")


@test
def nothing_is_changed_in_sent():
    with S.imap(1) as c:
        c.select("Sent", readonly=True)
        typ, data = c.search(None, "UNSEEN")
        # the person's copies were appended without \Seen: still unseen
        eq(len(data[0].split()), 4, "unseen copies stay unseen")


@test
def uidvalidity_change_does_not_double_count():
    before = rows()
    uv0 = sent_cursor()[1]
    with S.imap(1) as c:
        c.create("Keep")
        c.select("Sent")
        c.copy("1:*", "Keep")
        c.close()
        c.delete("Sent")
        c.create("Sent")
        typ, data = c.select("Keep")
        # one by one, the oldest last: every copy gets another UID (COPY
        # keeps each INTERNALDATE)
        n = int(data[0])
        for k in list(range(2, n + 1)) + [1]:
            c.copy(str(k), "Sent")
        c.close()
        c.delete("Keep")
    p = sync()
    eq(p.returncode, 0, p.stderr)
    assert "UIDVALIDITY" in p.stderr, p.stderr
    assert sent_cursor()[1] != uv0, "the new UIDVALIDITY is stored"
    eq(rows(), before, "no send counted twice, the old one still not")
    eq(show(), {"messages": 3, "recipients": 6}, "inbox show --json")


@test
def the_service_reads_sent_too():
    # a second inbox, read by the service's watcher only
    cs("inbox", "add", "user4", "--email", S.user(4), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)
    m = email.message.EmailMessage()
    m["From"] = S.user(4)
    m["To"] = "Someone <someone@elsewhere.test>"
    m["Subject"] = "Sent from the web mail"
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="webmail.example")
    m.set_content("Hi.")
    with S.imap(4) as c:
        typ, data = c.append("Sent", "\\Seen", imaplib.Time2Internaldate(
            time.time()), m.as_bytes())
        assert typ == "OK", data

    def of_user4():
        con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
        r = con.execute("SELECT s.msg_key, s.recipient, s.external FROM "
                        "sent_external s JOIN inboxes i ON i.id = "
                        "s.inbox_id WHERE i.name = 'user4'").fetchall()
        con.close()
        return r
    p = subprocess.Popen([BIN, "--data-dir", DATA, "run"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.monotonic() + 30
        while not of_user4() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    eq(p.returncode, 0, err)
    eq(of_user4(), [(m["Message-ID"], "someone@elsewhere.test", 1)],
       "the service's watcher counted the send")
    j = json.loads(cs("inbox", "show", "user4", "--json", check=0).stdout)
    eq(j["sent_outside_24h"], {"messages": 1, "recipients": 1}, "show")


try:
    S = Stack(users=4)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    cs("inbox", "add", "user1", "--email", S.user(1), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--sent-copy", "always", "--password-stdin",
       stdin=S.password + "\n", check=0)
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
