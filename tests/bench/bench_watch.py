"""bench_watch.py - the watcher's costs against the real stack.

1. Incremental sync with no new mail on a 1,000- and a 100,000-message
   INBOX: the two times should be about equal (only UIDs above the last
   one are asked for).
2. Reply-to-event latency through IDLE (median of N).
3. Threads and memory of one `inbox sync --all` watching many inboxes.

Run from the repository root with the release build: python3
tests/bench/bench_watch.py [--inboxes 500]
"""
import argparse
import email.message
import email.utils
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from mailstack import Stack  # noqa: E402

BIN = os.path.abspath("coldseq")


def cs(data, *args, stdin=None):
    p = subprocess.run([BIN, "--data-dir", data] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise SystemExit("coldseq %s failed: %s" % (" ".join(args), p.stderr))
    return p


def fill(s, user, n):
    """n small messages straight into the maildir, dated 60 days ago so a
    first sync (which reads back to the day before the inbox was added)
    leaves them alone."""
    root = s.maildir_of(user)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        os.chown(os.path.join(root, sub), 8, 8)
    old = time.time() - 60 * 86400
    for i in range(n):
        path = os.path.join(root, "cur", "%d.M%dP1.bench:2,S" % (old, i))
        with open(path, "wb") as f:
            f.write(b"From: filler@example.org\r\nTo: x@example.test\r\n"
                    b"Subject: filler %d\r\nMessage-ID: <fill%d@example.org>"
                    b"\r\n\r\nold mail\r\n" % (i, i))
        os.utime(path, (old, old))
    subprocess.run(["chown", "-R", "mail:mail", root], check=True)


def add(data, s, n):
    cs(data, "inbox", "add", "u%d" % n, "--email", s.user(n), "--smtp",
       "127.0.0.1:%d" % s.submission_port, "--imap",
       "127.0.0.1:%d" % s.imaps_port, "--imap-tls", "tls", "--ca-file",
       s.ca_file, "--password-stdin", stdin=s.password + "\n")


def timed_sync(data, name, runs=5):
    ts = []
    for _ in range(runs):
        t0 = time.monotonic()
        cs(data, "inbox", "sync", name, "--once")
        ts.append(time.monotonic() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inboxes", type=int, default=500)
    ap.add_argument("--big", type=int, default=100000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="coldseq-bw-")
    data = os.path.join(tmp, "d")
    s = Stack(users=max(3, a.inboxes))
    s.start()
    try:
        cs(data, "init")
        fill(s, 1, 1000)
        fill(s, 2, a.big)
        add(data, s, 1)
        add(data, s, 2)
        cs(data, "inbox", "sync", "u1", "--once")  # Dovecot indexes
        cs(data, "inbox", "sync", "u2", "--once")
        t1 = timed_sync(data, "u1")
        t2 = timed_sync(data, "u2")
        print("watch: sync, no new mail, 1,000-message INBOX:   %.3f s" % t1)
        print("watch: sync, no new mail, %s-message INBOX: %.3f s"
              % (format(a.big, ","), t2))
        print("watch: ratio big/small = %.2f (about 1 expected)" % (t2 / t1))

        # IDLE latency
        p = cs(data, "send-test", "--from", "u1", "--to", s.user(3))
        mid = p.stdout.split()[1]
        w = subprocess.Popen([BIN, "--data-dir", data, "inbox", "sync",
                              "u1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(2)
        lat = []
        for i in range(10):
            m = email.message.EmailMessage()
            m["From"] = s.user(3)
            m["To"] = s.user(1)
            m["Subject"] = "Re: test %d" % i
            m["Message-ID"] = email.utils.make_msgid(domain="example.test")
            m["In-Reply-To"] = mid
            m["Date"] = email.utils.formatdate()
            m.set_content("reply")
            t0 = time.monotonic()
            s.submit(3, s.user(1), m.as_bytes())
            while True:
                out = cs(data, "replies", "--json", "--kind", "reply").stdout
                if m["Message-ID"] in out:
                    break
                if time.monotonic() - t0 > 30:
                    raise SystemExit("no event within 30 s")
                time.sleep(0.02)
            lat.append(time.monotonic() - t0)
        w.send_signal(signal.SIGTERM)
        w.wait(30)
        print("watch: reply-to-event latency through IDLE: median %.0f ms, "
              "max %.0f ms (10 replies; includes Postfix delivery and the "
              "polling of 'replies')" % (statistics.median(lat) * 1000,
                                         max(lat) * 1000))

        # many inboxes on one watcher
        csv = os.path.join(tmp, "inboxes.csv")
        with open(csv, "w") as f:
            f.write("name,email,smtp,imap,imap_tls,ca_file,password\n")
            for n in range(3, a.inboxes + 1):
                f.write("u%d,%s,127.0.0.1:%d,127.0.0.1:%d,tls,%s,%s\n" % (
                    n, s.user(n), s.submission_port, s.imaps_port,
                    s.ca_file, s.password))
        cs(data, "inbox", "import", csv)
        w = subprocess.Popen([BIN, "--data-dir", data, "inbox", "sync",
                              "--all"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        time.sleep(5)
        while time.monotonic() - t0 < 600:
            n = int(subprocess.run(
                ["sh", "-c", "ss -tn state established '( dport = :%d )' "
                 "| tail -n +2 | wc -l" % s.imaps_port],
                capture_output=True, text=True).stdout.strip() or 0)
            if n >= a.inboxes:
                break
            time.sleep(1)
        took = time.monotonic() - t0
        st = open("/proc/%d/status" % w.pid).read()
        fields = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
        print("watch: %d inboxes watched by one process: %s threads, "
              "VmRSS %s, %d IMAP connections after %.0f s" % (
                  a.inboxes, fields["Threads"].strip(),
                  fields["VmRSS"].strip(), n, took))
        w.send_signal(signal.SIGTERM)
        w.wait(120)
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
