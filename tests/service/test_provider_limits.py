"""Provider limits and answers (issue 21): coldseq, the real binary, against
the FAKE Gmail and Microsoft 365 submission fronts of tests/lib/fakesubmit.py
(named fakes that relay to the real local stack and answer from their own
rolling counters, never from a script).  The limits are driven by sending.

For each answer, the action coldseq takes, and that a second inbox of the
same campaign keeps sending:
- Gmail 550 5.4.5 / Microsoft 554 5.2.0 (quota): the inbox is paused until
  T, T = when the provider's rolling 24-hour window frees (the oldest send
  in it + 24 h), and is never tried again before T;
- Gmail 454 4.7.0 (too many sessions) and Microsoft 432 4.3.2 (sender
  thread limit): back off (later attempts, growing gaps; never auth_failed,
  never paused without end), then send again once the provider lets it;
- Gmail 535 5.7.8: auth_failed, not retried;
- Microsoft 535 5.7.139 (SMTP AUTH disabled for the mailbox): paused with
  the remedy (enable SMTP AUTH), not auth_failed;
- Microsoft 535 5.7.3 on an OAuth2 inbox: the token is refreshed once and
  the message goes;
- Microsoft 550 5.7.708 / 550 5.1.8 (restricted sender): paused with no
  end and never retried automatically.
Plus `--sent-copy auto` with both fakes: exactly one copy in Sent, and a
simulated three-day run with 10 inboxes at both fakes (small limits set on
both sides): no refusal for a limit coldseq knows, every rolling 24-hour
window after the first day used to >= 95% of min(campaign cap, limit), no
Sent copy doubled.

The limit cases run simulated clocks (`run --clock sim:START,fast`) with
fakes on clock="date" (a send happens at its Date header, which coldseq
writes from its simulated clock)."""
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import tap
from cstool import BIN, coldseq, iso
from fakesubmit import FakeSubmission
from mailstack import Stack
from tap import eq, test

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "oauth"))
from oauth_provider_double import OAuthProviderDouble  # noqa: E402

S = None
LIMIT = 20   # messages per rolling 24 h, at the fake and in coldseq
CAP = 25     # the campaign cap (per local day): min(CAP, LIMIT) = LIMIT
CONTACTS_3D = 10 * LIMIT * 3 + 40   # more than three days allow
USERS = 20 + CONTACTS_3D   # 1..20 inboxes, 21.. contacts
H = 3600


