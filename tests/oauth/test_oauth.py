"""OAuth2 inboxes (issue 12) against the real local mail stack and a local
OAuth2 provider TEST DOUBLE (oauth_provider_double.py, 127.0.0.1 only),
whose access tokens are made valid in Dovecot and Postfix submission with
tests/mailstack/token:

- both connect flows (Microsoft device code; Google authorization code
  with PKCE, through the loopback listener and by paste-back) end with an
  inbox that sends (arrives in the recipient's INBOX) and syncs;
- `inbox import` OAuth rows are pending until `inbox connect --pending`;
- an access token that expires mid-run (announced, or dropped early by
  the provider) is refreshed with no failed send;
- a revoked refresh token puts that inbox in auth_failed (with the
  reconnect command) while another inbox keeps sending, its contacts
  going to that other inbox; a reconnect brings it back;
- the service refreshes a token ahead of its expiry on a worker: while
  the provider holds the refresh for seconds, a CLI change reaches the
  service and another inbox's send is recorded; then the new token is
  stored and used, after exactly one refresh; a CLI that refreshes (and
  rotates) meanwhile wins the race, and the inbox stays connected;
- every CLI path that authenticates (send-test, inbox test, inbox sync)
  refreshes a refused access token exactly once: after the provider
  revoked grant and tokens together that refresh is refused and the inbox
  is auth_failed with the reconnect command; when the servers refuse even
  the fresh token (SMTP AUTH or IMAP off for the mailbox, a scope
  missing), the error says so with that remedy and the inbox stays ok;
- plain http is refused for a token endpoint that is not on loopback;
- no token string ever appears in the database file, the logs or any
  output."""
import email
import email.policy
import email.utils
import glob
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oauth_provider_double import OAuthProviderDouble  # noqa: E402

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-oauth-")
S = None
P = None          # the provider double most tests share
DOUBLES = []      # every double started (their tokens are grepped)
OUTPUTS = []      # every output of every coldseq process
DATAS = []        # every data dir (database files are grepped)


