"""Classifier on DSNs produced by the real local mail stack (Postfix).

Starts one stack (tests/lib/mailstack.py), sends from user1 to an address
at bounce.test (accepted, then bounced: a failure DSN back to the sender)
and to one at defer.test (deferred: a delay DSN after ~2 s), fetches both
DSNs from user1's INBOX over IMAP and runs `coldseq classify --json` on
the raw bytes through standard input.  The stack is torn down at the end.
"""
import json
import os
import subprocess

import tap
from tap import eq, test

SRC = os.environ.get("COLDSEQ_SRC", ".")
BIN = os.environ.get("COLDSEQ_BIN") or os.path.join(SRC, "coldseq")

try:
    from mailstack import Stack
except ImportError:  # the helper is part of the tree; keep the error
    Stack = None

STACK = None


def stack():
    global STACK
    if STACK is None:
        if Stack is None:
            raise AssertionError("tests/lib/mailstack.py is missing")
        STACK = Stack(users=2)
        STACK.start()
    return STACK


def classify(raw):
    p = subprocess.run([BIN, "classify", "--json", "-"], input=raw,
                       capture_output=True, timeout=60)
    eq(p.returncode, 0, "exit status (stderr %r)" % p.stderr[-500:])
    return json.loads(p.stdout.decode())


def dsn_for(s, rcpt, subject, timeout):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
           "Message-ID: <%s@example.test>\r\n\r\nhello\r\n"
           % (s.user(1), rcpt, subject, subject)).encode()
    s.submit(1, rcpt, msg)

    def is_dsn(m):
        return (m.get_content_type() == "multipart/report"
                and subject in m.as_string())
    [m] = s.wait_for(1, predicate=is_dsn, timeout=timeout)[:1]
    return m.as_bytes()


@test
def postfix_bounce_dsn_is_a_hard_bounce():
    s = stack()
    res = classify(dsn_for(s, "nobody@bounce.test", "stackbounce", 30))
    eq([r["kind"] for r in res], ["bounce"], "kinds")
    eq(res[0]["recipient"].lower(), "nobody@bounce.test", "recipient")
    assert res[0]["status"].startswith("5."), res[0]
    eq(res[0].get("orig_message_id"), "<stackbounce@example.test>",
       "original Message-ID")


@test
def postfix_delay_dsn_is_a_delay():
    s = stack()
    res = classify(dsn_for(s, "later@defer.test", "stackdelay", 60))
    eq([r["kind"] for r in res], ["delay"], "kinds")
    eq(res[0]["recipient"].lower(), "later@defer.test", "recipient")
    eq(res[0]["hard"], False, "hard")


try:
    tap.main()
finally:
    if STACK is not None:
        STACK.stop()
