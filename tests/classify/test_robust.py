"""Classifier robustness: hostile and broken messages through the real
binary (`coldseq classify --json`).  Each must give exactly one verdict,
exit 0, and stay within a memory bound (peak RSS of the child, from
wait4's rusage) and a time bound.  The bounds are generous because the
test binary runs under AddressSanitizer; the point is that a 50 MB
message costs about what a 4 MB one does (only CLS_MAX_SCAN bytes are
looked at), not 50 MB and more.
"""
import json
import os
import subprocess
import tempfile
import time

import tap
from tap import eq, test

SRC = os.environ.get("COLDSEQ_SRC", ".")
BIN = os.environ.get("COLDSEQ_BIN") or os.path.join(SRC, "coldseq")
TMP = tempfile.mkdtemp(prefix="coldseq-robust-")
RSS_LIMIT_MB = 160  # measured <= 96 MB under ASan (5,000-deep nesting)
BIG_RSS_LIMIT_MB = 64  # measured 35 MB: holding the 50 MB would exceed it
TIME_LIMIT_S = 60

HEAD = (b"From: Bob <bob@example.org>\r\nTo: inbox@example.com\r\n"
        b"Subject: Re: hello\r\nIn-Reply-To: <m1@example.com>\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n")


def run(name, data, limit=RSS_LIMIT_MB):
    """Classify data; return the results.  The child's peak RSS comes from
    wait4's rusage (stdout and stderr go to files so that nothing but
    wait4 reaps the child).  Linux counts the forked parent's pages in a
    child's high-water mark, so large test data is written by write_big()
    and never held by this process while the child runs."""
    path = os.path.join(TMP, name)
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    outp, errp = path + ".out", path + ".err"
    t0 = time.monotonic()
    with open(outp, "wb") as o, open(errp, "wb") as e:
        p = subprocess.Popen([BIN, "classify", "--json", path], stdout=o,
                             stderr=e)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    took = time.monotonic() - t0
    rss = ru.ru_maxrss / 1024.0
    with open(outp, "rb") as f:
        out = f.read()
    with open(errp, "rb") as f:
        err = f.read()
    eq(p.returncode, 0, "%s: exit status (stderr %s)" % (
        name, err.decode("utf-8", "replace")[-500:]))
    res = json.loads(out.decode("utf-8"))
    assert res, "%s: no result" % name
    print("# %s: %.0f MB peak RSS, %.2f s, kind %s" % (
        name, rss, took, res[0]["kind"]))
    assert rss < limit, "%s: peak RSS %.0f MB >= %d" % (name, rss, limit)
    assert took < TIME_LIMIT_S, "%s: took %.1f s" % (name, took)
    return res


