"""The FAKE Gmail and Microsoft submission fronts of tests/lib/fakesubmit.py,
with Python's smtplib against them (no coldseq): what the service tests
rely on must hold here first.

- their EHLO capabilities before and after STARTTLS, the providers' own;
- accepted mail is relayed to the stack (it arrives in the recipient's
  Dovecot mailbox) and filed ONCE in the sender's Sent folder; an unknown
  recipient is refused as the stack refuses it;
- rolling 24-hour counters (messages, recipients) answered at the limit
  with the provider's words, and freed 24 h after each send, by the
  message's Date with clock="date"; Microsoft's per-minute limit and the
  tenant counter shared by two users;
- AUTH: wrong password, Gmail's XOAUTH2 error challenge, a token the stack
  accepts, Microsoft's SMTP-AUTH-disabled and refused-token answers, a
  restricted sender, Gmail's concurrent-session limit;
- every command verb is recorded per user, never a credential."""
import email.utils
import os
import smtplib
import time

import tap
from fakesubmit import FakeSubmission
from mailstack import Stack
from tap import eq, test

S = None
T0 = 1796000000.0  # a fixed instant (2026-11-29): Date-clocked sends


def msg(frm, to, subject, when=None, mid=None):
    mid = mid or email.utils.make_msgid(domain="example.test")
    date = email.utils.formatdate(when if when is not None else time.time())
    return mid, ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
                 "Message-ID: %s\r\n\r\nbody\r\n" % (frm, to, subject, date,
                                                     mid)).encode()


def client(f, user=None, password=None):
    c = smtplib.SMTP("127.0.0.1", f.port, timeout=20)
    c.ehlo()
    c.starttls(context=S.ssl_context())
    c.ehlo()
    if user is not None:
        plain(c, user, password or S.password)
    return c


def plain(c, user, password):
    """One AUTH: PLAIN, or LOGIN where PLAIN is not offered (smtplib's
    login() would try every mechanism in turn)."""
    c.user, c.password = S.user(user), password
    if "PLAIN" in c.esmtp_features.get("auth", "").split():
        c.auth("PLAIN", c.auth_plain)
    else:
        c.auth("LOGIN", c.auth_login)


def send(f, user, to, subject, when=None, rcpts=None):
    """(code, text, message id) of one message from user to stack user to
    (or the addresses rcpts)."""
    mid, raw = msg(S.user(user), S.user(to), subject, when)
    with client(f, user) as c:
        try:
            c.sendmail(S.user(user), rcpts or [S.user(to)], raw)
            return 250, "", mid
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode(), mid
        except smtplib.SMTPSenderRefused as e:
            return e.smtp_code, e.smtp_error.decode(), mid


def _count(user, folder, mid):
    """How many files of a maildir folder hold Message-ID mid."""
    n = 0
    base = S.maildir_of(user, folder)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as fh:
                head = fh.read().split(b"\r\n\r\n", 1)[0].split(b"\n\n")[0]
            if mid.encode() in head:
                n += 1
    return n


@test
def capabilities_are_the_providers():
    for prov, want in (
            ("gmail", ["SIZE 35882577", "8BITMIME",
                       "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN "
                       "OAUTHBEARER XOAUTH", "ENHANCEDSTATUSCODES",
                       "PIPELINING", "CHUNKING", "SMTPUTF8"]),
            ("microsoft", ["SIZE 157286400", "PIPELINING", "DSN",
                           "ENHANCEDSTATUSCODES", "AUTH LOGIN XOAUTH2",
                           "8BITMIME", "BINARYMIME", "CHUNKING",
                           "SMTPUTF8"])):
        with FakeSubmission(S, prov) as f:
            c = smtplib.SMTP("127.0.0.1", f.port, timeout=20)
            code, before = c.ehlo()
            eq(code, 250, prov)
            before = before.decode().splitlines()[1:]
            assert "STARTTLS" in before, before
            assert not [k for k in before if k.startswith("AUTH")], before
            c.starttls(context=S.ssl_context())
            code, after = c.ehlo()
            eq(after.decode().splitlines()[1:], want, prov)
            c.quit()


@test
def accepted_mail_arrives_and_is_in_sent_once():
    for prov, frm, to in (("gmail", 1, 2), ("microsoft", 3, 4)):
        with FakeSubmission(S, prov, users={frm: {}}) as f:
            code, text, mid = send(f, frm, to, "relayed via " + prov)
            eq(code, 250, text)
            S.wait_for(to, predicate=lambda m, mid=mid:
                       m["Message-ID"] == mid, timeout=15)
            eq(_count(frm, "Sent", mid), 1, "copies in %s's Sent" % prov)
            eq([s["message_id"] for s in f.sends(frm)], [mid])
            eq(f.sends(frm)[0]["rcpts"], [S.user(to)])
            # the stack refuses an unknown local user: so does the fake
            with client(f, frm) as c:
                try:
                    c.sendmail(S.user(frm), ["nobody@example.test"],
                               msg(S.user(frm), "nobody@example.test",
                                   "x")[1])
                    raise AssertionError("an unknown user was accepted")
                except smtplib.SMTPRecipientsRefused as e:
                    code = e.recipients["nobody@example.test"][0]
                    eq(code, 550, "unknown recipient")
            eq(len(f.sends(frm)), 1, "a refused message is not counted")


