"""The service against faults a real server will not produce on demand,
played by the FAKE SMTP server of tests/lib/fakesmtp.py: a connection lost
after the final dot (the step is held, never resent, until the user
decides), a 421 greeting (the inbox pauses, its contacts wait), a 452 at
RCPT (deferred, retried later with a new Message-ID).  Also: a simulated
clock is refused for an inbox that is not on loopback, and one that starts
in the past."""
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import BIN, coldseq
from fakesmtp import FakeSMTP
from tap import eq, test


class Data:
    def __init__(self, fake=None, host="127.0.0.1", contacts=1, inboxes=1):
        self.dir = tempfile.mkdtemp(prefix="coldseq-svcf-")
        self.data = os.path.join(self.dir, "data")
        self.cs("init", check=0)
        port = fake.port if fake else 465
        extra = ["--ca-file", fake.ca_file] if fake else []
        for i in range(inboxes):
            self.cs("inbox", "add", "fake%s" % (i or ""), "--email",
                    "sender%s@fake.example" % (i or ""), "--smtp",
                    "%s:%d" % (host, port), "--smtp-tls", "tls", "--imap",
                    "%s:2" % host, *extra, "--password-stdin",
                    stdin="pw\n", check=0)
        self.cs("config", "set", "smtp.command_timeout", "2", check=0)
        self.cs("config", "set", "smtp.connect_timeout", "3", check=0)
        with open(os.path.join(self.dir, "c.csv"), "w") as f:
            f.write("email\n" + "".join("c%d@rcpt.example\n" % i
                                        for i in range(contacts)))
        self.cs("contacts", "import", os.path.join(self.dir, "c.csv"),
                "--list", "l", check=0)
        for n, text in (("a", "Subject: A\n\nHi.\n"), ("b", "\nAgain.\n")):
            with open(os.path.join(self.dir, n + ".txt"), "w") as f:
                f.write(text)
        self.cs("template", "import", os.path.join(self.dir, "a.txt"),
                os.path.join(self.dir, "b.txt"), check=0)
        with open(os.path.join(self.dir, "c.yaml"), "w") as f:
            f.write("name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
                    "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
                    "from: \"00:00\", to: \"24:00\"}\nsteps:\n  - template: "
                    "a\n  - template: b\n    delay: 1 day\n")
        self.cs("campaign", "create", os.path.join(self.dir, "c.yaml"),
                check=0)
        self.cs("campaign", "start", "c", check=0)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=120)

    def run(self, until, check=0):
        return self.cs("run", "--no-watch", "--clock", "sim:now,fast",
                       "--until", until, check=check)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()


@test
def lost_after_the_dot_is_held_and_never_resent():
    with FakeSMTP("drop_after_dot") as f:
        d = Data(f)
        d.run("+3d")
        eq(len(f.messages), 1)  # one DATA, never a second attempt
        eq(d.db("SELECT step, state FROM outbox"), [(1, "held")])
        eq(d.db("SELECT state FROM enrollments"), [("queued",)])
        held = json.loads(d.cs("outbox", "uncertain", "--json",
                               check=0).stdout)
        eq(len(held), 1)
        assert "lost after the message" in held[0]["reason"], held
        d.cs("outbox", "check", check=0)
        d.run("+3d")
        eq(len(f.messages), 1)  # a restart does not resend it either
        # the user says it went out: the sequence goes on
        d.cs("outbox", "resolve", str(held[0]["id"]), "--sent", check=0)
        d.cs("outbox", "resolve", str(held[0]["id"]), "--sent", check=1)
        d.run("+3d")
        eq(len(f.messages), 2)
        eq(d.db("SELECT step, state FROM outbox ORDER BY id"),
           [(1, "sent"), (2, "held")])
        d.cs("outbox", "check", check=0)


@test
def greeting_421_defers_and_the_contact_waits():
    with FakeSMTP("greet421") as f:
        d = Data(f)
        d.run("+2h")
        eq(len(f.messages), 0)
        outcomes = d.db("SELECT outcome, smtp_code FROM messages")
        assert outcomes and set(outcomes) == {("deferred", 421)}, outcomes
        eq(d.db("SELECT step, state FROM outbox"), [(1, "queued")])
        eq(d.db("SELECT c.status, e.state FROM enrollments e JOIN "
                "contacts c ON c.id = e.contact_id"), [("active", "queued")])


@test
def unreachable_server_pauses_the_inbox_and_contacts_wait():
    d = Data()
    d.cs("inbox", "set", "fake", "--smtp", "127.0.0.1:1", check=0)
    d.run("+2h")
    [(status, reason, until)] = d.db("SELECT status, paused_reason, "
                                     "paused_until FROM inboxes")
    eq(status, "paused")
    assert reason and until, (reason, until)
    eq(d.db("SELECT step, state FROM outbox"), [(1, "queued")])
    eq(d.db("SELECT c.status, e.state FROM enrollments e JOIN contacts c "
            "ON c.id = e.contact_id"), [("active", "queued")])
    p = d.cs("inbox", "show", "fake", check=0)
    assert "paused" in p.stdout, p.stdout


