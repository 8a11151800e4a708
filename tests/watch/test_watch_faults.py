"""The watcher under faults, against the real stack: its connection kicked
during IDLE, a 50 MB message and a malformed one in INBOX."""
import email.message
import email.utils
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import tap
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-watchf-")
DATA = os.path.join(TMP, "data")
S = None


def cs(*args, stdin=None, check=None):
    p = subprocess.run([BIN, "--data-dir", DATA] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=180)
    if check is not None and p.returncode != check:
        raise AssertionError("coldseq %s: exit %d (want %d)\n%s%s" % (
            " ".join(args), p.returncode, check, p.stdout, p.stderr))
    return p


def events(*args):
    p = cs("replies", "--json", *args, check=0)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


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
           b"Content-Type: text/plain\r\n\r\nsee attachment\r\n--XX\r\n"
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
    got = {e["message_id"] for e in events()}
    assert "<big-1@example.org>" in got, got
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
        subprocess.run(["doveadm", "-c", os.path.join(S.dir, "dovecot",
                                                      "dovecot.conf"),
                        "kick", S.user(1)], check=True, capture_output=True)
        r = reply(S.user(2), S.user(1), mid, "Re: Kick test")
        S.submit(2, S.user(1), r.as_bytes())
        t0 = time.monotonic()
        found = 0
        while time.monotonic() - t0 < 20:
            found = len([e for e in events("--kind", "reply")
                         if e["message_id"] == r["Message-ID"]])
            if found:
                break
            time.sleep(0.2)
        eq(found, 1, "the reply after the kick is recorded once")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "reconnecting" in err, err
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
