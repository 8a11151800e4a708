"""Provider answers at submission (issue 21) that the real Postfix does not
give, played by tests/lib/fakesmtp.py against the real coldseq binary
(send-test): the XOAUTH2 error challenge (RFC 7628 3.2.2) and what an
answer does to the inbox (paused until the quota frees, auth_failed with a
remedy, SMTP AUTH disabled: paused, not auth_failed), shown by `inbox
show` and `status`; and the Basic-authentication warning for a Microsoft
inbox on a password."""
import json
import os
import shutil
import sqlite3
import tempfile

import tap
from cstool import coldseq
from fakesmtp import FakeSMTP
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-answers-")
TOKEN = "ya29.tok-for-fake-0123456789"


def data(name):
    return os.path.join(TMP, name)


def cs(d, *args, stdin=None, check=None):
    return coldseq(data(d), *args, stdin=stdin, check=check, timeout=60)


def setup(d, auth="password", provider="generic"):
    """A fresh data dir d with inbox 'fake' (auth, provider)."""
    cs(d, "init", check=0)
    cs(d, "config", "set", "smtp.command_timeout", "5", check=0)
    cs(d, "inbox", "add", "fake", "--email", "sender@fake.example",
       "--smtp", "127.0.0.1:1", "--smtp-tls", "tls", "--imap",
       "127.0.0.1:2", "--auth", auth, "--provider", provider,
       "--password-stdin",
       stdin=(TOKEN if auth == "oauth2" else "pw-for-fake") + "\n",
       check=0)


def send_via(d, fake):
    cs(d, "inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % fake.port,
       "--ca-file", fake.ca_file, check=0)
    p = cs(d, "send-test", "--from", "fake", "--to", "rcpt@fake.example",
           "--json")
    return p, json.loads(p.stdout)


def inbox_row(d):
    con = sqlite3.connect(os.path.join(data(d), "coldseq.db"))
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT status, paused_reason, paused_until, "
                           "auth_state, auth_reason FROM inboxes WHERE "
                           "name = 'fake'").fetchone())
    con.close()
    return row


def after_auth_xoauth2(commands):
    i = next(k for k, c in enumerate(commands)
             if c.upper().startswith("AUTH XOAUTH2"))
    return commands[i + 1:]


@test
def xoauth2_error_challenge_gets_an_empty_line_and_final_code_decides():
    setup("x401", auth="oauth2")
    with FakeSMTP("xoauth2_challenge") as f:
        p, doc = send_via("x401", f)
    # RFC 7628 3.2.2: the client's answer to the challenge is empty
    rest = after_auth_xoauth2(f.commands)
    eq(rest[0], "", "the empty response to the challenge")
    assert not any(c.upper().startswith("MAIL") for c in f.commands)
    eq(doc["outcome"], "inbox_failure", "outcome")
    eq(doc["code"], 535, "the final reply's code, not 334")
    assert "5.7.8" in doc["reply"], doc
    assert "status 401" in doc["error"], doc
    assert "mail.google.com" in doc["error"], doc
    for out in (p.stdout, p.stderr):
        assert TOKEN not in out
    # status 401 is a refused token: not the credentials' fault here
    eq(inbox_row("x401")["auth_state"], "ok", "auth_state")


@test
def xoauth2_challenge_status_400_is_bad_credentials():
    setup("x400", auth="oauth2")
    with FakeSMTP("xoauth2_challenge",
                  challenge={"status": "400", "schemes": "Bearer"}) as f:
        p, doc = send_via("x400", f)
    eq(after_auth_xoauth2(f.commands)[0], "", "the empty response")
    eq(doc["code"], 535, "code")
    row = inbox_row("x400")
    eq(row["auth_state"], "auth_failed", "auth_state")
    assert "535 5.7.8" in row["auth_reason"], row
    assert "app password" in row["auth_reason"], row
    show = cs("x400", "inbox", "show", "fake", check=0).stdout
    assert "sign-in:      auth_failed: 535 5.7.8" in show, show


@test
def xoauth2_challenge_then_454_backs_off_without_pause():
    setup("x454", auth="oauth2")
    with FakeSMTP("xoauth2_challenge",
                  auth_final="454 4.7.0 Too many login attempts, please "
                  "try again later. - gsmtp") as f:
        p, doc = send_via("x454", f)
    eq(after_auth_xoauth2(f.commands)[0], "", "the empty response")
    eq(doc["outcome"], "deferred", "outcome")
    eq(doc["code"], 454, "code")
    row = inbox_row("x454")
    eq((row["status"], row["auth_state"]), ("active", "ok"),
       "neither paused nor auth_failed")


