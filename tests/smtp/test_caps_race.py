"""The daily cap under concurrent use (issue 17, item 9), against the real
local mail stack: several `send-test` processes started together from one
inbox never send more than its cap, because each counts the day's
messages and records its own in one write transaction
(db_message_add_capped).

The race is provoked, not hoped for: while the processes start, this test
holds the database's write lock (BEGIN IMMEDIATE from Python), so every
one of them reaches its cap check before any can record.  A send path
that counts outside its write transaction then counts the same number in
all of them and all send; one that counts inside waits for the lock and
counts what the others recorded.  SQLite's busy timeout (5 s) is longer
than the hold."""
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
TMP = tempfile.mkdtemp(prefix="coldseq-caps-")
DATA = os.path.join(TMP, "data")
S = None
CAP = 3
PARALLEL = 8
HOLD_S = 2.5  # the lock is held this long after the processes started


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def add_inbox(name, user, cap):
    cs("inbox", "add", name, "--email", S.user(user), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--smtp-tls", "starttls",
       "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
       "--ca-file", S.ca_file, "--daily-cap", str(cap), "--password-stdin",
       stdin=S.password + "\n", check=0)


def recorded(name):
    with sqlite3.connect(os.path.join(DATA, "coldseq.db")) as c:
        return c.execute(
            "SELECT m.local_day, count(*), sum(m.outcome = 'sent') FROM "
            "messages m JOIN inboxes i ON i.id = m.inbox_id WHERE i.name "
            "= ? GROUP BY 1", (name,)).fetchall()


def race(name, to, tag):
    """PARALLEL send-tests from inbox name to stack user `to`, started
    while the write lock is held; their (exit status, stderr)."""
    lock = sqlite3.connect(os.path.join(DATA, "coldseq.db"),
                           isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    procs = []
    try:
        for k in range(PARALLEL):
            procs.append(subprocess.Popen(
                [BIN, "--data-dir", DATA, "send-test", "--from", name,
                 "--to", S.user(to), "--subject", "%s %d" % (tag, k)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(HOLD_S)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    out = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        out.append((p.returncode, err))
    return out


def check_round(name, user, to, tag):
    add_inbox(name, user, CAP)
    # one message before: the key for List-Unsubscribe exists (its first
    # use writes), and the day has 1 of CAP
    cs("send-test", "--from", name, "--to", S.user(to), "--subject",
       "%s first" % tag, check=0)
    got = race(name, to, tag)
    ok = [e for rc, e in got if rc == 0]
    capped = [e for rc, e in got if rc != 0]
    for e in capped:
        assert "daily cap of %d" % CAP in e, e
    rows = recorded(name)
    eq(len(rows), 1, "one local day")
    day, n, sent = rows[0]
    assert n <= CAP, ("recorded", n, got)
    eq((n, sent, len(ok), len(capped)),
       (CAP, CAP, CAP - 1, PARALLEL - CAP + 1), "recorded, sent, exits")
    # what arrived: the cap's worth, no more (a late one would show up
    # within a second or two on a loopback stack)
    S.wait_for(to, predicate=lambda m: str(m["Subject"]).startswith(tag),
               timeout=20, count=CAP)
    time.sleep(2)
    arrived = S.wait_for(
        to, predicate=lambda m: str(m["Subject"]).startswith(tag),
        timeout=1, count=0)
    eq(len(arrived), CAP, "delivered")


@test
def parallel_send_tests_never_pass_the_cap():
    check_round("race1", 1, 2, "race-one")


@test
def parallel_send_tests_never_pass_the_cap_again():
    check_round("race2", 3, 4, "race-two")


try:
    S = Stack(users=4)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
