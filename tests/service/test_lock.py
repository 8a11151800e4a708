"""One service per data directory, whatever the order of starts and stops;
`run --detach` that tells the truth; `vault rekey|rotate` refused while a
service runs, and never racing one that starts.

The data directory's lock (DATA/coldseq.pid, flock) is held by `coldseq
run` and by `vault rekey`.  A service logs "coldseq running" once it holds
the lock and "coldseq stopped" before it lets it go, so the intervals
between those lines, with their millisecond timestamps, never overlap when
the lock works.
"""
import datetime
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
ROUNDS = int(os.environ.get("LOCK_ROUNDS", "30"))
S = None


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def fresh():
    tmp = tempfile.mkdtemp(prefix="coldseq-lock-")
    data = os.path.join(tmp, "data")
    coldseq(data, "init", check=0)
    return tmp, data


def status(data):
    return json.loads(coldseq(data, "status", "--json",
                              check=0).stdout)["service"]


def alive(pid):
    """pid runs (a zombie, left unreaped by a container's init, does
    not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Run:
    """One `coldseq run` in the foreground, its stderr in its own file."""

    def __init__(self, tmp, data, n, *args):
        self.log = os.path.join(tmp, "run%03d.log" % n)
        with open(self.log, "w") as f:
            self.p = subprocess.Popen(
                [BIN, "--data-dir", data, "run", "--no-watch"] + list(args),
                stdout=subprocess.DEVNULL, stderr=f)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def at(self, what):
        """The timestamp of the log line saying what, or None."""
        for line in self.text().splitlines():
            if what in line:
                ts = line.split()[0]
                return datetime.datetime.fromisoformat(
                    ts.replace("Z", "+00:00"))
        return None

    def running(self):
        return "coldseq running (pid" in self.text()

    def stopped(self):
        return "coldseq stopped" in self.text()

    def settled(self):
        """Past the lock (running) or gone."""
        return self.p.poll() is not None or self.running()


def check_runs(runs):
    """Every run either held the lock (running .. stopped, exit 0) or was
    refused naming the holder (exit 1, never running); the intervals of
    the holders never overlap."""
    spans = []
    for r in runs:
        t = r.text()
        if r.running():
            eq(r.p.returncode, 0, "%s: exit status\n%s" % (r.log, t))
            a, b = r.at("coldseq running (pid"), r.at("coldseq stopped")
            assert a and b, (r.log, t)
            spans.append((a, b, r.log))
        else:
            eq(r.p.returncode, 1, "%s: exit status\n%s" % (r.log, t))
            assert re.search(r"already running for .* \(pid [1-9]\d*\)",
                             t), (r.log, t)
    spans.sort()
    for (a1, b1, l1), (a2, b2, l2) in zip(spans, spans[1:]):
        assert b1 <= a2, "two services at once: %s ran %s .. %s, %s ran " \
            "%s .. %s" % (l1, a1, b1, l2, a2, b2)
    return len(spans)


@test
def starts_and_stops_race_never_two_services():
    """A runs; B starts, A gets SIGTERM, C (and sometimes D) starts, all
    with random small delays; many rounds.  At any moment at most one
    service has said "running" and not yet "stopped", `status` names it,
    and the logged intervals never overlap."""
    tmp, data = fresh()
    seed = int(os.environ.get("LOCK_SEED", random.randrange(1 << 30)))
    print("# seed %d" % seed)
    rnd = random.Random(seed)
    runs = []

    def start():
        r = Run(tmp, data, len(runs))
        runs.append(r)
        return r

    try:
        cur = start()
        wait_until(cur.settled, 30, "the first service")
        assert cur.running(), cur.text()
        for _ in range(ROUNDS):
            new = [start()]
            time.sleep(rnd.uniform(0, 0.4))
            cur.p.send_signal(signal.SIGTERM)
            time.sleep(rnd.uniform(0, 0.3))
            new.append(start())
            if rnd.random() < 0.5:
                time.sleep(rnd.uniform(0, 0.2))
                new.append(start())
            cur.p.wait(timeout=30)
            for r in new:
                wait_until(r.settled, 30, "run in " + r.log)
            live = [r for r in runs if r.p.poll() is None and
                    r.running() and not r.stopped()]
            assert len(live) <= 1, "services at once: %s" % [
                (r.p.pid, r.log) for r in live]
            if not live:
                cur = start()
                wait_until(cur.settled, 30, "run in " + cur.log)
                assert cur.running(), cur.text()
            else:
                cur = live[0]
            st = status(data)
            eq((st["running"], st["pid"]), (True, cur.p.pid), "status")
        cur.p.send_signal(signal.SIGTERM)
        cur.p.wait(timeout=30)
    finally:
        for r in runs:
            if r.p.poll() is None:
                r.p.send_signal(signal.SIGTERM)
        for r in runs:
            try:
                r.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                r.p.kill()
                r.p.wait()
    held = check_runs(runs)
    assert held >= ROUNDS // 2, (held, len(runs))
    eq(status(data)["running"], False, "status after the last stop")
    print("# %d runs, %d held the lock" % (len(runs), held))


@test
def detach_twice_the_second_names_the_first():
    tmp, data = fresh()
    a = coldseq(data, "run", "--detach", "--no-watch", check=0)
    m = re.search(r"in the background \(pid (\d+)\)", a.stdout)
    assert m, a.stdout + a.stderr
    pid = int(m.group(1))
    try:
        # it holds the lock and runs when the parent says so
        eq(status(data), {"running": True, "pid": pid}, "status")
        assert alive(pid)
        b = coldseq(data, "run", "--detach", "--no-watch", check=1)
        assert "already running" in b.stderr and \
            "(pid %d)" % pid in b.stderr, b.stderr
        assert "in the background" not in b.stdout, b.stdout
        # the first one still runs and answers
        time.sleep(0.5)
        assert alive(pid)
        eq(status(data), {"running": True, "pid": pid}, "status")
        c = coldseq(data, "run", "--no-watch", check=1)
        assert "(pid %d)" % pid in c.stderr, c.stderr
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not alive(pid), 30, "the service to stop")
    eq(status(data)["running"], False, "status after SIGTERM")
    with open(os.path.join(data, "coldseq.log")) as f:
        log = f.read()
    assert "coldseq stopped" in log, log
    eq(log.count("coldseq running (pid"), 1, log)


@test
def detach_reports_a_start_that_fails():
    """A service that cannot start (the lock taken by a rekey) makes
    `run --detach` exit 1 with the reason."""
    tmp, data = fresh()
    with open(os.path.join(data, "coldseq.pid"), "a+") as f:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_EX)
        f.truncate(0)
        f.write("%d vault-rekey\n" % os.getpid())
        f.flush()
        p = coldseq(data, "run", "--detach", "--no-watch", check=1)
        assert "vault rekey is in progress" in p.stderr and \
            "(pid %d)" % os.getpid() in p.stderr, p.stderr
        q = coldseq(data, "run", "--no-watch", check=1)
        assert "vault rekey is in progress" in q.stderr, q.stderr
        # a rekey is not a service
        eq(status(data)["running"], False, "status during a rekey")
    eq(status(data)["running"], False, "status")


# ---- vault rekey with a service ---------------------------------------------

class Env:
    """A data dir with inbox user1 on the stack and a one-step campaign
    to the given stack users, paused."""

    def __init__(self, contacts):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-lockv-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        self.add_inbox("user1", 1)
        self.write("c.csv", "email,first_name\n" + "".join(
            "%s,P%d\n" % (S.user(u), u) for u in contacts))
        self.cs("contacts", "import", self.path("c.csv"), "--list", "l",
                check=0)
        self.write("s1.txt", "Subject: K1 for {{first_name}}\n\nHello.\n")
        self.cs("template", "import", self.path("s1.txt"), check=0)
        self.write("c.yaml", "name: c\nlist: l\ninboxes: all\n"
                   "timezone: UTC\nwindow: {days: [mon, tue, wed, thu, "
                   "fri, sat, sun], from: \"00:00\", to: \"24:00\"}\n"
                   "steps:\n  - template: s1\n")
        self.cs("campaign", "create", self.path("c.yaml"), check=0)
        self.cs("campaign", "start", "c", check=0)
        self.cs("campaign", "pause", "c", check=0)

    def add_inbox(self, name, user):
        self.cs("inbox", "add", name, "--email", S.user(user),
                "--smtp", "127.0.0.1:%d" % S.submission_port,
                "--smtp-tls", "starttls", "--imap",
                "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                "--ca-file", S.ca_file, "--daily-cap", "200",
                "--password-stdin", stdin=S.password + "\n", check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=120)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()


def got_k1(user):
    """The files in a stack user's INBOX maildir."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(S.maildir_of(user), sub)
        out += os.listdir(d) if os.path.isdir(d) else []
    return out