@test
def gmail_rolling_window_refuses_at_the_limit_and_frees_24h_later():
    u, to = 5, 6
    with FakeSubmission(S, "gmail", users={u: {"messages_24h": 3}},
                        clock="date") as f:
        for k in range(3):  # T0, T0+1h, T0+2h
            code, text, _ = send(f, u, to, "g%d" % k, T0 + k * 3600)
            eq(code, 250, text)
        # the fourth inside 24 h of the first: Gmail's answer
        code, text, mid = send(f, u, to, "g3", T0 + 23 * 3600)
        eq(code, 550)
        assert text.startswith("5.4.5 Daily user sending limit exceeded. "
                               "For more information on Gmail sending "
                               "limits go to https://support.google.com/a/"
                               "answer/166852"), text
        eq([(r["code"], r["enhanced"], r["at"]) for r in f.refusals(u)],
           [(550, "5.4.5", "DATA")])
        eq(_count(u, "Sent", mid), 0, "a refused message in Sent")
        eq(f.frees_at(u), T0 + 86400)
        # one second after the first send left the window: room for one
        code, text, _ = send(f, u, to, "g4", T0 + 86400 + 1)
        eq(code, 250, text)
        code, text, _ = send(f, u, to, "g5", T0 + 86400 + 2)
        eq(code, 550, "the second left only at T0+1h+24h")
        code, text, _ = send(f, u, to, "g6", T0 + 86400 + 3601)
        eq(code, 250, text)
        eq(len(f.sends(u)), 5)
        eq(f.in_window(u), 3)
        # everything accepted arrived, nothing refused did
        got = S.wait_for(to, predicate=lambda m: str(m["Subject"]) in
                         ("g0", "g1", "g2", "g4", "g6"), count=5, timeout=15)
        eq(sorted(str(m["Subject"]) for m in got),
           ["g0", "g1", "g2", "g4", "g6"])


@test
def gmail_recipients_count_too():
    u = 7
    with FakeSubmission(S, "gmail", users={u: {"recipients_24h": 3,
                                               "messages_24h": 100}},
                        clock="date") as f:
        code, text, _ = send(f, u, 8, "r1", T0,
                             rcpts=[S.user(8), S.user(9)])
        eq(code, 250, text)
        code, text, _ = send(f, u, 8, "r2", T0 + 60,
                             rcpts=[S.user(8), S.user(9)])
        eq((code, text[:5]), (550, "5.4.5"), "2 + 2 recipients > 3")
        code, text, _ = send(f, u, 8, "r3", T0 + 120)
        eq(code, 250, "2 + 1 recipients fit")


