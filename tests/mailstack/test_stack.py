"""test_stack.py - the local mail stack's own tests (issue 4).

One stack (default 12 users) serves most tests; each test uses its own
users so that DSNs and deliveries of one test never show up in another's
folders.  A second small stack (--users 2) is started for the --users,
"up on a running DIR" and "down leaves nothing" tests, and a third one is
made to fail on purpose.  Everything is checked by its effect: what arrived
in which folder (read over IMAP), which SMTP reply came back, what /proc
shows.
"""
import imaplib
import json
import os
import re
import secrets
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import tap
from mailstack import Stack, read_env

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import stackctl  # noqa: E402  (for its /proc helpers)

S = Stack()


def script(name, *args, env=None):
    """Run a stack script; (exit status, stdout, stderr)."""
    p = subprocess.run([os.path.join(HERE, name)] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def message(subject, frm, to, extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\n"
            "%s\r\nbody of %s\r\n" % (frm, to, subject, secrets.token_hex(8),
                                      extra, subject)).encode()


def unique(what):
    return "%s %s" % (what, secrets.token_hex(4))


def subject_is(s):
    return lambda m: m["Subject"] == s


def send_raw(c, frm, rcpts, data):
    """MAIL, RCPT..., DATA on an smtplib client; returns the DATA reply
    (code, text) so a test can see the queue id."""
    code, msg = c.mail(frm)
    tap.eq(code, 250, "MAIL FROM reply (%r)" % msg)
    for r in rcpts:
        code, msg = c.rcpt(r)
        tap.eq(code, 250, "RCPT %s reply (%r)" % (r, msg))
    return c.data(data)


def queue_id(data_reply):
    m = re.search(rb"queued as ([0-9A-F]+)", data_reply[1])
    assert m, "no queue id in %r" % (data_reply,)
    return m.group(1).decode()


def dsn_blocks(msg):
    """The header blocks of a DSN's message/delivery-status part."""
    assert msg.get_content_type() == "multipart/report", \
        msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            return part.get_payload()
    raise AssertionError("no message/delivery-status part")


def is_dsn_for(rcpt, action):
    def pred(m):
        if m.get_content_type() != "multipart/report":
            return False
        return any(rcpt in (b.get("Final-Recipient") or "")
                   and b.get("Action") == action for b in dsn_blocks(m))
    return pred


def listening_addresses(pids):
    """Local (address, port) of every listening TCP socket the pids hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if t.startswith("socket:["):
                    inodes.add(t[8:-1])
        except OSError:
            continue
    out = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:   # 0A = LISTEN
                continue
            addr, port = f[1].split(":")
            if v6:
                out.add(("ipv6:" + addr, int(port, 16)))
            else:
                ip = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
                out.add((ip, int(port, 16)))
    return out


def stack_sessions(d):
    with open(os.path.join(d, "stack.json")) as f:
        return stackctl.state_sessions(json.load(f))


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


# ----------------------------------------------------------- the env file

@tap.test
def env_file_and_loopback_only():
    e = read_env(os.path.join(S.dir, "env"))
    for k in ("HOST", "IMAP_PORT", "IMAPS_PORT", "SUBMISSION_PORT",
              "SUBMISSIONS_PORT", "SUBMISSION_7BIT_PORT", "SMTP_PORT", "CA_FILE", "USERS",
              "PASSWORD", "MAILDIR", "OAUTH_PORT"):
        assert e.get("MAILSTACK_" + k), "MAILSTACK_%s missing" % k
    tap.eq(e["MAILSTACK_HOST"], "127.0.0.1", "host")
    tap.eq(e["MAILSTACK_USERS"], "12", "default number of users")
    ports = [S.imap_port, S.imaps_port, S.submission_port,
             S.submissions_port, S.submission_7bit_port, S.smtp_port,
             S.oauth_port]
    tap.eq(len(set(ports)), len(ports), "distinct ports")
    assert os.path.isdir(S.maildir), S.maildir
    pem = open(S.ca_file).read()
    assert "BEGIN CERTIFICATE" in pem, S.ca_file
    # The file is shell-sourceable and gives the same values.
    out = subprocess.run(["sh", "-c", '. "$1/env" && echo "$MAILSTACK_IMAPS'
                          '_PORT $MAILSTACK_PASSWORD"', "sh", S.dir],
                         capture_output=True, check=True).stdout.decode()
    tap.eq(out.split(), [str(S.imaps_port), S.password], "sourced values")
    # Every listening socket of every stack process is on 127.0.0.1.
    pids = stackctl.session_members(stack_sessions(S.dir))
    listening = listening_addresses(pids)
    tap.eq({a for a, _ in listening}, {"127.0.0.1"}, "listen addresses")
    assert set(ports) <= {p for _, p in listening}, (ports, listening)


# ---------------------------------------------------------- submission

@tap.test
def submission_starttls_delivers_to_other_users_inbox():
    subj = unique("starttls")
    refused = S.submit(1, S.user(2), message(subj, S.user(1), S.user(2)),
                       port="starttls")
    tap.eq(refused, {}, "refused recipients")
    [m] = S.wait_for(2, predicate=subject_is(subj))
    tap.eq(m["From"], S.user(1), "From")
    submitted(m)


def submitted(m):
    """Assert that m came in over TLS with AUTH: Postfix's Received line
    says "using TLS..." and "with ESMTPSA"."""
    received = [r for r in m.get_all("Received") if "ESMTP" in r]
    assert len(received) == 1, m.get_all("Received")
    assert "with ESMTPSA" in received[0], received   # authenticated
    assert "using TLS" in received[0], received      # over TLS


@tap.test
def submission_implicit_tls_delivers_to_other_users_inbox():
    subj = unique("implicit")
    S.submit(1, S.user(3), message(subj, S.user(1), S.user(3)),
             port="implicit")
    [m] = S.wait_for(3, predicate=subject_is(subj))
    submitted(m)
    # Also on disk, in the maildir the env file names.
    new = os.listdir(os.path.join(S.maildir_of(3), "new")) + \
        os.listdir(os.path.join(S.maildir_of(3), "cur"))
    assert new, "nothing in %s" % S.maildir_of(3)


@tap.test
def submission_requires_tls_and_auth():
    with smtplib.SMTP(S.host, S.submission_port, timeout=10) as c:
        c.ehlo()
        assert not c.has_extn("auth"), "AUTH offered before STARTTLS"
        assert c.has_extn("starttls")
        code, msg = c.mail(S.user(1))
        tap.eq(code, 530, "MAIL before STARTTLS (%r)" % msg)
    with S.smtp(None, "starttls") as c:
        assert "XOAUTH2" in c.esmtp_features["auth"], c.esmtp_features
        code, msg = c.mail(S.user(1))
        if code == 250:
            code, msg = c.rcpt(S.user(2))
        assert code >= 500, "unauthenticated submission got %d %r" % (
            code, msg)
        c.rset()
        try:
            c.login(S.user(1), "wrong-password")
            tap.fail("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            tap.eq(e.smtp_code, 535, "wrong password reply")


@tap.test
def mx_port_takes_mail_without_auth():
    subj = unique("mx")
    with S.smtp(None, "mx") as c:
        c.ehlo()
        assert not c.has_extn("auth"), "AUTH offered on the MX port"
        send_raw(c, "someone@outside.test", [S.user(4)],
                 message(subj, "someone@outside.test", S.user(4)))
    S.wait_for(4, predicate=subject_is(subj))


@tap.test
def unknown_user_refused_at_rcpt_with_550_511():
    for port in ("starttls", "mx"):
        with S.smtp(1 if port == "starttls" else None, port) as c:
            c.mail(S.user(1))
            code, msg = c.rcpt("unknown@example.test")
            tap.eq(code, 550, "RCPT unknown@example.test on %s" % port)
            assert msg.startswith(b"5.1.1"), msg


@tap.test
def nothing_is_delivered_off_the_machine():
    with S.smtp(1, "starttls") as c:
        c.mail(S.user(1))
        code, msg = c.rcpt("someone@gmail.com")
        assert code >= 500, (code, msg)


# ---------------------------------------------------------------- DSNs

@tap.test
def bounce_test_gives_dsn_in_senders_inbox():
    subj = unique("to be bounced")
    tap.eq(S.submit(5, "someone@bounce.test",
                    message(subj, S.user(5), "someone@bounce.test")),
           {}, "refused at submission")
    [dsn] = S.wait_for(5, predicate=is_dsn_for("someone@bounce.test",
                                               "failed"))
    blocks = dsn_blocks(dsn)
    [rcpt] = [b for b in blocks if b.get("Final-Recipient")]
    assert "someone@bounce.test" in rcpt["Final-Recipient"], rcpt
    assert re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", rcpt["Status"]), rcpt
    assert rcpt["Diagnostic-Code"].startswith("smtp; 550"), rcpt
    # The original rides along.
    orig = [p for p in dsn.walk() if p.get_content_type() ==
            "message/rfc822"]
    assert orig and orig[0].get_payload()[0]["Subject"] == subj


DEFER = {}


@tap.test
def defer_test_is_deferred_then_delay_dsn():
    subj = unique("to be deferred")
    with S.smtp(6, "starttls") as c:
        reply = send_raw(c, S.user(6), ["x@defer.test"],
                         message(subj, S.user(6), "x@defer.test"))
    tap.eq(reply[0], 250, "DATA reply")
    qid = DEFER["qid"] = queue_id(reply)
    # Deferred with a 4.x.x status (Postfix's log of the attempt).
    pat = re.compile(r"%s: to=<x@defer.test>.*status=deferred .*said: "
                     r"450 4\.\d+\.\d+" % qid)
    deadline = time.monotonic() + 5
    while not pat.search(S.log("postfix")):
        assert time.monotonic() < deadline, "no deferral logged for " + qid
        time.sleep(0.05)
    [dsn] = S.wait_for(6, predicate=is_dsn_for("x@defer.test", "delayed"))
    [rcpt] = [b for b in dsn_blocks(dsn) if b.get("Final-Recipient")]
    assert re.fullmatch(r"4\.\d{1,3}\.\d{1,3}", rcpt["Status"]), rcpt
    assert "Delayed Mail" in dsn["Subject"], dsn["Subject"]


@tap.test
def flush_retries_the_queue_now():
    qid = DEFER.get("qid")
    assert qid, "needs the deferred message of the previous test"
    conf = os.path.join(S.dir, "postfix", "conf")
    pat = re.compile(r"%s: to=<x@defer.test>.*status=deferred" % qid)

    def attempts():
        return len(pat.findall(S.log("postfix")))

    def in_deferred_queue():
        out = subprocess.run(["postqueue", "-c", conf, "-j"],
                             capture_output=True, check=True).stdout
        return any(json.loads(line).get("queue_id") == qid and
                   json.loads(line).get("queue_name") == "deferred"
                   for line in out.splitlines())
    # Right after an attempt the next one is at least minimal_backoff_time
    # (1 s) away; after flush it comes at once.
    n = attempts()
    deadline = time.monotonic() + 5
    while attempts() == n or not in_deferred_queue():
        assert time.monotonic() < deadline, "no new attempt for " + qid
        time.sleep(0.01)
    n = attempts()
    t0 = time.monotonic()
    S.flush()
    while attempts() == n:
        assert time.monotonic() - t0 < 0.8, \
            "flush did not cause an attempt within 0.8 s"
        time.sleep(0.01)


# ---------------------------------------------------------------- Junk

@tap.test
def junk_header_files_into_junk():
    tagged, plain = unique("tagged"), unique("plain")
    with S.smtp(None, "mx") as c:
        send_raw(c, "a@outside.test", [S.user(7)],
                 message(tagged, "a@outside.test", S.user(7),
                         "X-Stack-Junk: yes\r\n"))
        send_raw(c, "a@outside.test", [S.user(7)],
                 message(plain, "a@outside.test", S.user(7)))
    S.wait_for(7, "Junk", predicate=subject_is(tagged))
    S.wait_for(7, "INBOX", predicate=subject_is(plain))
    inbox = S.wait_for(7, "INBOX", predicate=None)
    assert tagged not in [m["Subject"] for m in inbox]
    junk = S.wait_for(7, "Junk")
    assert plain not in [m["Subject"] for m in junk]


@tap.test
def junk_command_changes_the_rule_between_deliveries():
    pest = "pest@elsewhere.test"
    first, second, third = (unique("first"), unique("second"),
                            unique("third"))
    try:
        S.junk(pest, "other@elsewhere.test")
        with S.smtp(None, "mx") as c:
            send_raw(c, pest, [S.user(8)], message(first, pest, S.user(8)))
        S.wait_for(8, "Junk", predicate=subject_is(first))
        S.junk("other@elsewhere.test")
        with S.smtp(None, "mx") as c:
            send_raw(c, pest, [S.user(8)], message(second, pest, S.user(8)))
        S.wait_for(8, "INBOX", predicate=subject_is(second))
        S.junk(pest.upper())    # addresses compare case-insensitively
        with S.smtp(None, "mx") as c:
            send_raw(c, pest, [S.user(8)], message(third, pest, S.user(8)))
        S.wait_for(8, "Junk", predicate=subject_is(third))
        junk = [m["Subject"] for m in S.wait_for(8, "Junk", count=2)]
        tap.eq(sorted(junk), sorted([first, third]), "Junk holds")
    finally:
        S.junk()
    rc, _, err = script("junk", S.dir, "not an address")
    tap.eq(rc, 2, "junk with a bad address")
    assert "not a plain mail address" in err, err


# ----------------------------------------------------------------- TLS

@tap.test
def tls_trusting_only_the_ca_with_host_check_works():
    ctx = S.ssl_context()
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    for port in (S.imaps_port, S.submissions_port):
        with socket.create_connection((S.host, port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=S.host) as t:
                san = t.getpeercert()["subjectAltName"]
                assert ("IP Address", "127.0.0.1") in san, san
    with smtplib.SMTP(S.host, S.submission_port, timeout=10) as c:
        c.starttls(context=ctx)
        assert isinstance(c.sock, ssl.SSLSocket)
    # "localhost" is in the certificate too.
    with socket.create_connection((S.host, S.imaps_port), timeout=5) as raw:
        ctx.wrap_socket(raw, server_hostname="localhost").close()


@tap.test
def tls_default_trust_store_and_wrong_name_fail():
    default = ssl.create_default_context()   # system CAs only
    for port in (S.imaps_port, S.submissions_port):
        with socket.create_connection((S.host, port), timeout=5) as raw:
            try:
                default.wrap_socket(raw, server_hostname=S.host)
                tap.fail("port %d verified against the system store" % port)
            except ssl.SSLCertVerificationError as e:
                assert "unable to get local issuer" in str(e), e
    try:
        with smtplib.SMTP(S.host, S.submission_port, timeout=10) as c:
            c.starttls(context=default)
        tap.fail("STARTTLS verified against the system store")
    except ssl.SSLCertVerificationError:
        pass
    try:
        imaplib.IMAP4(S.host, S.imap_port, timeout=10).starttls(
            ssl_context=default)
        tap.fail("IMAP STARTTLS verified against the system store")
    except ssl.SSLCertVerificationError:
        pass
    with socket.create_connection((S.host, S.imaps_port), timeout=5) as raw:
        try:
            S.ssl_context().wrap_socket(raw, server_hostname="mail.other.test")
            tap.fail("certificate accepted for the wrong host name")
        except ssl.SSLCertVerificationError as e:
            assert "mismatch" in str(e) or "match" in str(e), e


@tap.test
def imap_starttls_login_is_over_tls():
    # Dovecot accepts plaintext LOGIN on loopback, so prove TLS on the
    # client side and in Dovecot's login line.
    with S.imap(9, port="starttls") as c:
        assert isinstance(c.sock, ssl.SSLSocket), type(c.sock)
        tap.eq(c.select("INBOX")[0], "OK", "SELECT")
    pat = re.compile(r"imap-login: Info: Login: user=<user9@example\.test>.*"
                     r" TLS, session=")
    deadline = time.monotonic() + 3
    while not pat.search(S.log("dovecot")):
        assert time.monotonic() < deadline, "no TLS login line for user9"
        time.sleep(0.05)


# --------------------------------------------------------------- OAuth2

def xoauth2(user, tok):
    return "user=%s\x01auth=Bearer %s\x01\x01" % (user, tok)


def oauthbearer(user, tok, port):
    return "n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01" \
        % (user, port, tok)


def imap_oauth(user, mech, initial):
    """AUTHENTICATE over IMAPS; answers a failure challenge with an empty
    line as SASL wants.  Returns the logged-in client or raises."""
    c = imaplib.IMAP4_SSL(S.host, S.imaps_port, ssl_context=S.ssl_context(),
                          timeout=10)
    calls = []

    def respond(challenge):
        calls.append(challenge)
        return initial.encode() if len(calls) == 1 else b""
    try:
        c.authenticate(mech, respond)
    except BaseException:
        c.shutdown()
        raise
    return c


def smtp_oauth(user, tok, port="starttls"):
    """(code, text) of AUTH XOAUTH2 on a submission port."""
    with S.smtp(None, port) as c:
        c.ehlo()
        try:
            c.auth("XOAUTH2",
                   lambda ch=None: xoauth2(user, tok) if ch is None else "")
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error
        return 235, b""


@tap.test
def xoauth2_token_logs_in_over_imap_and_submission():
    tok, user = "tok-" + secrets.token_hex(8), S.user(10)
    S.token(tok, user)
    with imap_oauth(user, "XOAUTH2", xoauth2(user, tok)) as c:
        tap.eq(c.state, "AUTH", "IMAP state after XOAUTH2")
        tap.eq(c.select("INBOX")[0], "OK", "SELECT")
    with imap_oauth(user, "OAUTHBEARER",
                    oauthbearer(user, tok, S.imaps_port)) as c:
        tap.eq(c.state, "AUTH", "IMAP state after OAUTHBEARER")
    for port in ("starttls", "implicit"):
        tap.eq(smtp_oauth(user, tok, port)[0], 235, "AUTH XOAUTH2 on " + port)
    # A message submitted with the token arrives.
    subj = unique("oauth")
    with S.smtp(None, "starttls") as c:
        c.ehlo()
        c.auth("XOAUTH2",
               lambda ch=None: xoauth2(user, tok) if ch is None else "")
        send_raw(c, user, [S.user(11)], message(subj, user, S.user(11)))
    S.wait_for(11, predicate=subject_is(subj))
    # The token is the user's only: another login name is refused.
    try:
        imap_oauth(S.user(11), "XOAUTH2", xoauth2(S.user(11), tok))
        tap.fail("token of user10 accepted for user11")
    except imaplib.IMAP4.error:
        pass


@tap.test
def revoked_and_unknown_tokens_are_refused():
    tok, user = "tok-" + secrets.token_hex(8), S.user(12)
    S.token(tok, user)
    with imap_oauth(user, "XOAUTH2", xoauth2(user, tok)):
        pass
    S.revoke(tok)
    for t in (tok, "never-issued-" + secrets.token_hex(4)):
        try:
            imap_oauth(user, "XOAUTH2", xoauth2(user, t))
            tap.fail("IMAP accepted token %s" % t)
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e) or "failed" in str(e), e
        code, _ = smtp_oauth(user, t)
        tap.eq(code, 535, "SMTP AUTH with token %s" % t)
    # A good login right after failures is not delayed (no auth penalty).
    t0 = time.monotonic()
    with S.smtp(12, "starttls"):
        pass
    assert time.monotonic() - t0 < 2, "login delayed after failures"
    rc, _, err = script("token", S.dir, "t", "user99@example.test")
    tap.eq(rc, 1, "token for a user the stack does not have")
    assert "not a user of this stack" in err, err


# ----------------------------------------------------------------- IMAP

@tap.test
def special_use_folders_and_capabilities():
    with S.imap(1) as c:
        typ, data = c.capability()
        caps = set(data[0].decode().split())
        for cap in ("IDLE", "MOVE", "UIDPLUS", "CONDSTORE", "SPECIAL-USE"):
            assert cap in caps, "%s not in %s" % (cap, sorted(caps))
        typ, data = c._simple_command("LIST", '""', '"*"', "RETURN",
                                      "(SPECIAL-USE)")
        tap.eq(typ, "OK", "LIST RETURN (SPECIAL-USE)")
        typ, data = c._untagged_response(typ, data, "LIST")
        flags = {}
        for line in data:
            m = re.match(rb'\(([^)]*)\) "/" "?([^"]+)"?$', line)
            assert m, line
            flags[m.group(2).decode()] = m.group(1).decode().split()
        for box in ("Sent", "Drafts", "Junk", "Trash", "Archive"):
            assert "\\" + box in flags.get(box, []), (box, flags)
        assert "INBOX" in flags


# ------------------------------------------- second stack: --users, down

SECOND = {}


@tap.test
def users_option_makes_n_users():
    d = tempfile.mkdtemp(prefix="mailstack.")
    SECOND["dir"] = d
    rc, _, err = script("up", d, "--users", "2")
    tap.eq(rc, 0, "up --users 2 (%s)" % err)
    e = read_env(os.path.join(d, "env"))
    tap.eq(e["MAILSTACK_USERS"], "2", "MAILSTACK_USERS")
    ports = {e[k] for k in e if k.endswith("_PORT")}
    mine = {str(p) for p in (S.imap_port, S.imaps_port, S.submission_port,
                             S.submissions_port, S.submission_7bit_port,
                             S.smtp_port, S.oauth_port)}
    assert not ports & mine, "two stacks share ports %s" % (ports & mine)
    ctx = ssl.create_default_context(cafile=e["MAILSTACK_CA_FILE"])
    port = int(e["MAILSTACK_IMAPS_PORT"])
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx) as c:
        c.login("user2@example.test", e["MAILSTACK_PASSWORD"])
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx) as c:
        try:
            c.login("user3@example.test", e["MAILSTACK_PASSWORD"])
            tap.fail("user3 exists in a 2-user stack")
        except imaplib.IMAP4.error:
            pass
    with smtplib.SMTP("127.0.0.1", int(e["MAILSTACK_SMTP_PORT"])) as c:
        c.mail("a@outside.test")
        tap.eq(c.rcpt("user2@example.test")[0], 250, "RCPT user2")
        tap.eq(c.rcpt("user3@example.test")[0], 550, "RCPT user3")


@tap.test
def up_on_a_running_dir_fails_clearly():
    d = SECOND["dir"]
    with open(os.path.join(d, "stack.json")) as f:
        state = f.read()
    before = stackctl.session_members(stack_sessions(d))
    rc, _, err = script("up", d)
    tap.eq(rc, 1, "exit status of a second up")
    assert "already running in %s" % os.path.realpath(d) in err, err
    # nothing was started in the stack's place and its daemons still run
    # (their own children come and go meanwhile, e.g. Dovecot's login
    # processes, so the whole process set is no fixed point)
    with open(os.path.join(d, "stack.json")) as f:
        tap.eq(f.read(), state, "the running stack's state file")
    for name, p in json.loads(state)["processes"].items():
        assert os.path.exists("/proc/%d" % p["pid"]), \
            "%s (pid %d) was stopped by the refused up" % (name, p["pid"])
    assert before, "no stack processes before"


@tap.test
def down_leaves_no_process():
    d = SECOND["dir"]
    sessions = stack_sessions(d)
    pids = stackctl.session_members(sessions)
    assert len(pids) >= 5, "expected a running stack, got %s" % pids
    ports = [int(v) for k, v in read_env(os.path.join(d, "env")).items()
             if k.endswith("_PORT")]
    rc, _, err = script("down", d)
    tap.eq(rc, 0, "down (%s)" % err)
    left = [p for p in pids if (stackctl.proc_stat(p) or "Z")[0] not in "ZX"]
    tap.eq(left, [], "processes still alive after down")
    tap.eq(stackctl.session_members(sessions), [],
           "live processes in the stack's sessions")
    assert all(refuses(p) for p in ports), "a port still accepts"
    # Idempotent, and the directory cannot be reused by mistake.
    rc, _, err = script("down", d)
    tap.eq(rc, 0, "second down")
    rc, _, err = script("up", d)
    tap.eq(rc, 1, "up on a stopped stack's dir")
    assert "stopped stack" in err, err
    shutil.rmtree(d)


@tap.test
def up_fails_cleanly_and_stops_what_it_started():
    # A postfix that fails silently, as the real one does without a tty.
    fake = tempfile.mkdtemp(prefix="fakebin.")
    d = tempfile.mkdtemp(prefix="mailstack.")
    try:
        with open(os.path.join(fake, "postfix"), "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(os.path.join(fake, "postfix"), 0o755)
        env = dict(os.environ, PATH=fake + ":" + os.environ["PATH"])
        rc, _, err = script("up", d, "--users", "1", env=env)
        tap.eq(rc, 1, "up with a failing postfix")
        assert "Postfix did not start" in err, err
        assert "--- last lines of" in err, err       # the log tail
        assert "stopped what had started" in err, err
        with open(os.path.join(d, "stack.json")) as f:
            started = json.load(f)["processes"]
        assert {"dovecot", "oauth_double"} <= set(started), started
        tap.eq(stackctl.session_members(stack_sessions(d)), [],
               "processes left by the failed up")
        rc, _, err = script("up", d)
        tap.eq(rc, 1, "up again on the failed dir")
    finally:
        shutil.rmtree(fake)
        shutil.rmtree(d)


@tap.test
def scripts_have_help_and_clear_errors():
    for name in ("up", "down", "flush", "junk", "token"):
        rc, out, _ = script(name, "--help")
        tap.eq(rc, 0, name + " --help")
        assert out.startswith("usage: " + name), out
    missing = "/nonexistent/mailstack"
    for name, args in (("down", [missing]), ("flush", [missing]),
                       ("junk", [missing]), ("token", [missing, "t", "u"])):
        rc, _, err = script(name, *args)
        tap.eq(rc, 1, "%s on a missing dir" % name)
        assert err.startswith(name + ": ") and missing in err, err
    rc, _, err = script("token", S.dir, "only-a-token")
    tap.eq(rc, 2, "token without USER")
    rc, _, err = script("up", tempfile.gettempdir())
    tap.eq(rc, 1, "up on a non-empty dir")
    assert "not empty" in err, err


if __name__ == "__main__":
    S.start()
    try:
        tap.main()
    finally:
        S.stop()
