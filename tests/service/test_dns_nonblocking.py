"""The service never blocks on DNS (#22): `coldseq run` (real clock, real
mail stack) asks recipients' MX for esp_match through its one resolver on
the loop (net_dns on c-ares; sequencer/seq_mx.c answers "pending" while a
lookup runs and the answer wakes the planner).  The resolver here is a
black hole, so every MX lookup waits its whole dns.timeout:

  - contacts at well-known domains (gmail.com, outlook.com: the provider
    table's, no DNS) go at once from their provider's inboxes, while the
    slow*.test lookups are still in flight;
  - a CLI nudge (the control socket, served by the same loop) is acted on
    within a second or two during that wait;
  - the slow*.test contacts go too, as "other" (generic inboxes), only
    after their lookup has failed;
  - with a domain pause toward Google on the sending domain and no
    esp_match, a contact whose provider is still being looked up waits for
    the answer (then goes), instead of being pushed 10 minutes away as if
    the pause held it.

Recipients are mailboxes of the stack (extra virtual domains gmail.com,
outlook.com, slow*.test of an Authentication-Results stack, which needs
its own real DNS server: NSD, tests/lib/dnsstack.py); the senders are
stack users whose inboxes carry the provider setting esp_match reads.
Times are compared with the black hole's own clock of each question."""
import email
import email.policy
import email.utils
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time

import tap
from cstool import coldseq
from dnsstack import DnsServer
from mailstack import AuthDomain, AuthSpec, Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TIMEOUT = 3  # dns.timeout: c-ares asks twice, for 1 s then 2 s
SLOW = ["slow%d.test" % i for i in range(1, 5)]
WELL = {"g1@gmail.com": "google", "g2@gmail.com": "google",
        "o1@outlook.com": "microsoft", "o2@outlook.com": "microsoft"}
# inbox -> (stack user, provider setting); ot* are generic ("other")
INBOXES = {"gw1": (1, "google"), "gw2": (2, "google"),
           "ms1": (3, "microsoft"), "ms2": (4, "microsoft"),
           "ot1": (5, "generic"), "ot2": (6, "generic"),
           "ot3": (7, "generic"), "ot4": (8, "generic"),
           "gw3": (9, "google")}
S = None
HOLE = None


