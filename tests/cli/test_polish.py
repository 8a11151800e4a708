"""Issue 18 polish against the real local mail stack: a TLS mode that does
not match the port is named within seconds with the option that fixes it
(implicit-TLS ports under STARTTLS and the reverse, SMTP and IMAP);
`inbox sync --all` says as it watches which inbox connected and what it
recorded; `inbox list --tag X` with no match names the tag; text tables
line up by display width with non-ASCII names."""
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-polish-")
DATA = os.path.join(TMP, "data")
S = None


def cs(*args, stdin=None, check=None, timeout=120):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=timeout)


def add(name, user, smtp_port, smtp_tls, imap_port, imap_tls, extra=()):
    cs("inbox", "add", name, "--email", S.user(user), "--smtp",
       "127.0.0.1:%d" % smtp_port, "--smtp-tls", smtp_tls, "--imap",
       "127.0.0.1:%d" % imap_port, "--imap-tls", imap_tls, "--ca-file",
       S.ca_file, "--password-stdin", *extra, stdin=S.password + "\n",
       check=0)


def timed_failure(*args):
    t0 = time.monotonic()
    p = cs(*args, check=1, timeout=60)
    took = time.monotonic() - t0
    assert took < 20, "took %.1f s: %s" % (took, p.stderr)
    return p.stderr


@test
def implicit_tls_port_under_starttls_is_named_fast():
    # IMAP: Dovecot's imaps port asked for STARTTLS (SMTP is right)
    add("imaps-as-starttls", 1, S.submission_port, "starttls", S.imaps_port,
        "starttls")
    err = timed_failure("inbox", "test", "imaps-as-starttls")
    assert "speaks TLS at once" in err and "--imap-tls tls" in err, err
    # SMTP: Postfix's submissions (465-style) port asked for STARTTLS
    add("smtps-as-starttls", 2, S.submissions_port, "starttls", S.imaps_port,
        "tls")
    err = timed_failure("inbox", "test", "smtps-as-starttls")
    assert "speaks TLS at once" in err and "--smtp-tls tls" in err, err
    err = timed_failure("send-test", "--from", "smtps-as-starttls", "--to",
                        S.user(3))
    assert "--smtp-tls tls" in err, err


@test
def plaintext_port_under_implicit_tls_is_named():
    add("imap-as-tls", 3, S.submission_port, "starttls", S.imap_port, "tls")
    err = timed_failure("inbox", "test", "imap-as-tls")
    assert "plain text" in err and "* OK" in err, err
    assert "--imap-tls starttls" in err, err
    add("submission-as-tls", 4, S.submission_port, "tls", S.imaps_port,
        "tls")
    err = timed_failure("inbox", "test", "submission-as-tls")
    assert "plain text" in err and "220" in err, err
    assert "--smtp-tls starttls" in err, err


@test
def right_modes_still_work():
    add("good", 5, S.submission_port, "starttls", S.imap_port, "starttls")
    p = cs("inbox", "test", "good", check=0)
    assert "TLSv1." in p.stdout, p.stdout


@test
def inbox_list_names_the_tag_that_matched_nothing():
    p = cs("inbox", "list", "--tag", "nosuchtag", check=0)
    assert 'No inbox has tag "nosuchtag"' in p.stdout, p.stdout
    assert "No inboxes yet" not in p.stdout, p.stdout
    p = cs("inbox", "list", "--tag", "nosuchtag", "--json", check=0)
    eq(p.stdout.strip(), "[]", "json")


@test
def sync_all_says_what_it_does_as_it_watches():
    # only the good inboxes: a fresh data dir with two inboxes on the stack
    data = os.path.join(TMP, "sync")
    coldseq(data, "init", check=0)
    for n in (6, 7):
        coldseq(data, "inbox", "add", "w%d" % n, "--email", S.user(n),
                "--smtp", "127.0.0.1:%d" % S.submission_port, "--imap",
                "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                "--ca-file", S.ca_file, "--password-stdin",
                stdin=S.password + "\n", check=0)
    p = subprocess.Popen([BIN, "--data-dir", data, "inbox", "sync", "--all"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines, q = [], queue.Queue()
    threading.Thread(target=lambda: [q.put(l) for l in p.stdout] and None,
                     daemon=True).start()
    try:
        def wait_line(pred, what, timeout=30):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:  # each line must come as it happens (flushed)
                    line = q.get(timeout=max(0.1, end - time.monotonic()))
                except queue.Empty:
                    break
                lines.append(line.rstrip("\n"))
                if pred(line):
                    return line
            raise AssertionError("no %s line within %d s; got %r" %
                                 (what, timeout, lines))
        seen = set()
        while len(seen) < 2:
            line = wait_line(lambda l: "connected to" in l, "connected")
            seen.add(line.split(":")[0])
        eq(seen, {"w6", "w7"}, "one connected line per inbox")
        assert "watching INBOX" in line, line
        # something arrives for w7: the line saying it was recorded follows
        S.submit(8, S.user(7), ("From: %s\r\nTo: %s\r\nSubject: hello\r\n"
                                "Message-ID: <polish-sync@example.test>\r\n"
                                "\r\nhi\r\n" % (S.user(8), S.user(7))
                                ).encode())
        line = wait_line(lambda l: l.startswith("w7:") and
                         "1 new event(s)" in l, "recorded")
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    eq(p.returncode, 0, "exit after SIGTERM (stderr %s)" % err)


@test
def tables_line_up_by_display_width():
    data = os.path.join(TMP, "table")
    coldseq(data, "init", check=0)
    csv = os.path.join(TMP, "names.csv")
    names = ["Zoë", "東京", "e\u0301", "Ann"]
    with open(csv, "w", encoding="utf-8") as f:
        f.write("email,first_name,company\n")
        for i, n in enumerate(names):
            f.write("c%d@example.com,%s,%s Ltd\n" % (i, n, n))
    coldseq(data, "contacts", "import", csv, check=0)
    out = coldseq(data, "contacts", "list", check=0).stdout.splitlines()

    def columns(line):
        """Display columns where COMPANY and STATUS start."""
        import unicodedata
        col, cols, prev_space = 0, [], False
        for ch in line:
            if ch == " ":
                prev_space = True
            else:
                if prev_space and len(cols) < 8:
                    cols.append(col)
                prev_space = False
            w = 0 if unicodedata.combining(ch) else \
                2 if unicodedata.east_asian_width(ch) in "WF" else 1
            col += w
        return cols
    head = out[0]
    want = [columns(head)[0], columns(head)[1], columns(head)[2]]
    rows = [l for l in out[1:] if l.startswith("c")]
    eq(len(rows), 4, "rows")
    for r in rows:
        # EMAIL, NAME, COMPANY, STATUS: the starts of NAME, COMPANY and
        # STATUS; a name holds no space, a company one ("X Ltd")
        c = columns(r)
        got = [c[0], c[1], c[3]]
        eq(got, want, "columns of %r" % r)


try:
    S = Stack(users=8)
    S.start()
    coldseq(DATA, "init", check=0)
    tap.main()
finally:
    if S:
        S.stop()
