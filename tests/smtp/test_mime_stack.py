"""Messages as written (issue 18, "Messages look hand-written"), against the
real local Postfix: UTF-8 text goes 8bit with BODY=8BITMIME to a server
that offers 8BITMIME, and as quoted-printable that escapes only what
RFC 2045 requires to one that does not (the stack's submission-7bit port,
Postfix with smtpd_discard_ehlo_keywords=8bitmime).  What is checked is
the delivered maildir file, byte for byte, and the SMTP dialogue (MAIL
FROM) as the fake server of tests/lib/fakesmtp.py records it."""
import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile

import tap
from cstool import coldseq
from fakesmtp import FakeSMTP
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-mime-")
DATA = os.path.join(TMP, "data")
S = None

URL = "https://u.example.test/unsubscribe/F00dCafe?t=Fab_1&x=~2!"
BODY = ("Bonjour Zoé,\n"
        "How are you doing? See you Tuesday! 50% off, \"quoted\" [x] {y}\n"
        "Not interested? Tell us here and we stop writing to you: " + URL +
        "\n")


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=120)


def add_inbox(name, user, port):
    cs("inbox", "add", name, "--email", S.user(user), "--smtp",
       "127.0.0.1:%d" % port, "--smtp-tls", "starttls", "--imap",
       "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls", "--ca-file",
       S.ca_file, "--password-stdin", stdin=S.password + "\n", check=0)


def send(inbox, to):
    p = cs("send-test", "--from", inbox, "--to", to, "--subject",
           "Café?", "--body", BODY, check=0)
    first = p.stdout.splitlines()[0]
    assert first.startswith("Message-ID: <"), p.stdout
    return first.split(" ", 1)[1]


def raw_file(user, mid, folder="INBOX"):
    """The bytes of the maildir file holding Message-ID mid (line ends
    as LF, as Dovecot stores them)."""
    S.wait_for(user, folder=folder,
               predicate=lambda m: m.get("Message-ID") == mid, timeout=15)
    base = S.maildir_of(user, folder)
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(base, sub)):
            with open(os.path.join(base, sub, name), "rb") as f:
                data = f.read()
            if ("\nMessage-ID: %s\n" % mid).encode() in \
                    data.replace(b"\r\n", b"\n"):
                return data.replace(b"\r\n", b"\n")
    raise AssertionError("no file with %s in %s" % (mid, base))


def split(raw):
    head, _, body = raw.partition(b"\n\n")
    return head.decode("ascii"), body


@test
def utf8_text_goes_8bit_as_written():
    add_inbox("eight", 1, S.submission_port)
    mid = send("eight", S.user(2))
    raw = raw_file(2, mid)
    head, body = split(raw)
    assert "\nContent-Transfer-Encoding: 8bit\n" in head + "\n", head
    assert "quoted-printable" not in head, head
    # the text bytes as written, the URL intact
    eq(body.decode("utf-8"), BODY, "body bytes")
    assert URL.encode() in body, body
    for esc in (b"=3F", b"=21", b"=46", b"=C3"):
        assert esc not in body, (esc, body)
    # the copy APPENDed to the sender's Sent folder is the same 8bit text
    sent = raw_file(1, mid, folder="Sent")
    eq(split(sent)[1], body, "Sent copy body")


@test
def server_without_8bitmime_gets_minimal_qp():
    add_inbox("seven", 3, S.submission_7bit_port)
    mid = send("seven", S.user(4))
    raw = raw_file(4, mid)
    head, body = split(raw)
    assert "\nContent-Transfer-Encoding: quoted-printable\n" in head + "\n", \
        head
    assert max(raw) < 0x80, "8bit byte sent to a server without 8BITMIME"
    lines = body.decode("ascii").split("\n")
    for line in lines:
        assert len(line) <= 76, "QP line over 76: %r" % line
        assert not line.endswith((" ", "\t")), "trailing space: %r" % line
    # only the escapes RFC 2045 6.7 requires: "=", non-ASCII, and white
    # space at the end of a line
    for line in lines:
        for m in re.finditer(r"=([0-9A-F]{2})", line):
            c = int(m.group(1), 16)
            at_end = m.end() == len(line)
            assert c == 0x3D or c >= 0x7F or c < 0x20 or \
                (c in (0x20, 0x09) and at_end), \
                "needless escape %s in %r" % (m.group(0), line)
    # punctuation as written, the URL on one line (its "=" as "=3D")
    text = body.decode("ascii")
    assert "doing? See you Tuesday! 50% off" in text, text
    assert URL.replace("=", "=3D") in text, text
    assert "Bonjour Zo=C3=A9," in text, text
    # and it decodes to the same text
    m = email.message_from_bytes(raw, policy=email.policy.default)
    eq(m.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n"),
       BODY, "decoded body")


@test
def mail_from_declares_8bitmime_only_when_offered():
    cs("inbox", "add", "fake", "--email", "sender@fake.example", "--smtp",
       "127.0.0.1:1", "--smtp-tls", "tls", "--imap", "127.0.0.1:2",
       "--password-stdin", stdin="pw-for-fake\n", check=0)
    for offered in (True, False):
        with FakeSMTP("ok", ehlo=["8BITMIME"] if offered else []) as f:
            cs("inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % f.port,
               "--ca-file", f.ca_file, check=0)
            cs("send-test", "--from", "fake", "--to", "rcpt@fake.example",
               "--body", BODY, check=0)
        mail = [c for c in f.commands if c.upper().startswith("MAIL ")]
        eq(len(f.messages), 1, "messages received")
        data = f.messages[0]
        if offered:
            eq(mail, ["MAIL FROM:<sender@fake.example> BODY=8BITMIME"],
               "MAIL with 8BITMIME offered")
            assert "Zoé".encode() in data, data
            assert b"Content-Transfer-Encoding: 8bit" in data, data
        else:
            eq(mail, ["MAIL FROM:<sender@fake.example>"],
               "MAIL without 8BITMIME")
            assert max(data) < 0x80, data
            assert b"Content-Transfer-Encoding: quoted-printable" in data
            assert b"Zo=C3=A9" in data, data
    # ASCII text needs no declaration anywhere
    with FakeSMTP("ok", ehlo=["8BITMIME"]) as f:
        cs("inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % f.port,
           "--ca-file", f.ca_file, check=0)
        cs("send-test", "--from", "fake", "--to", "rcpt@fake.example",
           "--body", "Plain ASCII, doing?\n", check=0)
    eq([c for c in f.commands if c.upper().startswith("MAIL ")],
       ["MAIL FROM:<sender@fake.example>"], "MAIL for ASCII text")
    assert b"Content-Transfer-Encoding: 7bit" in f.messages[0], f.messages
    # the text ends as written: no empty line added before the final dot
    assert f.messages[0].endswith(b"\r\n\r\nPlain ASCII, doing?\r\n"), \
        f.messages


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