@test
def rcpt_452_is_deferred_and_retried_with_a_new_message_id():
    with FakeSMTP("rcpt452") as f:
        d = Data(f)
        d.run("+1d")
        ids = d.db("SELECT message_id, outcome FROM messages ORDER BY id")
        assert len(ids) >= 2, ids
        eq({o for _, o in ids}, {"deferred"})
        eq(len({m for m, _ in ids}), len(ids))  # each attempt its own id
        eq(len(f.messages), 0)
        [(state, attempts)] = d.db("SELECT state, attempts FROM outbox")
        eq(state, "queued")  # still trying: the server may recover
        assert attempts == len(ids), (attempts, ids)
        # deferred for more than 3 days: failed, the contact stops
        d.run("+5d")
        eq(d.db("SELECT state FROM outbox"), [("failed",)])
        [(st, why)] = d.db("SELECT state, reason FROM enrollments")
        eq(st, "stopped")
        assert "deferred for 3 days" in why, why


@test
def sigterm_hands_over_no_further_message():
    """Three resent steps make one batch to a server slow to answer the
    dot: SIGTERM during the first lets it finish and hands the other two
    over to the next start, each sent once."""
    with FakeSMTP("drop_after_dot") as f:
        d = Data(f, contacts=3)
        d.run("+1d")
        held = [r[0] for r in d.db("SELECT id FROM outbox WHERE state = "
                                    "'held'")]
        eq(len(held), 3)
    with FakeSMTP("slow_dot", slow_seconds=3) as f:
        d.cs("inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % f.port,
             "--ca-file", f.ca_file, check=0)
        for i in held:
            d.cs("outbox", "resolve", str(i), "--resend", check=0)
        p = subprocess.Popen([BIN, "--data-dir", d.data, "run",
                              "--no-watch"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not f.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(len(f.messages), 1)
        p.send_signal(signal.SIGTERM)
        t = time.monotonic()
        out = p.communicate(timeout=60)[0].decode()
        took = time.monotonic() - t
        eq(p.returncode, 0, out)
        assert took < 6, took  # the one message's 3 s, not three of them
        eq(len(f.messages), 1)
        eq(sorted(d.db("SELECT state, reason FROM outbox WHERE state != "
                       "'sent' AND step = 1")),
           [("queued", "not attempted: the service is stopping")] * 2)
        d.cs("outbox", "check", check=0)
        d.run("+1h")
        eq(len(f.messages), 3)
        rcpts = [c for c in f.commands if c.upper().startswith("RCPT")]
        eq(len(set(rcpts)), 3, rcpts)  # each contact once
        eq(d.db("SELECT count(*) FROM outbox WHERE step = 1 AND state = "
                "'sent'"), [(3,)])


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@test
def a_step_waiting_for_a_worker_does_not_spin_the_loop():
    """Two inboxes each with a step due, one worker, a server 3 s slow to
    answer the dot: while the first inbox's send is in flight the second
    waits for the worker without the loop turning in the meantime.  It
    used to re-arm a zero timer from the timer's own callback: libuv then
    never left its timers, so no I/O, no completion and no SIGTERM got
    through, and the service hung at full CPU."""
    with FakeSMTP("drop_after_dot") as f:
        d = Data(f, contacts=2, inboxes=2)
        d.run("+1d")
        held = [r[0] for r in d.db("SELECT id FROM outbox WHERE state = "
                                    "'held'")]
        eq(len(held), 2)
    with FakeSMTP("slow_dot", slow_seconds=3) as f:
        for name in ("fake", "fake1"):
            d.cs("inbox", "set", name, "--smtp", "127.0.0.1:%d" % f.port,
                 "--ca-file", f.ca_file, check=0)
        for i in held:
            d.cs("outbox", "resolve", str(i), "--resend", check=0)
        log = open(os.path.join(d.dir, "run.log"), "w+")
        p = subprocess.Popen([BIN, "--data-dir", d.data, "run",
                              "--no-watch", "--workers", "1"],
                             stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not f.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(len(f.messages), 1)  # the first send waits for its answer
        cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
        time.sleep(1.5)
        cpu = cpu_seconds(p.pid) - cpu0
        took = time.monotonic() - t0
        while len(f.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        log.seek(0)
        out = log.read()
        log.close()
        eq(p.returncode, 0, out[-3000:])
        print("# %.2f s of CPU in %.2f s while a step waited for the "
              "worker" % (cpu, took))
        assert cpu < 0.3 * took, (cpu, took)
        eq(len(f.messages), 2)  # then the second went
        eq(d.db("SELECT count(*) FROM outbox WHERE step = 1 AND state = "
                "'sent'"), [(2,)])


@test
def simulated_clock_only_on_loopback_and_not_in_the_past():
    d = Data(host="smtp.example.com")
    p = d.cs("run", "--clock", "sim:now,fast", "--until", "+1d", check=1)
    assert "loopback" in p.stderr and "smtp.example.com" in p.stderr, \
        p.stderr
    eq(d.db("SELECT count(*) FROM outbox"), [(0,)])
    p = d.cs("run", "--clock", "sim:2020-01-01T00:00:00Z,fast", "--until",
             "+1d", check=2)
    assert "now or later" in p.stderr, p.stderr
    p = d.cs("run", "--clock", "sim:now,fast", check=2)
    assert "--until" in p.stderr, p.stderr


tap.main()