@test
def gmail_daily_limit_pauses_until_the_window_frees():
    setup("quota", provider="google")
    with FakeSMTP("ok") as f:
        p0, d0 = send_via("quota", f)
    eq(d0["outcome"], "sent", "the first message goes")
    with FakeSMTP("ok", mail_reply="550 5.4.5 Daily user sending limit "
                  "exceeded. For more information on Gmail sending limits "
                  "go to https://support.google.com/a/answer/166852 - "
                  "gsmtp") as f:
        p, doc = send_via("quota", f)
    eq(doc["outcome"], "rejected_policy", "outcome")
    row = inbox_row("quota")
    eq(row["status"], "paused", "status")
    con = sqlite3.connect(os.path.join(data("quota"), "coldseq.db"))
    first = con.execute("SELECT created_at FROM messages WHERE message_id "
                        "= ?", (d0["message_id"],)).fetchone()[0]
    con.close()
    # the first message of the last 24 hours + 24 hours
    eq(row["paused_until"], first + 86400000, "paused_until")
    assert row["paused_reason"].startswith(
        "550 5.4.5 Daily user sending limit exceeded"), row
    assert "(Google): the provider's 24-hour sending limit" in \
        row["paused_reason"], row
    show = cs("quota", "inbox", "show", "fake", check=0).stdout
    assert "paused: 550 5.4.5 Daily user sending limit" in show, show
    assert "paused until:" in show, show
    st = cs("quota", "status", check=0).stdout
    assert "550 5.4.5 Daily user sending limit exceeded" in st, st
    # never retried before it frees: the next send-test is refused by
    # the pause, nothing reaches the server
    with FakeSMTP("ok") as f:
        p2 = cs("quota", "send-test", "--from", "fake", "--to",
                "rcpt@fake.example", "--json")
    eq(f.messages, [], "nothing sent while paused")


@test
def smtp_auth_disabled_pauses_not_auth_failed():
    setup("m139", provider="microsoft")
    with FakeSMTP("ok", auth_reply="535 5.7.139 Authentication "
                  "unsuccessful, SmtpClientAuthentication is disabled for "
                  "the Mailbox. Visit https://aka.ms/smtp_auth_disabled "
                  "for more information.") as f:
        p, doc = send_via("m139", f)
    eq(doc["outcome"], "inbox_failure", "outcome")
    row = inbox_row("m139")
    eq((row["status"], row["auth_state"]), ("paused", "ok"), "state")
    eq(row["paused_until"], None, "no end: until the user resumes")
    assert "Set-CASMailbox -SmtpClientAuthenticationDisabled $false" in \
        row["paused_reason"], row


@test
def microsoft_535_5_7_3_on_a_password_is_auth_failed():
    # a refused token is refreshed; a refused password cannot be
    setup("m573", provider="microsoft")
    with FakeSMTP("ok", auth_reply="535 5.7.3 Authentication "
                  "unsuccessful [SN4PR0201CA0000.namprd02.prod.outlook."
                  "com]") as f:
        p, doc = send_via("m573", f)
    eq(doc["code"], 535, "code")
    row = inbox_row("m573")
    eq((row["status"], row["auth_state"]), ("active", "auth_failed"),
       "state")
    assert "Basic authentication for SMTP AUTH is being retired" in \
        row["auth_reason"], row
    # a new password ends it
    cs("m573", "inbox", "set", "fake", "--password-stdin",
       stdin="new-pw\n", check=0)
    eq(inbox_row("m573")["auth_state"], "ok", "after a new password")


@test
def microsoft_password_inbox_is_warned_about_basic_auth():
    d = "basic"
    cs(d, "init", check=0)
    p = cs(d, "inbox", "add", "ms", "--email", "a@contoso.example",
           "--smtp", "127.0.0.1:587", "--imap", "127.0.0.1:993",
           "--provider", "microsoft", "--password-stdin", stdin="pw\n",
           check=0)
    want = "Microsoft is retiring Basic authentication for SMTP AUTH; " \
        "connect with --auth oauth2"
    assert want in p.stderr, p.stderr
    assert want in cs(d, "inbox", "set", "ms", "--daily-cap", "20",
                      check=0).stderr
    assert want in cs(d, "inbox", "show", "ms", check=0).stdout
    assert want in cs(d, "status", check=0).stdout
    # a generic inbox on a password is not warned
    p = cs(d, "inbox", "add", "gen", "--email", "b@example.org", "--smtp",
           "127.0.0.1:587", "--imap", "127.0.0.1:993", "--password-stdin",
           stdin="pw\n", check=0)
    assert "Basic authentication" not in p.stderr, p.stderr


try:
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