class BlackHole:
    """FAULT INJECTOR: a UDP "DNS server" on 127.0.0.1 that reads every
    question and never answers (a real server does not do that on
    purpose; a dead or filtered one looks like this).  Records each
    question's arrival time (time.time()) and name."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.got = []  # (time, qname lower-case, qtype)
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                pkt = self.sock.recvfrom(4096)[0]
            except OSError:
                return
            t = time.time()
            labels, i = [], 12
            while i < len(pkt) and pkt[i]:
                labels.append(pkt[i + 1:i + 1 + pkt[i]].decode("ascii",
                                                               "replace"))
                i += 1 + pkt[i]
            qtype = struct.unpack("!H", pkt[i + 1:i + 3])[0] \
                if i + 3 <= len(pkt) else 0
            with self.lock:
                self.got.append((t, ".".join(labels).lower(), qtype))

    def asked(self, name):
        """Arrival times of the questions for name, oldest first."""
        with self.lock:
            return [t for t, n, _ in self.got if n == name]

    def close(self):
        self.sock.close()


class Data:
    def __init__(self, inboxes):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-dnsnb-")
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "service.log")
        self.cs("init", check=0)
        self.cs("config", "set", "dns.servers", "127.0.0.1:%d" % HOLE.port,
                check=0)
        self.cs("config", "set", "dns.timeout", str(TIMEOUT), check=0)
        for name in inboxes:
            user, prov = INBOXES[name]
            self.cs("inbox", "add", name, "--email", S.user(user),
                    "--provider", prov, "--auth", "password",
                    "--smtp", "127.0.0.1:%d" % S.submission_port,
                    "--smtp-tls", "starttls",
                    "--imap", "127.0.0.1:%d" % S.imaps_port,
                    "--imap-tls", "tls", "--ca-file", S.ca_file,
                    "--daily-cap", "50", "--password-stdin",
                    stdin=S.password + "\n", check=0)
        self.write("s1.txt", "Subject: Hello {{first_name}}\n\nStep 1.\n")
        self.cs("template", "import", self.path("s1.txt"), check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=120)

    def campaign(self, name, inboxes, contacts, esp_match, start=True):
        self.write(name + ".csv", "email,first_name\n" + "".join(
            "%s,P\n" % c for c in contacts))
        self.cs("contacts", "import", self.path(name + ".csv"), "--list",
                name, check=0)
        self.write(name + ".yaml", (
            "name: %s\nlist: %s\ninboxes: [%s]\ntimezone: UTC\n"
            "esp_match: %s\nnew_contacts_per_day: 50\n"
            "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
            "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n" % (
                name, name, ", ".join(inboxes),
                "true" if esp_match else "false")))
        self.cs("campaign", "create", self.path(name + ".yaml"), check=0)
        self.cs("campaign", "start", name, check=0)
        if not start:
            self.cs("campaign", "pause", name, check=0)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def queued(self):
        """{contact: (inbox name, outbox created_at in s, state)}."""
        return {e: (i, t / 1000.0, st) for e, i, t, st in self.db(
            "SELECT c.email, i.name, o.created_at, o.state FROM outbox o "
            "JOIN enrollments e ON e.id = o.enrollment_id "
            "JOIN contacts c ON c.id = e.contact_id "
            "JOIN inboxes i ON i.id = o.inbox_id")}

    def spawn(self):
        return subprocess.Popen(
            [BIN, "--data-dir", self.data, "--log-file", self.log, "--verbose", "run"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def logged(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    eq(p.returncode, 0, err)


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def arrived(addr, subject_start="Hello"):
    """(delivery time, From address) of each coldseq message in addr's
    INBOX maildir (the file's mtime: when Dovecot wrote it)."""
    out = []
    base = S.maildir_of(addr)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                m = email.message_from_bytes(f.read(),
                                             policy=email.policy.default)
            if str(m["Subject"]).startswith(subject_start):
                out.append((os.stat(p).st_mtime,
                            email.utils.parseaddr(m["From"])[1]))
    return out


def user_of(inbox):
    return S.user(INBOXES[inbox][0])


@test
def well_known_contacts_go_while_mx_lookups_hang_then_slow_ones_as_other():
    d = Data(list(INBOXES))
    slow = ["s@" + dom for dom in SLOW]
    # the slow contacts first: a pass that blocked on their lookups would
    # hold up everything behind them
    d.campaign("c", [i for i in INBOXES if i != "gw3"],
               slow + sorted(WELL), esp_match=True)
    # a second campaign, paused: resumed (a nudge on the control socket)
    # while the lookups hang
    d.campaign("n", ["gw3"], ["g3@gmail.com"], esp_match=True, start=False)
    p = d.spawn()
    try:
        t_ask = wait_until(lambda: HOLE.asked(SLOW[0]), 30,
                           "the first MX question")[0]
        # the nudge, in the background: a loop (and a pass's database
        # transaction) stuck in a lookup would keep it waiting
        t_resume = time.time()
        resume = subprocess.Popen(
            [BIN, "--data-dir", d.data, "campaign", "resume", "n"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        fails_at = t_ask + TIMEOUT  # no lookup can fail before this
        want_from = {c: {user_of(i) for i, (_, pv) in INBOXES.items()
                         if pv == prov} for c, prov in WELL.items()}
        for c in sorted(WELL):
            [(t_arr, frm)] = wait_until(lambda: arrived(c), 30,
                                        c + " step 1")
            print("# %s arrived %+.2f s after the first MX question" %
                  (c, t_arr - t_ask))
            assert frm in want_from[c], (c, frm)
            # in the mailbox before any lookup could fail (blocking, the
            # loop would have waited len(SLOW) * TIMEOUT first)
            assert t_arr < fails_at, (c, "arrived %+.2f s" % (t_arr - t_ask))
        # the nudge was served during the wait, within a second or two
        [(t_arr, frm)] = wait_until(lambda: arrived("g3@gmail.com"), 30,
                                    "the nudged campaign's step 1")
        out, err = resume.communicate(timeout=60)
        eq(resume.returncode, 0, err)
        eq(frm, user_of("gw3"))
        print("# the nudged campaign's contact arrived %.2f s after "
              "'campaign resume' began" % (t_arr - t_resume))
        assert t_arr < fails_at, "arrived %+.2f s" % (t_arr - t_ask)
        assert t_arr - t_resume < 2.5, t_arr - t_resume
        # the slow contacts: as "other", once their lookup has failed
        others = {user_of(i) for i, (_, pv) in INBOXES.items()
                  if pv == "generic"}
        froms = set()
        for c in slow:
            [(t_arr, frm)] = wait_until(lambda: arrived(c), 60,
                                        c + " step 1")
            asked = HOLE.asked(c.split("@")[1])
            assert frm in others, (c, frm)
            froms.add(frm)
            # both tries reached the server before coldseq gave up
            assert len(asked) >= 2, (c, asked)
            # the pass that queued it began once the lookup had failed
            q = d.queued()[c][1]
            print("# %s queued %.2f s, arrived %.2f s after its first MX "
                  "question" % (c, q - asked[0], t_arr - asked[0]))
            assert q >= asked[0] + TIMEOUT - 0.2, (c, q - asked[0])
        eq(len(froms), len(slow), "one generic inbox each")
    except BaseException:
        dump(d)
        raise
    finally:
        stop(p)
    eq(sorted(set(st for _, _, st in d.queued().values())), ["sent"])
    shutil.rmtree(d.tmp, ignore_errors=True)


def dump(d):
    """What a failure needs: the questions, the enrollments, the log."""
    t0 = HOLE.got[0][0] if HOLE.got else 0
    print("# black hole: %r" % [(round(t - t0, 2), n)
                                for t, n, _ in HOLE.got])
    now = time.time() * 1000
    print("# enrollments (due in s): %r" % [
        (e, st, round((due - now) / 1000.0, 1), why) for e, st, due, why in
        d.db("SELECT c.email, e.state, e.due_at, e.reason FROM enrollments "
             "e JOIN contacts c ON c.id = e.contact_id")])
    print("# service log (%s):" % d.log)
    for line in d.logged().splitlines()[-40:]:
        if " dns: " in line or " info " in line or " warn " in line:
            print("#   " + line)


@test
def a_pending_lookup_under_a_domain_pause_waits_for_the_answer():
    # no esp_match: the provider is asked only because the sending
    # domain (example.test) is paused toward Google
    d = Data(["ot1"])
    d.campaign("p", ["ot1"], ["s@slowp.test", "g4@gmail.com"],
               esp_match=False)
    now = int(time.time() * 1000)
    d.db("INSERT INTO domain_pauses(domain, provider, mode, until, code, "
         "reason, inbox_id, created_at, updated_at) VALUES ('example.test', "
         "'google', 'pause', ?, '5.7.26', 'test pause', NULL, ?, ?)",
         now + 3600000, now, now)
    p = d.spawn()
    try:
        t_ask = wait_until(lambda: HOLE.asked("slowp.test"), 30,
                           "the MX question for slowp.test")[0]
        [(t_arr, frm)] = wait_until(lambda: arrived("s@slowp.test"),
                                    TIMEOUT + 20, "s@slowp.test step 1")
        eq(frm, user_of("ot1"))
        q = d.queued()
        print("# s@slowp.test queued %.2f s after its MX question" %
              (q["s@slowp.test"][1] - t_ask))
        assert q["s@slowp.test"][1] >= t_ask + TIMEOUT - 0.2, \
            q["s@slowp.test"][1] - t_ask
        # the pause still holds the Gmail contact (no DNS needed for it)
        assert "g4@gmail.com" not in q, q
        [(due,)] = d.db("SELECT e.due_at FROM enrollments e JOIN contacts c "
                        "ON c.id = e.contact_id WHERE c.email = ?",
                        "g4@gmail.com")
        assert due > now + 500000, due - now
        eq(arrived("g4@gmail.com"), [])
    except BaseException:
        dump(d)
        raise
    finally:
        stop(p)
    shutil.rmtree(d.tmp, ignore_errors=True)


HOLE = BlackHole()
# the stack's own receivers (policyd-spf, opendkim) resolve through NSD;
# only coldseq asks the black hole
dns = DnsServer({"example.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"']})
try:
    dns.start()
    domains = {"gmail.com": AuthDomain(users=["g1", "g2", "g3", "g4"]),
               "outlook.com": AuthDomain(users=["o1", "o2"]),
               "slowp.test": AuthDomain(users=["s"])}
    for dom in SLOW:
        domains[dom] = AuthDomain(users=["s"])
    S = Stack(users=9, auth=AuthSpec(dns, domains))
    S.start()
    try:
        tap.main()
    finally:
        S.stop()
finally:
    dns.close()
    HOLE.close()