@test
def fifty_megabyte_message():
    path = os.path.join(TMP, "big.eml")
    line = b"A" * 76 + b"\r\n"
    with open(path, "wb") as f:
        f.write(HEAD + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
                b" boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/plain"
                b"\r\n\r\nSounds good.\r\n--X\r\nContent-Type: application/"
                b"octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
        for _ in range(50 * 1024 * 1024 // len(line) // 1024 + 1):
            f.write(line * 1024)
        f.write(b"\r\n--X--\r\n")
    assert os.path.getsize(path) > 50 * 1024 * 1024
    res = run("big.eml", None, BIG_RSS_LIMIT_MB)
    eq(res[0]["kind"], "reply", "kind")


@test
def hundred_deep_multipart_nesting():
    parts = [HEAD, b"MIME-Version: 1.0\r\n"]
    for i in range(100):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n"
                     b"\r\n--b%d\r\n" % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\nok\r\n")
    for i in reversed(range(100)):
        parts.append(b"--b%d--\r\n" % i)
    run("deep.eml", b"".join(parts))
    # and far deeper than any real message: 5,000 levels
    parts = [HEAD, b"MIME-Version: 1.0\r\n"]
    for i in range(5000):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n"
                     b"\r\n--b%d\r\n" % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\nok\r\n")
    run("deeper.eml", b"".join(parts))


@test
def unknown_charsets():
    msg = (b"From: bob@example.org\r\nTo: inbox@example.com\r\n"
           b"Subject: =?x-no-such-charset?B?SGVsbG8=?= =?utf-8?Q?=FF=FE?=\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; "
           b"charset=x-no-such-charset\r\nContent-Transfer-Encoding: "
           b"quoted-printable\r\n\r\nI am out of the office =FF=00=\r\n"
           b"until 14 December 2026.\r\n")
    res = run("charset.eml", msg)
    assert "subject" in res[0]


@test
def ten_thousand_character_header_lines():
    long = b"x" * 10000
    msg = (b"From: bob@example.org\r\nTo: " + b"a@b.example, " * 800 +
           b"c@d.example\r\nSubject: Re: " + long + b"\r\nX-Long: " +
           long + b"\r\nReferences: " + b"<a@b> " * 2000 + b"\r\n"
           b"Content-Type: text/plain; name=\"" + long + b"\"\r\n\r\n"
           + long + b"\r\n")
    eq(run("longlines.eml", msg)[0]["kind"], "reply", "kind")


@test
def nul_bytes():
    msg = (HEAD.replace(b"Subject", b"Sub\0ject") +
           b"\r\nhello\0world\0\0\r\n" + b"\0" * 100000)
    run("nul.eml", msg)


@test
def malformed_mime():
    cases = {
        "noboundary.eml": HEAD + b"Content-Type: multipart/mixed\r\n\r\n"
                                 b"--\r\n--x\r\nfoo\r\n",
        "unterminated.eml": HEAD + b"Content-Type: multipart/report; "
                            b"report-type=delivery-status; boundary=Q\r\n"
                            b"\r\n--Q\r\nContent-Type: message/delivery-"
                            b"status\r\n\r\nFinal-Recipient: rfc822;\r\n"
                            b"Action: failed\r\nStatus: 5.\r\n",
        "badbase64.eml": HEAD + b"Content-Type: text/plain\r\n"
                         b"Content-Transfer-Encoding: base64\r\n\r\n"
                         b"!!!!====####\r\n",
        "nocolon.eml": b"this is not a header\r\nnor this\r\n\r\nbody\r\n",
        "headersonly.eml": b"From: a@b.example\r\nSubject: x",
        "empty.eml": b"",
        "binary.eml": bytes(range(256)) * 400,
        "rfc822loop.eml": HEAD + (b"Content-Type: message/rfc822\r\n\r\n"
                                  * 3000) + b"x\r\n",
    }
    for name, data in sorted(cases.items()):
        run(name, data)


@test
def unreadable_file_is_reported_and_others_run():
    good = os.path.join(TMP, "good.eml")
    with open(good, "wb") as f:
        f.write(HEAD + b"\r\nok\r\n")
    p = subprocess.run([BIN, "classify", "--json",
                        os.path.join(TMP, "missing.eml"), good],
                       capture_output=True, timeout=60)
    eq(p.returncode, 1, "exit status")
    assert b"missing.eml" in p.stderr, p.stderr
    res = json.loads(p.stdout.decode())
    eq(res[0].get("error") is not None, True, "first file: %r" % res)
    eq(res[1]["kind"], "reply", "second file")


@test
def invalid_utf8_becomes_replacement_characters():
    # Raw 8-bit header bytes that are no UTF-8: an overlong '/', a
    # surrogate, a code point past U+10FFFF, a sequence cut short.  The
    # JSON must stay valid UTF-8 (run() decodes it strictly), each bad
    # byte one U+FFFD, the good ones (an e-acute) kept.
    subject = b"a\xc0\xafb\xed\xa0\x80c\xf4\x90\x80\x80d\xe2\x82 \xc3\xa9"
    data = HEAD.replace(b"Subject: Re: hello", b"Subject: " + subject)
    res = run("badutf8.eml", data + b"\r\nok\r\n")
    eq(res[0].get("subject"), "a\ufffd\ufffdb" + "\ufffd" * 3 + "c" +
       "\ufffd" * 4 + "d\ufffd\ufffd \u00e9", "subject")


@test
def stdin_dash():
    p = subprocess.run([BIN, "classify", "-"], input=HEAD + b"\r\nok\r\n",
                       capture_output=True, timeout=60)
    eq(p.returncode, 0, "exit status")
    assert b"reply" in p.stdout, p.stdout


tap.main()