@test
def microsoft_per_minute_quota_and_tenant():
    a, b, to = 9, 10, 11
    with FakeSubmission(S, "microsoft", clock="date",
                        users={a: {"per_minute": 2, "messages_24h": 4,
                                   "tenant": "contoso"},
                               b: {"tenant": "contoso"}},
                        tenants={"contoso": {"external_24h": 6,
                                             "domains": ["contoso.example"]}}
                        ) as f:
        eq(send(f, a, to, "m1", T0)[0], 250)
        eq(send(f, a, to, "m2", T0 + 10)[0], 250)
        code, text, _ = send(f, a, to, "m3", T0 + 20)
        eq(code, 432)
        eq(text, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded")
        eq(send(f, a, to, "m4", T0 + 61)[0], 250, "the minute rolled on")
        eq(send(f, a, to, "m5", T0 + 200)[0], 250)
        code, text, _ = send(f, a, to, "m6", T0 + 400)
        eq(code, 554, "4 messages in 24 h")
        assert text.startswith("5.2.0 STOREDRV.Submission.Exception:"
                               "SubmissionQuotaExceededException; Failed to "
                               "process message due to a permanent "
                               "exception with message"), text
        # the tenant: a's 4 external recipients + b's 2 = 6; the next is over
        eq(send(f, b, to, "t1", T0 + 500)[0], 250)
        eq(send(f, b, to, "t2", T0 + 600)[0], 250)
        code, text, _ = send(f, b, to, "t3", T0 + 700)
        eq((code, text[:7]), (550, "5.7.233"), text)
        assert "tenant external recipient rate limit" in text, text
        eq([r["code"] for r in f.refusals(a)], [432, 554])
        eq([r["code"] for r in f.refusals(b)], [550])
        # 24 h after a's first sends the tenant has room again
        eq(send(f, b, to, "t4", T0 + 86400 + 62)[0], 250)


class _XOAuth2:
    def __init__(self, user, token):
        self.first = "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)
        self.seen = []

    def __call__(self, challenge=None):
        if challenge is None:
            return self.first
        self.seen.append(challenge)
        return ""  # RFC 7628: answer the error challenge with an empty line


def xoauth2(f, user, token):
    """(code, text, challenges seen) of AUTH XOAUTH2 for stack user."""
    a = _XOAuth2(S.user(user), token)
    with client(f) as c:
        try:
            code, text = c.auth("XOAUTH2", a, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode(), a.seen


@test
def gmail_auth_answers():
    u = 12
    with FakeSubmission(S, "gmail", users={u: {"token": "good-token"}}) as f:
        with client(f) as c:
            try:
                plain(c, u, "wrong")
                raise AssertionError("a wrong password was accepted")
            except smtplib.SMTPAuthenticationError as e:
                eq(e.smtp_code, 535)
                assert e.smtp_error.startswith(
                    b"5.7.8 Username and Password not accepted."), e
        code, text, seen = xoauth2(f, u, "bad-token")
        eq(code, 535, text)
        assert text.startswith("5.7.8 Username and Password not accepted"), \
            text
        eq(seen, [b'{"status":"401","schemes":"Bearer",'
                  b'"scope":"https://mail.google.com/"}'])
        code, text, seen = xoauth2(f, u, "good-token")
        eq((code, seen), (235, []), text)
        eq([r["code"] for r in f.refusals(u)], [535, 535])
        verbs = f.verbs(u)
        eq(verbs.count("AUTH"), 3, verbs)
        assert "EHLO" in verbs and "STARTTLS" in verbs, verbs
        rec = repr(f.state)
        for secret in ("wrong", "bad-token", "good-token", S.password):
            assert secret not in rec, "a credential was recorded"
    # token None: whatever token the stack accepts for the user
    with FakeSubmission(S, "gmail", users={u: {}}) as f:
        S.token("stack-token-12", S.user(u))
        try:
            eq(xoauth2(f, u, "stack-token-12")[0], 235)
            eq(xoauth2(f, u, "other-token")[0], 535)
        finally:
            S.revoke("stack-token-12")
        eq(xoauth2(f, u, "stack-token-12")[0], 535, "revoked")


@test
def gmail_concurrent_sessions():
    u = 1
    with FakeSubmission(S, "gmail", users={u: {"max_sessions": 2}}) as f:
        one, two = client(f, u), client(f, u)
        with client(f) as c:
            try:
                plain(c, u, S.password)
                raise AssertionError("a third session was let in")
            except smtplib.SMTPAuthenticationError as e:
                eq(e.smtp_code, 454)
                assert e.smtp_error.startswith(
                    b"4.7.0 Too many login attempts, please try again "
                    b"later."), e
        one.quit()
        time.sleep(0.2)  # the fake notices the QUIT
        with client(f, u):
            pass  # room again
        two.quit()
        eq([r["code"] for r in f.refusals(u)], [454])


@test
def microsoft_auth_and_restricted_sender():
    u = 2
    with FakeSubmission(S, "microsoft", users={u: {"token": "ms-good"}}) as f:
        with client(f) as c:
            try:
                c.login(S.user(u), "wrong")
                raise AssertionError("a wrong password was accepted")
            except smtplib.SMTPAuthenticationError as e:
                eq(e.smtp_code, 535)
                assert e.smtp_error.startswith(
                    b"5.7.3 Authentication unsuccessful"), e
        code, text, seen = xoauth2(f, u, "ms-expired")
        eq((code, seen), (535, []))
        assert text.startswith("5.7.3 Authentication unsuccessful"), text
        eq(xoauth2(f, u, "ms-good")[0], 235)
        f.set(u, smtp_auth=False)
        for how in ("password", "token"):
            if how == "token":
                code, text, _ = xoauth2(f, u, "ms-good")
            else:
                with client(f) as c:
                    try:
                        c.login(S.user(u), S.password)
                        code, text = 235, ""
                    except smtplib.SMTPAuthenticationError as e:
                        code, text = e.smtp_code, e.smtp_error.decode()
            eq(code, 535, how)
            assert text.startswith("5.7.139 Authentication unsuccessful, "
                                   "SmtpClientAuthentication is disabled "
                                   "for the Mailbox"), text
        f.set(u, smtp_auth=True)
        for r, want in (("5.7.708", "5.7.708 Service unavailable. Access "
                         "denied, traffic not accepted from this IP."),
                        ("5.1.8", "5.1.8 Access denied, bad outbound "
                         "sender")):
            f.set(u, restricted=r)
            code, text, _ = send(f, u, 3, "restricted " + r)
            eq(code, 550, r)
            assert text.startswith(want), text
        f.set(u, restricted=None)
        eq(send(f, u, 3, "free again")[0], 250)
        eq([r["enhanced"] for r in f.refusals(u)],
           ["5.7.3", "5.7.3", "5.7.139", "5.7.139", "5.7.708", "5.1.8"])


if __name__ == "__main__":
    S = Stack(users=12).start()
    try:
        tap.main()
    finally:
        S.stop()