class Data:
    def __init__(self, tag):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-plim-%s-" % tag)
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "service.log")
        self.tag = tag
        self.cs("init", check=0)
        # a simulated clock may not start in the past: a little ahead
        self.start = int(time.time()) + 120

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, "--log-file", self.log, *args,
                       check=check, stdin=stdin, timeout=300)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def add(self, name, fake, user, provider, extra=(), password=None,
            min_gap="2m", daily_cap=50):
        self.cs("inbox", "add", name, "--email", S.user(user), "--smtp",
                "127.0.0.1:%d" % fake.port, "--smtp-tls", "starttls",
                "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                "--ca-file", S.ca_file, "--provider", provider,
                "--daily-cap", str(daily_cap), "--min-gap", min_gap, *extra,
                "--password-stdin", stdin=(password or S.password) + "\n",
                check=0)

    def campaign(self, inboxes, contacts, steps=1, new_per_day=50):
        with open(os.path.join(self.tmp, "s1.txt"), "w") as f:
            f.write("Subject: %s {{first_name}}\n\nHello.\n" % self.tag)
        with open(os.path.join(self.tmp, "s2.txt"), "w") as f:
            f.write("\nAgain.\n")
        self.cs("template", "import", os.path.join(self.tmp, "s1.txt"),
                os.path.join(self.tmp, "s2.txt"), check=0)
        with open(os.path.join(self.tmp, "l.csv"), "w") as f:
            f.write("email,first_name\n" + "".join(
                "%s,C%d\n" % (S.user(u), u) for u in contacts))
        self.cs("contacts", "import", os.path.join(self.tmp, "l.csv"),
                "--list", "l", check=0)
        with open(os.path.join(self.tmp, "c.yaml"), "w") as f:
            f.write("name: c\nlist: l\ninboxes: [%s]\ntimezone: UTC\n"
                    "new_contacts_per_day: %d\n"
                    "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
                    "from: \"00:00\", to: \"24:00\"}\nsteps:\n"
                    "  - template: s1\n" % (", ".join(inboxes), new_per_day) +
                    "".join("  - template: s2\n    delay: 1 day\n"
                            for _ in range(steps - 1)))
        self.cs("campaign", "create", os.path.join(self.tmp, "c.yaml"),
                check=0)
        self.cs("campaign", "start", "c", check=0)

    def run(self, frm, until):
        """A simulated run from self.start + frm to self.start + until
        (seconds)."""
        return self.cs("run", "--no-watch", "--clock",
                       "sim:%s,fast" % iso(self.start + frm), "--until",
                       iso(self.start + until), check=0)

    def status(self, name):
        doc = json.loads(self.cs("status", "--json", check=0).stdout)
        return {i["name"]: i for i in doc["inboxes"]}[name]

    def listed(self, name):
        doc = json.loads(self.cs("inbox", "list", "--json", check=0).stdout)
        return {i["name"]: i for i in doc}[name]

    def shown(self, name):
        return self.cs("inbox", "show", name, check=0).stdout

    def logged(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""


def parse_iso(s):
    return datetime.datetime.fromisoformat(
        s.replace("Z", "+00:00")).timestamp()


def reached(fakes_users):
    """Recipient -> number of accepted sends, over (fake, user) pairs."""
    out = {}
    for f, u in fakes_users:
        for s in f.sends(u):
            for r in s["rcpts"]:
                out[r] = out.get(r, 0) + 1
    return out


def limit_codes(f, u):
    return [(r["code"], r["enhanced"]) for r in f.refusals(u)]


# ------------------------------------------------ quota: paused until T

def paused_until_the_window_frees(fake_provider, provider, code, enh, tag,
                                  a, b, contacts):
    d = Data(tag)
    with FakeSubmission(S, fake_provider, clock="date",
                        users={a: {"messages_24h": 2}, b: {}}) as f:
        d.add("lim", f, a, provider)
        d.add("other", f, b, provider)
        d.campaign(["lim", "other"], contacts)
        d.run(0, 6 * H)
        # the provider refused "lim" once, with its answer
        eq(limit_codes(f, a), [(code, enh)], "refusals of lim")
        eq(len(f.sends(a)), 2)
        t = f.frees_at(a)
        assert t is not None and t > d.start, t
        st = d.status("lim")
        eq(st["status"], "paused", "lim after %s" % enh)
        assert st["paused_until"], st
        until = parse_iso(st["paused_until"])
        # T: when the rolling window frees, not the next local day
        assert abs(until - t) <= 120, (st["paused_until"], iso(t))
        assert enh in (st["paused_reason"] or ""), st
        assert enh in d.shown("lim"), d.shown("lim")
        assert enh in d.logged(), d.logged()[-2000:]
        # the other inbox kept sending meanwhile
        assert len(f.sends(b)) >= len(contacts) - 3, f.sends(b)
        eq(d.status("other")["status"], "active")
        # to T + 2 days: never tried before T, every contact once
        d.run(6 * H, 2 * 24 * H)
        eq(limit_codes(f, a), [(code, enh)], "lim retried before T")
        late = [s["time"] for s in f.sends(a)[2:]]
        assert all(x >= t for x in late), (late, t)
        got = reached([(f, a), (f, b)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))
        eq(set(got.values()), {1}, "a contact reached twice")


@test
def gmail_5_4_5_pauses_until_the_rolling_window_frees():
    paused_until_the_window_frees("gmail", "google", 550, "5.4.5", "g545",
                                  1, 2, range(21, 29))


@test
def microsoft_5_2_0_pauses_until_the_rolling_window_frees():
    paused_until_the_window_frees("microsoft", "microsoft", 554, "5.2.0",
                                  "m520", 3, 4, range(29, 37))


# ---------------------------------------------------------- back off

def attempt_times(d, name):
    """Sim times (s) of the inbox's attempts coldseq recorded, oldest
    first (every messages row and every retry attempt)."""
    rows = d.db("SELECT m.created_at FROM messages m JOIN inboxes i ON "
                "i.id = m.inbox_id WHERE i.name = ? ORDER BY m.created_at",
                name)
    return [r[0] / 1000.0 for r in rows]


@test
def gmail_454_too_many_sessions_backs_off():
    a, b = 5, 6
    contacts = list(range(37, 43))
    d = Data("g454")
    with FakeSubmission(S, "gmail", clock="date",
                        users={a: {"max_sessions": 1}, b: {}}) as f:
        d.add("busy", f, a, "google")
        d.add("other", f, b, "google")
        # the human's own mail client holds the one session there is
        human = __import__("smtplib").SMTP("127.0.0.1", f.port, timeout=30)
        human.ehlo()
        human.starttls(context=S.ssl_context())
        human.ehlo()
        human.login(S.user(a), S.password)
        d.campaign(["busy", "other"], contacts)
        d.run(0, 4 * H)
        refused = f.refusals(a)
        assert refused and {(r["code"], r["enhanced"], r["at"])
                            for r in refused} == {(454, "4.7.0", "AUTH")}, \
            refused
        # backed off: a few attempts in 4 hours, never a tight loop
        assert 2 <= len(refused) <= 6, len(refused)
        st = d.status("busy")
        eq(d.listed("busy")["status"] != "auth_failed", True, "auth_failed")
        assert st["status"] == "active" or st["paused_until"], st
        # the gaps between attempts grow
        times = attempt_times(d, "busy")
        gaps = [y - x for x, y in zip(times, times[1:])]
        assert all(g >= 60 for g in gaps), gaps
        assert gaps == sorted(gaps), gaps
        # the other inbox kept sending
        assert len(f.sends(b)) >= len(contacts) - 2, f.sends(b)
        human.quit()
        d.run(4 * H, 2 * 24 * H)
        got = reached([(f, a), (f, b)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))
        eq(set(got.values()), {1})


@test
def microsoft_432_sender_thread_limit_backs_off():
    a, b = 7, 8
    contacts = list(range(43, 51))
    d = Data("m432")
    with FakeSubmission(S, "microsoft", clock="date",
                        users={a: {"per_minute": 1}, b: {}}) as f:
        # a cap this high spreads sends 17 s apart: two in a minute
        d.add("fast", f, a, "microsoft", min_gap="15s", daily_cap=5000)
        d.add("other", f, b, "microsoft")
        d.campaign(["fast", "other"], contacts)
        d.run(0, 12 * H)
        refused = f.refusals(a)
        assert refused, "the limit was never reached: test not valid"
        eq({(r["code"], r["enhanced"]) for r in refused}, {(432, "4.3.2")})
        # after each refusal, the next attempt waits for the minute to free
        attempts = sorted([s["time"] for s in f.sends(a)] +
                          [r["when"] for r in refused])
        for r in refused:
            nxt = [x for x in attempts if x > r["when"]]
            assert not nxt or nxt[0] >= r["when"] + 60, (r, nxt)
        assert len(refused) <= 2, "432 again and again: %d" % len(refused)
        eq(d.listed("fast")["status"] != "auth_failed", True)
        st = d.status("fast")
        assert st["status"] == "active" or (
            st["paused_until"] and parse_iso(st["paused_until"]) <=
            d.start + 12 * H), st
        got = reached([(f, a), (f, b)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))
        eq(set(got.values()), {1})


# ------------------------------------------------------- authentication

@test
def gmail_535_5_7_8_is_auth_failed():
    a, b = 9, 10
    contacts = list(range(51, 55))
    d = Data("g578")
    with FakeSubmission(S, "gmail", clock="date",
                        users={a: {"password": "the-new-password"},
                               b: {}}) as f:
        d.add("wrong", f, a, "google")   # the stack's (old) password
        d.add("other", f, b, "google")
        d.campaign(["wrong", "other"], contacts)
        d.run(0, 2 * 24 * H)
        eq(limit_codes(f, a), [(535, "5.7.8")], "tried once, never again")
        eq(f.sends(a), [])
        ib = d.listed("wrong")
        eq(ib["status"], "auth_failed")
        assert "5.7.8" in (ib.get("auth_reason") or ""), ib
        got = reached([(f, b)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))


@test
def microsoft_5_7_139_pauses_with_the_remedy_not_auth_failed():
    a, b = 11, 12
    contacts = list(range(55, 59))
    d = Data("m5139")
    with FakeSubmission(S, "microsoft", clock="date",
                        users={a: {"smtp_auth": False}, b: {}}) as f:
        d.add("noauth", f, a, "microsoft")
        d.add("other", f, b, "microsoft")
        d.campaign(["noauth", "other"], contacts)
        d.run(0, 24 * H)
        eq(limit_codes(f, a), [(535, "5.7.139")])
        ib = d.listed("noauth")
        assert ib["status"] != "auth_failed", ib
        st = d.status("noauth")
        eq(st["status"], "paused")
        reason = (st["paused_reason"] or "").lower()
        assert "5.7.139" in reason and "authenticated smtp" in reason, st
        # Basic authentication for SMTP AUTH is being retired: warned
        assert "basic auth" in d.shown("noauth").lower(), d.shown("noauth")
        got = reached([(f, b)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))


@test
def microsoft_5_7_3_refreshes_the_token_once():
    a, b = 13, 14
    contacts = [59]
    d = Data("m573")
    with OAuthProviderDouble(S) as p, \
            FakeSubmission(S, "microsoft", users={a: {}, b: {}}) as f:
        for k, v in (("oauth.microsoft.client_id", p.ms_client),
                     ("oauth.microsoft.device_code_url",
                      p.url("/{tenant}/devicecode")),
                     ("oauth.microsoft.token_url", p.url("/{tenant}/token"))):
            d.cs("config", "set", k, v, check=0)
        proc = subprocess.Popen(
            [BIN, "--data-dir", d.data, "inbox", "connect", "microsoft",
             "--email", S.user(a), "--name", "oauth", "--smtp",
             "127.0.0.1:%d" % f.port, "--smtp-tls", "starttls", "--imap",
             "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
             "--ca-file", S.ca_file], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(60, proc.kill)
        timer.start()
        try:
            while True:
                line = proc.stdout.readline()
                assert line, "connect ended before the code"
                if "enter the code" in line:
                    p.approve(line.split()[-1], S.user(a))
                    break
            out, err = proc.communicate(timeout=60)
        finally:
            timer.cancel()
        eq(proc.returncode, 0, err)
        d.add("other", f, b, "microsoft")
        # the provider drops the access token early: the fake refuses it
        p.drop(p.tokens_of(S.user(a)))
        before = p.refresh_attempts(S.user(a))
        d.campaign(["oauth"], contacts)
        svc = subprocess.Popen([BIN, "--data-dir", d.data, "--log-file",
                                d.log, "run", "--no-watch"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 60
            while not f.sends(a) and time.monotonic() < end:
                time.sleep(0.2)
        finally:
            svc.terminate()
            svc.wait(60)
        eq(limit_codes(f, a), [(535, "5.7.3")])
        eq(len(f.sends(a)), 1, "sent after the refresh")
        eq(p.refresh_attempts(S.user(a)) - before, 1, "refreshes")
        eq(d.listed("oauth")["status"], "active")


@test
def microsoft_restricted_sender_pauses_without_end():
    for code, tag, a, b, contacts in (("5.7.708", "m708", 15, 16,
                                       range(60, 64)),
                                      ("5.1.8", "m518", 17, 18,
                                       range(64, 68))):
        d = Data(tag)
        with FakeSubmission(S, "microsoft", clock="date",
                            users={a: {"restricted": code}, b: {}}) as f:
            d.add("blocked", f, a, "microsoft")
            d.add("other", f, b, "microsoft")
            d.campaign(["blocked", "other"], contacts)
            d.run(0, 3 * 24 * H)
            eq(limit_codes(f, a), [(550, code)], "never retried")
            st = d.status("blocked")
            eq((st["status"], st["paused_until"]), ("paused", None), code)
            reason = st["paused_reason"] or ""
            assert code in reason and "admin" in reason.lower(), st
            assert code in d.shown("blocked"), d.shown("blocked")
            got = reached([(f, b)])
            eq(sorted(got), sorted(S.user(u) for u in contacts))


# ----------------------------------------------------------- Sent copy

@test
def sent_copy_auto_leaves_one_copy_with_both_fakes():
    d = Data("sent")
    contacts = list(range(68, 74))
    with FakeSubmission(S, "gmail", clock="date", users={19: {}}) as g, \
            FakeSubmission(S, "microsoft", clock="date",
                           users={20: {}}) as m:
        d.add("g", g, 19, "google", ("--sent-copy", "auto"))
        d.add("m", m, 20, "microsoft", ("--sent-copy", "auto"))
        d.campaign(["g", "m"], contacts)
        d.run(0, 6 * H)
        got = reached([(g, 19), (m, 20)])
        eq(sorted(got), sorted(S.user(u) for u in contacts))
        for f, u in ((g, 19), (m, 20)):
            mids = [s["message_id"] for s in f.sends(u)]
            assert mids, u
            for mid in mids:
                eq(count_in(u, "Sent", mid), 1, "copies of %s" % mid)


def count_in(user, folder, mid):
    n = 0
    base = S.maildir_of(user, folder)
    for sub in ("new", "cur"):
        dd = os.path.join(base, sub)
        for name in os.listdir(dd) if os.path.isdir(dd) else []:
            with open(os.path.join(dd, name), "rb") as fh:
                for line in fh:
                    if line in (b"\n", b"\r\n"):
                        break
                    if line.lower().startswith(b"message-id:") and \
                            line.split(b":", 1)[1].strip().decode() == mid:
                        n += 1
    return n


def sent_ids(user):
    """Every Message-ID in user's Sent maildir, with repeats."""
    out = []
    base = S.maildir_of(user, "Sent")
    for sub in ("new", "cur"):
        dd = os.path.join(base, sub)
        for name in os.listdir(dd) if os.path.isdir(dd) else []:
            with open(os.path.join(dd, name), "rb") as fh:
                for line in fh:
                    if line in (b"\n", b"\r\n"):
                        break
                    if line.lower().startswith(b"message-id:"):
                        out.append(line.split(b":", 1)[1].strip().decode())
    return out


# ------------------------------------------------ three simulated days

@test
def three_simulated_days_use_the_windows_and_never_hit_a_limit():
    d = Data("3days")
    gm_users, ms_users = list(range(1, 6)), list(range(6, 11))
    contacts = list(range(21, 21 + CONTACTS_3D))
    lim = {"messages_24h": LIMIT}
    t_wall = time.monotonic()
    with FakeSubmission(S, "gmail", clock="date",
                        users={u: dict(lim) for u in gm_users}) as g, \
            FakeSubmission(S, "microsoft", clock="date",
                           users={u: dict(lim, tenant="t")
                                  for u in ms_users},
                           tenants={"t": {"licences": 1}}) as m:
        names = []
        for f, users, prov in ((g, gm_users, "google"),
                               (m, ms_users, "microsoft")):
            for u in users:
                name = "i%d" % u
                names.append(name)
                d.add(name, f, u, prov, ("--sent-copy", "auto"))
                d.cs("inbox", "set", name, "--daily-cap", str(CAP),
                     "--min-gap", "1m", "--limit",
                     "messages_24h=%d" % LIMIT, check=0)
        d.campaign(names, contacts, new_per_day=1000)
        d.run(0, 3 * 24 * H)
        pairs = [(g, u) for u in gm_users] + [(m, u) for u in ms_users]
        for f, u in pairs:
            eq(f.refusals(u), [], "refusals at %s" % S.user(u))
        want = 0.95 * min(CAP, LIMIT)
        end = d.start + 3 * 24 * H
        fullest, emptiest, total = 0, None, 0
        for f, u in pairs:
            times = sorted(s["time"] for s in f.sends(u))
            assert times, u
            first = times[0]
            # every window (t - 24 h, t] ending after the first day: the
            # count drops only when a send leaves it, so look there
            ends = [x + 24 * H for x in times] + times + [end]
            for t in ends:
                if t < first + 24 * H or t > end:
                    continue
                n = sum(1 for x in times if t - 24 * H < x <= t)
                fullest = max(fullest, n)
                emptiest = n if emptiest is None else min(emptiest, n)
                assert n >= want, "%s: %d sends in the 24 h to %s (want " \
                    ">= %.1f)" % (S.user(u), n, iso(t), want)
            total += len(times)
        print("# 3 days, 10 inboxes, limit %d, cap %d: %d sends; every "
              "24 h window after the first day held %d to %d sends" %
              (LIMIT, CAP, total, emptiest, fullest), flush=True)
        got = reached(pairs)
        eq(set(got.values()), {1}, "a contact reached twice")
        for u in gm_users + ms_users:
            ids = sent_ids(u)
            eq(len(ids), len(set(ids)), "a Message-ID twice in %s's Sent"
               % S.user(u))
    took = time.monotonic() - t_wall
    assert took < 240, "the three-day run took %.0f s" % took


if __name__ == "__main__":
    S = Stack(users=USERS).start()
    try:
        tap.main()
    finally:
        S.stop()