class Data:
    """A data dir whose OAuth settings point at provider double p."""

    def __init__(self, p, name):
        self.p = p
        self.data = os.path.join(TMP, name)
        self.log = os.path.join(TMP, name + ".log")
        DATAS.append(self)
        self.cs("init", check=0)
        for k, v in (
                ("oauth.microsoft.client_id", p.ms_client),
                ("oauth.microsoft.device_code_url",
                 p.url("/{tenant}/devicecode")),
                ("oauth.microsoft.token_url", p.url("/{tenant}/token")),
                ("oauth.google.client_id", p.google_client),
                ("oauth.google.auth_url", p.url("/google/auth")),
                ("oauth.google.token_url", p.url("/google/token"))):
            self.cs("config", "set", k, v, check=0)
        self.cs("config", "set", "oauth.google.client_secret", "-",
                stdin=p.google_secret + "\n", check=0)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, "--log-file", self.log, *args,
                       check=check, stdin=stdin, timeout=300,
                       outputs=OUTPUTS)

    def spawn(self, *args):
        return subprocess.Popen(
            [BIN, "--data-dir", self.data, "--log-file", self.log] +
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def inboxes(self):
        return {i["name"]: i for i in
                json.loads(self.cs("inbox", "list", "--json",
                                   check=0).stdout)}


def servers():
    return ["--smtp", "127.0.0.1:%d" % S.submission_port, "--smtp-tls",
            "starttls", "--imap", "127.0.0.1:%d" % S.imaps_port,
            "--imap-tls", "tls", "--ca-file", S.ca_file]


def lines_until(p, pred, timeout=30):
    """Lines of p's stdout up to and including the first for which pred
    is true (the process is killed if none comes in time)."""
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    got = []
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                raise AssertionError("coldseq ended before the prompt: %r"
                                     % got)
            got.append(line)
            if pred(line):
                return got
    finally:
        timer.cancel()


def finish(p, want=0):
    out, err = p.communicate(timeout=120)
    OUTPUTS.append(out + err)
    eq(p.returncode, want, "exit (stdout %r, stderr %r)" % (out, err))
    return out, err


def get(url):
    """One GET without following redirects: (status, Location, body)."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, r.getheader("Location"), body


def connect_ms(d, user, name, extra=()):
    p = d.spawn("inbox", "connect", "microsoft", "--email", S.user(user),
                "--name", name, *servers(), *extra)
    got = lines_until(p, lambda l: "enter the code" in l)
    d.p.approve(got[-1].split()[-1], S.user(user))
    return finish(p)


def connect_google(d, user, name, paste=False):
    args = ["inbox", "connect", "google", "--email", S.user(user), "--name",
            name] + servers() + (["--no-browser"] if paste else [])
    p = d.spawn(*args)
    got = lines_until(p, lambda l: l.startswith(d.p.url("/google/auth")))
    status, loc, _ = get(got[-1].strip())
    eq(status, 302, "the provider sends the browser back")
    assert loc.startswith("http://127.0.0.1:"), loc
    if paste:
        p.stdin.write(loc + "\n")
        p.stdin.flush()
    else:  # the browser follows the redirect to coldseq's listener
        status, _, body = get(loc)
        eq(status, 200, body)
        assert "Connected" in body, body
    return finish(p)


def arrives(to, subject_has, timeout=20):
    return S.wait_for(to, predicate=lambda m: subject_has in str(
        m["Subject"]), timeout=timeout)


def from_inbox(user, sender=None):
    """Messages in stack user's INBOX maildir sent by address sender (by
    anyone when None)."""
    out = []
    for sub in ("new", "cur"):
        dd = os.path.join(S.maildir_of(user), sub)
        for n in sorted(os.listdir(dd)) if os.path.isdir(dd) else []:
            with open(os.path.join(dd, n), "rb") as f:
                m = email.message_from_bytes(f.read(),
                                             policy=email.policy.default)
            if sender is None or \
                    email.utils.parseaddr(m["From"])[1] == sender:
                out.append(m)
    return out


def campaign(d, contacts, inboxes, steps=2, delay="4 hours", cap=20):
    d.cs("config", "set", "inbox.min_interval", "60", check=0)
    for i in inboxes:
        d.cs("inbox", "set", i, "--daily-cap", str(cap), check=0)
    csv = os.path.join(TMP, os.path.basename(d.data) + ".csv")
    with open(csv, "w") as f:
        f.write("email,first_name\n" + "".join(
            "%s,P%d\n" % (S.user(u), u) for u in contacts))
    d.cs("contacts", "import", csv, "--list", "l", check=0)
    names = []
    for k in range(1, steps + 1):
        t = os.path.join(TMP, "%s-s%d.txt" % (os.path.basename(d.data), k))
        with open(t, "w") as f:
            f.write("Subject: O%d for {{first_name}}\n\nStep %d.\n" % (k, k))
        names.append(t)
    d.cs("template", "import", *names, check=0)
    tnames = [os.path.basename(n)[:-4] for n in names]
    y = os.path.join(TMP, os.path.basename(d.data) + ".yaml")
    with open(y, "w") as f:
        f.write("name: c\nlist: l\ninboxes: [%s]\ntimezone: UTC\n"
                "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
                "from: \"00:00\", to: \"24:00\"}\nsteps:\n"
                "  - template: %s\n" % (", ".join(inboxes), tnames[0]) +
                "".join("  - template: %s\n    delay: %s\n" % (t, delay)
                        for t in tnames[1:]))
    d.cs("campaign", "create", y, check=0)
    d.cs("campaign", "start", "c", check=0)


# ----------------------------------------------------------------- tests

@test
def microsoft_device_flow_sends_and_syncs():
    d = Data(P, "ms")
    out, _ = connect_ms(d, 1, "ms1", ("--tenant", "contoso.example"))
    assert "Connected inbox ms1" in out, out
    eq(P.tenants[-1], "contoso.example", "tenant in the endpoint path")
    p = d.cs("send-test", "--from", "ms1", "--to", S.user(2), "--subject",
             "via microsoft", check=0)
    assert p.stdout.splitlines()[1].startswith("250"), p.stdout
    arrives(2, "via microsoft")
    p = d.cs("inbox", "sync", "ms1", "--once", check=0)
    assert "ms1: 2 folder(s)" in p.stdout, p.stdout
    i = d.inboxes()["ms1"]
    eq((i["status"], i["auth"], i["provider"]),
       ("active", "oauth2", "microsoft"), "inbox")
    assert i["token"]["last_refresh"] and \
        i["token"]["refresh_token_age_days"] == 0, i
    # the same token health in `status`
    st = json.loads(d.cs("status", "--json", check=0).stdout)
    [s] = [x for x in st["inboxes"] if x["name"] == "ms1"]
    assert s["token"]["last_refresh"] == i["token"]["last_refresh"], s
    assert "token: refreshed 0 day(s) ago" in d.cs("status", check=0).stdout


@test
def microsoft_device_flow_slow_down_and_decline():
    p2 = OAuthProviderDouble(S, slow_down_once=True).start()
    DOUBLES.append(p2)
    try:
        d = Data(p2, "ms-slow")
        t = time.monotonic()
        connect_ms(d, 3, "ms3")
        # slow_down adds 5 s to the 1 s interval (RFC 8628 3.5)
        assert time.monotonic() - t >= 6, time.monotonic() - t
        p = d.spawn("inbox", "connect", "microsoft", "--email", S.user(4),
                    "--name", "ms4", *servers())
        got = lines_until(p, lambda l: "enter the code" in l)
        p2.approve(got[-1].split()[-1], S.user(4), decline=True)
        _, err = finish(p, 1)
        assert "declined" in err, err
        assert "ms4" not in d.inboxes()
    finally:
        p2.stop()


@test
def google_loopback_flow_sends_and_syncs():
    d = Data(P, "g")
    out, _ = connect_google(d, 5, "g5")
    assert "Connected inbox g5" in out, out
    d.cs("send-test", "--from", "g5", "--to", S.user(2), "--subject",
         "via google loopback", check=0)
    arrives(2, "via google loopback")
    d.cs("inbox", "sync", "g5", "--once", check=0)
    eq(d.inboxes()["g5"]["status"], "active", "status")
    # PKCE was checked by the double: the only code grant succeeded
    assert ("authorization_code", S.user(5), "ok") in P.grants, P.grants


@test
def google_no_browser_paste_back_checks_state():
    d = Data(P, "gp")
    p = d.spawn("inbox", "connect", "google", "--email", S.user(6),
                "--name", "g6", "--no-browser", *servers())
    got = lines_until(p, lambda l: l.startswith(P.url("/google/auth")))
    _, loc, _ = get(got[-1].strip())
    # an address from another attempt (wrong state) is refused, and the
    # prompt asks again
    forged = loc.replace("state=", "state=X")
    p.stdin.write(forged + "\n")
    p.stdin.flush()
    lines_until(p, lambda l: "Paste the whole address again" in l)
    p.stdin.write(loc + "\n")
    p.stdin.flush()
    out, _ = finish(p)
    assert "Connected inbox g6" in out, out
    d.cs("send-test", "--from", "g6", "--to", S.user(2), "--subject",
         "via google paste", check=0)
    arrives(2, "via google paste")
    d.cs("inbox", "sync", "g6", "--once", check=0)
    # the user says no: nothing is stored
    P.refuse_next_auth = True
    p = d.spawn("inbox", "connect", "google", "--email", S.user(7),
                "--name", "g7", *servers())
    got = lines_until(p, lambda l: l.startswith(P.url("/google/auth")))
    _, loc, _ = get(got[-1].strip())
    status, _, body = get(loc)
    eq(status, 400, body)
    _, err = finish(p, 1)
    assert "access_denied" in err, err
    assert "g7" not in d.inboxes()


@test
def import_oauth_rows_pending_then_connect_pending():
    d = Data(P, "imp")
    csv = os.path.join(TMP, "inboxes.csv")
    with open(csv, "w") as f:
        f.write("name,email,provider,smtp,imap,smtp-tls,imap-tls,ca-file\n"
                "pm8,%s,microsoft,127.0.0.1:%d,127.0.0.1:%d,starttls,tls,%s\n"
                "preset,someone@contoso.example,microsoft,,,,,\n"
                % (S.user(8), S.submission_port, S.imaps_port, S.ca_file))
    doc = json.loads(d.cs("inbox", "import", csv, "--json", check=0).stdout)
    eq((doc["imported"], doc["pending"]), (2, 2), "imported, pending")
    ib = d.inboxes()
    eq(ib["pm8"]["status"], "pending", "status")
    eq(ib["pm8"]["reconnect"], "coldseq inbox connect --pending", "how")
    eq((ib["preset"]["smtp_host"], ib["preset"]["smtp_port"],
        ib["preset"]["imap_host"]),
       ("smtp.office365.com", 587, "outlook.office365.com"), "preset")
    p = d.cs("send-test", "--from", "pm8", "--to", S.user(2), check=1)
    assert "not connected yet" in p.stderr, p.stderr
    d.cs("inbox", "remove", "preset", check=0)
    p = d.spawn("inbox", "connect", "--pending")
    got = lines_until(p, lambda l: "enter the code" in l)
    assert any("pm8" in l for l in got), got
    P.approve(got[-1].split()[-1], S.user(8))
    out, _ = finish(p)
    assert "Reconnected inbox pm8" in out, out
    eq(d.inboxes()["pm8"]["status"], "active", "status after connect")
    d.cs("send-test", "--from", "pm8", "--to", S.user(2), "--subject",
         "pending now connected", check=0)
    arrives(2, "pending now connected")


def run_campaign_through_expiry(name, double, users):
    """Two inboxes on double; a two-step campaign over a simulated day.
    The tokens from the connects have died (1 s) when the run starts, and
    the run takes longer than a token lives."""
    d = Data(double, name)
    connect_ms(d, users[0], "a")
    connect_google(d, users[1], "b")
    contacts = users[2:]
    campaign(d, contacts, ["a", "b"])
    time.sleep(1.5)
    before = double.refreshes()
    t = time.monotonic()
    d.cs("run", "--clock", "sim:now,fast", "--until", "+1d", check=0)
    took = time.monotonic() - t
    return d, contacts, before, took, t + took


def check_all_sent(d, contacts, double, before):
    eq(d.db("SELECT state, count(*) FROM outbox GROUP BY 1"),
       [("sent", 2 * len(contacts))], "outbox")
    eq(d.db("SELECT count(*) FROM messages WHERE outcome <> 'sent'"),
       [(0,)], "messages not sent")
    for u in contacts:
        got = [m for m in from_inbox(u)
               if str(m["Subject"]).startswith("O")]
        eq(sorted(str(m["Subject"])[:2] for m in got), ["O1", "O2"],
           S.user(u))
    ib = d.inboxes()
    eq((ib["a"]["status"], ib["b"]["status"]), ("active", "active"),
       "inboxes")


@test
def access_token_expiring_mid_run_is_refreshed_ahead():
    # tokens announced and kept for 1 s: seq_token refreshes ahead
    p2 = OAuthProviderDouble(S, expires_in=1, rotate=True).start()
    DOUBLES.append(p2)
    try:
        d, contacts, before, took, t_end = run_campaign_through_expiry(
            "exp", p2, [9, 10, 11, 12, 13, 14, 27, 28, 29, 30])
        check_all_sent(d, contacts, p2, before)
        # each inbox refreshed when the run began (its token had died),
        # and again while it ran once the run outlived the refresh-ahead
        # point: a token lives 1 s and is refreshed ahead once less than
        # twice its margin (a quarter of its life) is left, i.e. 0.5 s
        # after its refresh.  How long the run lasts past the first
        # refreshes depends on the machine (16 messages on a simulated
        # clock), so the second refresh is owed only when the run went
        # on 0.8 s (0.5 s and a timer's slack) after the last first one.
        assert p2.refreshes() - before >= 2, (p2.refreshes(), before)
        firsts = p2.refreshed_at[before:before + 2]
        if t_end - firsts[-1] > 0.8:
            assert p2.refreshes() - before >= 3, \
                (p2.refreshes(), before, t_end - firsts[-1])
        # rotated refresh tokens replaced the old ones: one row each
        eq(d.db("SELECT count(*), min(generation) > 1 FROM oauth_tokens"),
           [(2, 1)], "rotated")
    finally:
        p2.stop()


@test
def access_token_dropped_early_is_refreshed_after_refusal():
    # announced for an hour, dropped by the provider after 1 s: the
    # server refuses it, the service refreshes once and sends again
    p2 = OAuthProviderDouble(S, expires_in=3600, live_s=1).start()
    DOUBLES.append(p2)
    try:
        d, contacts, before, took, t_end = run_campaign_through_expiry(
            "drop", p2, [15, 16, 17, 18, 19, 20, 31, 32, 33, 34])
        check_all_sent(d, contacts, p2, before)
        with open(d.log) as f:
            log = f.read()
        # both inboxes: the SMTP refusal, one refresh, the batch again
        for i in ("a", "b"):
            assert "inbox %s: the server refused the access token; " \
                "refreshed it" % i in log, log[-3000:]
        assert p2.refreshes() - before >= 2, (p2.refreshes(), before)
    finally:
        p2.stop()


@test
def revoked_refresh_token_fails_only_that_inbox():
    d = Data(P, "rev")
    connect_google(d, 21, "gone")
    connect_ms(d, 22, "stays")
    campaign(d, [23, 24, 25, 26], ["gone", "stays"], steps=1)
    P.revoke(S.user(21))
    d.cs("run", "--clock", "sim:now,fast", "--until", "+1d", check=0)
    ib = d.inboxes()
    eq(ib["gone"]["status"], "auth_failed", "revoked inbox")
    eq(ib["gone"]["auth_state"], "auth_failed", "auth_state")
    assert "invalid_grant" in ib["gone"]["auth_reason"], ib["gone"]
    cmd = ("coldseq inbox connect google --email %s --name gone"
           % S.user(21))
    assert ib["gone"]["auth_reason"].endswith(cmd), ib["gone"]
    eq(ib["gone"]["reconnect"], cmd, "reconnect")
    eq(ib["stays"]["status"], "active", "other inbox")
    # every contact got step 1, from the inbox that still works
    for u in (23, 24, 25, 26):
        eq(len(from_inbox(u, S.user(22))), 1, S.user(u))
        eq(len(from_inbox(u, S.user(21))), 0, S.user(u))
    eq(d.db("SELECT state, count(*) FROM outbox GROUP BY 1"),
       [("sent", 4)], "outbox")
    p = d.cs("send-test", "--from", "gone", "--to", S.user(2), check=1)
    assert "needs reconnecting" in p.stderr and cmd in p.stderr, p.stderr
    p = d.cs("inbox", "list", check=0)
    assert "auth_failed" in p.stdout and cmd in p.stdout, p.stdout
    # the exact command brings it back
    connect_google(d, 21, "gone")
    eq(d.inboxes()["gone"]["status"], "active", "reconnected")
    d.cs("send-test", "--from", "gone", "--to", S.user(2), "--subject",
         "back after reconnect", check=0)
    arrives(2, "back after reconnect")


@test
def refresh_refused_before_a_send_fails_only_that_inbox():
    # tokens that live 1 s: the service refreshes before the first send
    # and the provider answers invalid_grant there (not at SMTP AUTH)
    p3 = OAuthProviderDouble(S, expires_in=1).start()
    DOUBLES.append(p3)
    try:
        d = Data(p3, "rev2")
        connect_ms(d, 35, "gone2")
        connect_google(d, 36, "stays2")
        campaign(d, [37, 38, 39, 40], ["gone2", "stays2"], steps=1)
        p3.revoke(S.user(35))
        time.sleep(1.2)
        d.cs("run", "--clock", "sim:now,fast", "--until", "+1d", check=0)
        ib = d.inboxes()
        eq((ib["gone2"]["status"], ib["stays2"]["status"]),
           ("auth_failed", "active"), "statuses")
        assert ib["gone2"]["reconnect"] == "coldseq inbox connect " \
            "microsoft --email %s --name gone2" % S.user(35), ib["gone2"]
        for u in (37, 38, 39, 40):
            eq(len(from_inbox(u, S.user(36))), 1, S.user(u))
            eq(len(from_inbox(u, S.user(35))), 0, S.user(u))
        eq(d.db("SELECT count(*) FROM messages WHERE inbox_id = (SELECT "
                "id FROM inboxes WHERE name = 'gone2')"), [(0,)],
           "nothing even tried from gone2")
    finally:
        p3.stop()


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def one_step_campaign(d, name, contacts, inbox):
    """Campaign `name` (list `name`): one step from inbox to contacts,
    created started and then paused."""
    d.cs("inbox", "set", inbox, "--daily-cap", "20", check=0)
    csv = os.path.join(TMP, "%s-%s.csv" % (os.path.basename(d.data), name))
    with open(csv, "w") as f:
        f.write("email,first_name\n" + "".join(
            "%s,P%d\n" % (S.user(u), u) for u in contacts))
    d.cs("contacts", "import", csv, "--list", name, check=0)
    t = os.path.join(TMP, "%s-%s.txt" % (os.path.basename(d.data), name))
    with open(t, "w") as f:
        f.write("Subject: %s for {{first_name}}\n\nHello.\n" % name)
    d.cs("template", "import", t, check=0)
    y = os.path.join(TMP, "%s-%s.yaml" % (os.path.basename(d.data), name))
    with open(y, "w") as f:
        f.write("name: %s\nlist: %s\ninboxes: [%s]\ntimezone: UTC\n"
                "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
                "from: \"00:00\", to: \"24:00\"}\nsteps:\n"
                "  - template: %s\n" % (name, name, inbox,
                                        os.path.basename(t)[:-4]))
    d.cs("campaign", "create", y, check=0)
    d.cs("campaign", "start", name, check=0)
    d.cs("campaign", "pause", name, check=0)


def slow_refresh_setup(name, users):
    """Inbox o (Microsoft, stack user users[0]) and inbox p (password,
    users[1]) in one data dir, paused one-step campaigns co (o to
    users[3]) and cp (p to users[2]).  o is reconnected just before the
    service starts with a token of 12 s: the service refreshes it on a
    worker 6 s in (its margin, 3 s, twice before expiry), and the double
    holds that refresh (up to 9 s, under the client's 10 s timeout).
    Returns the double, the data dir, the service, the time of o's
    connect and o's access tokens issued so far."""
    dbl = OAuthProviderDouble(S).start()
    DOUBLES.append(dbl)
    d = Data(dbl, name)
    connect_ms(d, users[0], "o")
    d.cs("inbox", "add", "p", "--email", S.user(users[1]), *servers(),
         "--password-stdin", stdin=S.password + "\n", check=0)
    d.cs("config", "set", "inbox.min_interval", "60", check=0)
    one_step_campaign(d, "cp", [users[2]], "p")
    one_step_campaign(d, "co", [users[3]], "o")
    dbl.expires_in = 12
    connect_ms(d, users[0], "o")
    connected = time.monotonic()
    dbl.expires_in = 3600   # what a refresh hands out
    dbl.refresh_delay = 9
    old = list(dbl.access)
    run = d.spawn("run")
    return dbl, d, run, connected, old


def stop_service(run):
    run.send_signal(signal.SIGTERM)
    finish(run)


def o_sends_with(d, dbl, old, contact, owner):
    """The tokens in old stop working; o (stack user owner) still sends
    from the service (SMTP AUTH with what is stored now)."""
    dbl.drop(old)
    d.cs("campaign", "resume", "co", check=0)
    arrives(contact, "co for P%d" % contact)
    eq(len(from_inbox(contact, S.user(owner))), 1, "from o")


@test
def slow_refresh_runs_beside_the_loop():
    dbl, d, run, connected, old = slow_refresh_setup("slow", [41, 42, 43, 44])
    try:
        before = dbl.refreshes()
        wait_until(lambda: dbl.refreshing, 20, "the refresh to begin")
        held = time.monotonic()
        assert held - connected >= 4, held - connected  # ahead, not at once
        # the loop is free: a CLI change reaches it (control socket), it
        # dispatches p's send to a worker and records the result, all
        # while o's refresh is still held by the provider
        d.cs("campaign", "resume", "cp", check=0)
        wait_until(lambda: d.db(
            "SELECT o.state FROM outbox o JOIN inboxes i ON i.id = "
            "o.inbox_id WHERE i.name = 'p'") == [("sent",)], 8,
            "p's send recorded")
        took = time.monotonic() - held
        eq(dbl.refreshing, 1, "o's refresh still held when p's send was "
           "recorded (%.1f s)" % took)
        assert took < 5, took
        assert from_inbox(43, S.user(42)), "p's message arrived"
        # the provider answers: the new token is stored ...
        dbl.release_refresh()
        wait_until(lambda: d.db(
            "SELECT t.access_expires_at - t.refreshed_at FROM oauth_tokens "
            "t JOIN inboxes i ON i.id = t.inbox_id WHERE i.name = 'o'") ==
            [(3600000,)], 10, "the refreshed token stored")
        # ... and used: the tokens from before stop working now, and o
        # sends (SMTP AUTH) and syncs (IMAP login) with the new one
        o_sends_with(d, dbl, old, 44, 41)
        d.cs("inbox", "sync", "o", "--once", check=0)
        eq(dbl.refreshes() - before, 1, "refreshes")
        stop_service(run)
        run = None
        with open(d.log) as f:
            log = f.read()
        assert "inbox o: access token refreshed" in log, log[-3000:]
        for bad in ("refused the access token", "cannot refresh"):
            assert bad not in log, log[-3000:]
        eq(d.inboxes()["o"]["status"], "active", "o")
    finally:
        dbl.release_refresh()
        if run:
            run.kill()
            finish(run, run.wait())
        dbl.stop()


@test
def refresh_raced_by_the_cli_keeps_the_inbox():
    # the same, with rotation: while the service's refresh is held, the
    # CLI refreshes too (o's token is inside seq_token_get's margin) and
    # rotates the refresh token; the service's grant then meets the spent
    # token (invalid_grant), sees the newer generation and keeps the
    # CLI's tokens: o is not put in auth_failed
    dbl, d, run, connected, old = slow_refresh_setup("race", [45, 46, 47, 48])
    try:
        dbl.rotate = True
        wait_until(lambda: dbl.refreshing, 20, "the service's refresh")
        dbl.refresh_delay = 0  # the CLI's refresh is answered at once
        time.sleep(max(0.0, connected + 9.5 - time.monotonic()))
        d.cs("inbox", "sync", "o", "--once", check=0)
        eq((dbl.refreshes(S.user(45)), dbl.refreshing), (1, 1),
           "the CLI's refresh done, the service's still held")
        dbl.release_refresh()
        wait_until(lambda: ("refresh_token", S.user(45), "invalid_grant")
                   in dbl.grants, 10, "the service's grant refused")
        o_sends_with(d, dbl, old, 48, 45)
        stop_service(run)
        run = None
        ib = d.inboxes()["o"]
        eq((ib["status"], ib["auth_state"]), ("active", "ok"), "o")
        eq(dbl.refreshes(S.user(45)), 1, "no refresh after the race")
        with open(d.log) as f:
            log = f.read()
        assert "lost its authorization" not in log, log[-3000:]
    finally:
        dbl.release_refresh()
        if run:
            run.kill()
            finish(run, run.wait())
        dbl.stop()


# Every CLI path that authenticates, as (name, argv for inbox NAME, the
# server that refuses first).
AUTH_PATHS = [
    ("send-test", lambda n: ("send-test", "--from", n, "--to", S.user(2),
                             "--subject", "after revocation"), "SMTP"),
    ("inbox test", lambda n: ("inbox", "test", n), "SMTP"),
    ("inbox sync", lambda n: ("inbox", "sync", n, "--once"), "IMAP"),
]


def revoked_then(k):
    """The user withdrew consent: the provider revokes the refresh token
    and the access tokens together, so the stored (unexpired) token is
    refused at login; AUTH_PATHS[k] refreshes once, meets invalid_grant
    and puts the inbox in auth_failed, naming the reconnect command."""
    what, argv, _ = AUTH_PATHS[k]
    dbl = OAuthProviderDouble(S).start()
    DOUBLES.append(dbl)
    try:
        d = Data(dbl, "revcli%d" % k)
        user, name = 49 + k, "rc%d" % k
        if k % 2:
            connect_google(d, user, name)
            cmd = "coldseq inbox connect google --email %s --name %s" \
                % (S.user(user), name)
        else:
            connect_ms(d, user, name)
            cmd = "coldseq inbox connect microsoft --email %s --name %s" \
                % (S.user(user), name)
        eq(d.inboxes()[name]["auth_state"], "ok", what + ": before")
        dbl.revoke(S.user(user))
        p = d.cs(*argv(name), check=1)
        eq(dbl.refresh_attempts(S.user(user)), 1, what + ": refreshes")
        eq(dbl.grants[-1], ("refresh_token", S.user(user), "invalid_grant"),
           what + ": the refresh")
        ib = d.inboxes()[name]
        eq((ib["status"], ib["auth_state"]), ("auth_failed", "auth_failed"),
           what + ": state")
        eq(ib["reconnect"], cmd, what + ": reconnect")
        assert cmd in p.stderr, (what, p.stderr)
        # from now on the command says so at once, without a refresh
        p = d.cs(*argv(name), check=1)
        assert "needs reconnecting" in p.stderr and cmd in p.stderr, \
            (what, p.stderr)
        eq(dbl.refresh_attempts(S.user(user)), 1, what + ": no more")
        eq(d.db("SELECT count(*) FROM messages WHERE outcome = 'sent'"),
           [(0,)], "nothing sent")
    finally:
        dbl.stop()


@test
def revoked_grant_send_test_refreshes_once_then_auth_failed():
    revoked_then(0)


@test
def revoked_grant_inbox_test_refreshes_once_then_auth_failed():
    revoked_then(1)


@test
def revoked_grant_inbox_sync_refreshes_once_then_auth_failed():
    revoked_then(2)


def fresh_token_refused(k):
    """The servers refuse even a token the provider just granted (SMTP
    AUTH or IMAP disabled for the mailbox, a scope missing): AUTH_PATHS[k]
    refreshes once, then says so with the remedy; the authorization stays
    ok and no reconnect is asked for."""
    what, argv, proto = AUTH_PATHS[k]
    dbl = OAuthProviderDouble(S).start()
    DOUBLES.append(dbl)
    try:
        d = Data(dbl, "scope%d" % k)
        user, name = 52 + k, "sc%d" % k
        if k == 1:
            connect_google(d, user, name)
        else:
            connect_ms(d, user, name)
        dbl.unusable = True
        dbl.drop(dbl.tokens_of(S.user(user)))
        p = d.cs(*argv(name), check=1)
        dbl.unusable = False
        eq(dbl.refresh_attempts(S.user(user)), 1, what + ": refreshes")
        eq(dbl.refreshes(S.user(user)), 1, what + ": granted")
        ib = d.inboxes()[name]
        eq((ib["status"], ib["auth_state"]), ("active", "ok"),
           what + ": state")
        assert "freshly refreshed access token" in p.stderr and \
            "the %s server" % proto in p.stderr, (what, p.stderr)
        assert "needs reconnecting" not in p.stderr and \
            "inbox connect" not in p.stderr, (what, p.stderr)
        if k == 0:
            assert "-SmtpClientAuthenticationDisabled $false" in \
                p.stderr and "SMTP.Send" in p.stderr, p.stderr
        elif k == 1:
            assert "https://mail.google.com/" in p.stderr, p.stderr
        else:
            assert "-ImapEnabled $true" in p.stderr, p.stderr
        # the mailbox fixed (tokens work again): the path works again
        d.cs(*argv(name), check=0)
        eq(d.inboxes()[name]["auth_state"], "ok", what + ": after")
    finally:
        dbl.stop()


@test
def fresh_token_refused_by_smtp_send_test_is_not_auth_failed():
    fresh_token_refused(0)


@test
def fresh_token_refused_inbox_test_is_not_auth_failed():
    fresh_token_refused(1)


@test
def fresh_token_refused_by_imap_inbox_sync_is_not_auth_failed():
    fresh_token_refused(2)


@test
def fresh_token_refused_by_the_service_watcher_is_not_auth_failed():
    """The service's path: its IMAP watcher meets a refused token,
    refreshes once, and the fresh token is refused too: status names the
    mailbox's settings with the remedy, the inbox is not auth_failed."""
    dbl = OAuthProviderDouble(S).start()
    DOUBLES.append(dbl)
    run = None
    try:
        d = Data(dbl, "scopesvc")
        user, name = 55, "scs"
        connect_ms(d, user, name)
        dbl.unusable = True
        dbl.drop(dbl.tokens_of(S.user(user)))
        run = d.spawn("run")

        def watcher():
            st = json.loads(d.cs("status", "--json", check=0).stdout)
            w = [i.get("watcher") for i in st["inboxes"]
                 if i["name"] == name]
            return w[0] if w and w[0] else {}
        wait_until(lambda: "freshly refreshed" in
                   (watcher().get("error") or ""), 60,
                   "the watcher's refusal after a refresh")
        w = watcher()
        eq(w["state"], "down", "watcher")
        assert "-ImapEnabled $true" in w["error"], w
        eq(dbl.refreshes(S.user(user)), 1, "one refresh granted")
        ib = d.inboxes()[name]
        eq(ib["auth_state"], "ok", "not auth_failed")
    finally:
        dbl.unusable = False
        if run:
            stop_service(run)
        dbl.stop()


@test
def plain_http_token_endpoint_refused_off_loopback():
    d = Data(P, "http")
    p = d.cs("config", "set", "oauth.google.token_url",
             "http://oauth.example.com/token", check=2)
    assert "plain http is refused" in p.stderr, p.stderr
    d.cs("config", "set", "oauth.google.token_url",
         "https://oauth.example.com/token", check=0)
    d.cs("config", "set", "oauth.google.token_url",
         "http://[::1]:9/token", check=0)
    # the secret setting is never shown
    doc = json.loads(d.cs("config", "get", "oauth.google.client_secret",
                          "--json", check=0).stdout)
    eq((doc["value"], doc["set"], doc["type"]), ("(sealed)", True,
                                                 "secret"), "secret")


@test
def vault_rotate_keeps_tokens_working():
    d = [x for x in DATAS if x.data.endswith("/g")][0]
    doc = json.loads(d.cs("vault", "rotate", "--json", check=0).stdout)
    # access + refresh token, the client secret
    assert doc["resealed"] >= 3, doc
    doc = json.loads(d.cs("vault", "status", "--json", check=0).stdout)
    eq(doc["unreadable"], [], "unreadable")
    d.cs("send-test", "--from", "g5", "--to", S.user(2), "--subject",
         "after rotate", check=0)
    arrives(2, "after rotate")


@test
def tokens_never_in_database_logs_or_output():
    secrets = [s for p in [P] + DOUBLES for s in p.issued]
    secrets += [P.google_secret]
    assert len(secrets) > 20, len(secrets)
    blobs = []
    for d in DATAS:
        for f in glob.glob(os.path.join(d.data, "coldseq.db*")):
            with open(f, "rb") as fh:
                blobs.append((f, fh.read()))
        if os.path.exists(d.log):
            with open(d.log, "rb") as fh:
                blobs.append((d.log, fh.read()))
    blobs += [("output", o.encode()) for o in OUTPUTS]
    assert len(blobs) > 30, len(blobs)
    for name, b in blobs:
        for s in secrets:
            assert s.encode() not in b, (name, s[:3])


try:
    S = Stack(users=55)
    S.start()
    P = OAuthProviderDouble(S).start()
    tap.main()
finally:
    for x in [P] + DOUBLES:
        if x:
            x.stop()
    if S:
        S.stop()
    if not os.environ.get("OAUTH_KEEP"):
        shutil.rmtree(TMP, ignore_errors=True)
