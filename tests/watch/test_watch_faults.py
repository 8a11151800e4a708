"""The watcher under faults, against the real stack: its connection kicked
during IDLE, a 50 MB message and a malformed one in INBOX."""
import email.message
import email.utils
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import tap
from cstool import coldseq, replies
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-watchf-")
DATA = os.path.join(TMP, "data")
S = None


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=180)


def events(*args):
    return replies(DATA, *args)


def drop_in_maildir(user, name, data):
    """Deliver a file straight into the user's INBOX (new/)."""
    root = S.maildir_of(user)
    for sub in ("", "new", "cur", "tmp"):
        if not os.path.isdir(os.path.join(root, sub)):
            os.makedirs(os.path.join(root, sub))
            os.chown(os.path.join(root, sub), 8, 8)
    d = os.path.join(root, "new")
    tmp = os.path.join(root, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, 8, 8)  # mail:mail, as Dovecot delivers
    os.rename(tmp, os.path.join(d, name))


def wait_reply_event(message_id, timeout):
    """Number of reply events for message_id, polled until one shows up."""
    t0 = time.monotonic()
    found = 0
    while time.monotonic() - t0 < timeout:
        found = len([e for e in events("--kind", "reply")
                     if e["message_id"] == message_id])
        if found:
            break
        time.sleep(0.2)
    return found


def reply(frm, to, mid, subject):
    m = email.message.EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    m["In-Reply-To"] = mid
    m.set_content("Sounds good.")
    return m


@test
def huge_and_malformed_messages_do_not_break_sync():
    big = (b"From: someone@example.org\r\nTo: %s\r\nSubject: big\r\n"
           b"Message-ID: <big-1@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
           b"Content-Type: text/plain\r\n\r\nPlease remove me from your "
           b"mailing list.\r\n--XX\r\n"
           b"Content-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           % S.user(1).encode())
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJz\r\n"
    big += line * (50 * 1024 * 1024 // len(line)) + b"--XX--\r\n"
    drop_in_maildir(1, "1.big.vm", big)
    bad = (b"From: \x00\xff broken\r\nSubject: =?bogus?Q?x\r\n"
           b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n" +
           b"A" * 20000 + b"\r\n\x00\x00\r\n")
    drop_in_maildir(1, "2.bad.vm", bad)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = cs("inbox", "sync", "user1", "--once", "--json", check=0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    st = json.loads(p.stdout.splitlines()[-1])
    assert st["fetched"] >= 2, st
    got = {e["message_id"]: e["kind"] for e in events()}
    # the text part of the 50 MB message was read (its BODYSTRUCTURE led
    # to it; the attachment was never transferred)
    eq(got.get("<big-1@example.org>"), "unsubscribe", "big message kind")
    # and what the server sent for that pass stayed far below the message
    # (Dovecot logs out=<bytes> when the session ends)
    outs = [int(m) for m in re.findall(r"imap\(%s\).*Logged out in=\d+ "
                                       r"out=(\d+)" % re.escape(S.user(1)),
                                       S.log("dovecot"))]
    assert outs and max(outs) < 200 * 1024, outs
    # the 50 MB message was fetched size-capped: the ASan build stays far
    # below the message's size (ru_maxrss is in KiB)
    assert max(before, after) < 200 * 1024, "peak RSS %d KiB" % after
    eq(cs("inbox", "sync", "user1", "--once", "--json",
          check=0).stdout.count('"new_events":0'), 1, "nothing twice")


@test
def kicked_idle_connection_reconnects_and_loses_nothing():
    p = cs("send-test", "--from", "user1", "--to", S.user(2), "--subject",
           "Kick test", check=0)
    mid = p.stdout.splitlines()[0].split(" ", 1)[1]
    proc = subprocess.Popen([BIN, "--data-dir", DATA, "inbox", "sync",
                             "user1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        kick(1)
        r = reply(S.user(2), S.user(1), mid, "Re: Kick test")
        S.submit(2, S.user(1), r.as_bytes())
        eq(wait_reply_event(r["Message-ID"], 20), 1,
           "the reply after the kick is recorded once")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "reconnecting" in err, err
    eq(proc.returncode, 0, "exit status")


def kick(user):
    """Drop the user's IMAP connections (exit 68 when none is open)."""
    subprocess.run(["doveadm", "-c", os.path.join(S.dir, "dovecot",
                                                  "dovecot.conf"),
                    "kick", S.user(user)], capture_output=True)


@test
def connection_killed_during_fetch_loses_and_repeats_nothing():
    # 2,000 recent messages for user3: the first pass takes a while
    cs("inbox", "add", "user3", "--email", S.user(3), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)
    for i in range(2000):
        drop_in_maildir(3, "%d.fill%d.vm" % (time.time(), i),
                        b"From: f%d@example.org\r\nTo: %s\r\nSubject: "
                        b"note %d\r\nMessage-ID: <fill-%d@example.org>\r\n"
                        b"\r\nhello\r\n" % (i, S.user(3).encode(), i, i))
    proc = subprocess.Popen([BIN, "--data-dir", DATA, "inbox", "sync",
                             "user3", "--once", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(0.3)
    while proc.poll() is None:  # keep cutting it until the pass fails
        kick(3)
        time.sleep(0.2)
    out, err = proc.communicate(timeout=120)
    eq(proc.returncode, 1, "the interrupted pass reports failure")
    assert "closed the connection" in err or "lost" in err, err
    cs("inbox", "sync", "user3", "--once", check=0)
    got = [e for e in events("--inbox", "user3")
           if (e["message_id"] or "").startswith("<fill-")]
    eq(len(got), 2000, "every message once")
    eq(len({e["message_id"] for e in got}), 2000, "no duplicates")


@test
def dovecot_restart_is_survived():
    p = cs("send-test", "--from", "user1", "--to", S.user(2), "--subject",
           "Restart test", check=0)
    mid = p.stdout.splitlines()[0].split(" ", 1)[1]
    conf = os.path.join(S.dir, "dovecot", "dovecot.conf")
    proc = subprocess.Popen([BIN, "--data-dir", DATA, "inbox", "sync",
                             "user1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        # a real restart: the master stops (every connection drops) and
        # a new one starts on the same configuration
        subprocess.run(["doveadm", "-c", conf, "stop"], check=True,
                       capture_output=True)
        r = reply(S.user(2), S.user(1), mid, "Re: Restart test")
        S.submit(2, S.user(1), r.as_bytes())  # queued by Postfix meanwhile
        # the daemon must not inherit our pipes, or run() waits for ever
        subprocess.run(["dovecot", "-c", conf], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        penalty = os.path.join(S.dir, "dovecot", "run", "anvil-auth-penalty")
        if os.path.exists(penalty):
            os.unlink(penalty)
        S.flush()
        eq(wait_reply_event(r["Message-ID"], 60), 1,
           "the reply after the restart is recorded once")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    eq(proc.returncode, 0, "exit status")


try:
    S = Stack(users=3)
    S.start()
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    cs("inbox", "add", "user1", "--email", S.user(1), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