@test
def rekey_and_rotate_refused_while_the_service_runs():
    env = Env([2])
    key = open(os.path.join(env.data, "vault.key"), "rb").read()
    svc = subprocess.Popen([BIN, "--data-dir", env.data, "run"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: status(env.data)["running"], 30, "the service")
        for cmd in ("rekey", "rotate"):
            p = env.cs("vault", cmd, check=1)
            assert "(pid %d)" % svc.pid in p.stderr and \
                "running" in p.stderr, p.stderr
            assert not os.path.exists(os.path.join(env.data,
                                                   "vault.key.new"))
        # nothing changed: the same key, every secret readable
        eq(open(os.path.join(env.data, "vault.key"), "rb").read(), key,
           "the key file")
        env.cs("vault", "status", check=0)
        # and the running service still unseals the password: it sends
        before = len(got_k1(2))
        env.cs("campaign", "resume", "c", check=0)
        wait_until(lambda: len(got_k1(2)) > before, 30,
                   "step 1 delivered to user2")
        # recorded once the session's result is back on the loop
        wait_until(lambda: env.db("SELECT state FROM outbox") ==
                   [("sent",)], 30, "the outbox row sent")
    finally:
        svc.send_signal(signal.SIGTERM)
        _, err = svc.communicate(timeout=60)
    eq(svc.returncode, 0, err)
    assert "failed authentication" not in err, err
    # stopped: the rekey goes through, and the secrets open under the
    # new key
    env.cs("vault", "rekey", check=0)
    assert open(os.path.join(env.data, "vault.key"), "rb").read() != key
    out = env.cs("vault", "status", check=0).stdout
    assert "0 unreadable" in out, out


@test
def rekeys_racing_service_starts_never_leave_a_stale_key():
    """A service start and a rekey, at random offsets, many times: one of
    them is refused, or they run one after the other, and a service that
    runs always holds the key that opens the stored password (its watcher
    logs in over IMAP)."""
    env = Env([3])
    rnd = random.Random(int(os.environ.get("LOCK_SEED",
                                           random.randrange(1 << 30))))
    outcomes = {}
    for n in range(8):  # stack users 4..11
        log = env.path("race%d.log" % n)
        rk_first = rnd.random() < 0.5
        if rk_first:
            rkp = subprocess.Popen([BIN, "--data-dir", env.data, "vault",
                                    "rekey"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            time.sleep(rnd.uniform(0, 0.25))
        with open(log, "w") as f:
            svc = subprocess.Popen([BIN, "--data-dir", env.data, "run"],
                                   stdout=subprocess.DEVNULL, stderr=f)
        try:
            if not rk_first:
                time.sleep(rnd.uniform(0, 0.25))
                rkp = subprocess.Popen([BIN, "--data-dir", env.data,
                                        "vault", "rekey"],
                                       stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            out, err = rkp.communicate(timeout=60)
            rk = subprocess.CompletedProcess(rkp.args, rkp.returncode, out,
                                             err)
            wait_until(lambda: svc.poll() is not None or
                       "coldseq running" in open(log).read(), 30,
                       "the service to start or give up")
            text = open(log).read()
            ran = "coldseq running" in text
            if ran:
                if rk.returncode != 0:
                    assert "(pid %d)" % svc.pid in rk.stderr, rk.stderr
                # a password sealed now under the key file's key: the
                # service unseals it for its new watcher, which logs in
                name = "r%d" % n
                env.add_inbox(name, 4 + n)

                def synced():
                    return env.db(
                        "SELECT count(*) FROM inbox_folders f JOIN "
                        "inboxes i ON i.id = f.inbox_id WHERE i.name = ? "
                        "AND f.synced_at IS NOT NULL", name)[0][0] > 0
                wait_until(lambda: synced() or "failed authentication"
                           in open(log).read(), 30,
                           "the watcher of %s to sync" % name)
                assert synced(), open(log).read()
            else:
                assert "vault rekey is in progress" in text, text
                eq(rk.returncode, 0, rk.stderr)
            key = (ran, rk.returncode == 0)
            outcomes[key] = outcomes.get(key, 0) + 1
        finally:
            if svc.poll() is None:
                svc.send_signal(signal.SIGTERM)
            svc.wait(timeout=60)
        env.cs("vault", "status", check=0)
    print("# (service ran, rekey done): %r" % outcomes)


try:
    S = Stack(users=12)
    S.start()
    tap.main()
finally:
    if S:
        S.stop()
