"""The service against faults a real server will not produce on demand,
played by the FAKE SMTP server of tests/lib/fakesmtp.py: a connection lost
after the final dot (the step is held, never resent, until the user
decides), a 421 greeting (the inbox pauses, its contacts wait), a 452 at
RCPT (deferred, retried later under the same Message-ID, each attempt
recorded), one recipient always deferred or refused (tried a bounded
number of times with growing delays, the others go on), `outbox drop`,
`outbox retry` and `outbox resolve --resend` (the same Message-ID, both
attempts listed).  Also: a simulated clock is refused for an inbox that is
not on loopback, and one that starts in the past."""
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
    # within the first pause (15 min): each later failure pauses it again
    # while the row itself waits longer each time
    d.run("+10m")
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
def rcpt_452_is_deferred_and_retried_under_the_same_message_id():
    with FakeSMTP("rcpt452") as f:
        d = Data(f)
        d.run("+1d")
        # the server never took it: one message, tried again and again
        [(mid, outcome)] = d.db("SELECT message_id, outcome FROM messages")
        eq(outcome, "deferred")
        tries = d.db("SELECT message_id, attempt, outcome, code FROM "
                     "send_attempts ORDER BY attempt")
        assert len(tries) >= 2, tries
        eq({(m, o, c) for m, _, o, c in tries}, {(mid, "deferred", 452)})
        eq([a for _, a, _, _ in tries], list(range(1, len(tries) + 1)))
        eq(len(f.messages), 0)
        [(state, attempts, omid)] = d.db("SELECT state, attempts, "
                                         "message_id FROM outbox")
        eq(state, "queued")  # still trying: the server may recover
        eq(omid, mid)
        eq(attempts, len(tries))
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


def to_of(raw):
    for line in raw.decode("latin-1").split("\r\n"):
        if line.lower().startswith("to:"):
            return line
    return ""


def gaps(d, rcpt):
    """The attempts at rcpt's messages, and the gaps between them (ms)."""
    t = [r[0] for r in d.db("SELECT a.started_at FROM send_attempts a JOIN "
                            "messages m ON m.message_id = a.message_id "
                            "WHERE m.recipient = ? ORDER BY a.started_at",
                            rcpt)]
    return t, [b - a for a, b in zip(t, t[1:])]


@test
def one_recipient_deferred_or_refused_does_not_hold_up_the_others():
    """c0 is always deferred (451 at RCPT), c2 always refused (550 5.1.1):
    c1 gets both steps; c0 is tried a bounded number of times, with
    growing delays, under one Message-ID, then fails; c2 is tried once,
    fails and is suppressed."""
    bad, gone = "c0@rcpt.example", "c2@rcpt.example"
    with FakeSMTP("ok", rcpt_replies={
            bad: "451 4.3.0 Temporary lookup failure",
            gone: "550 5.1.1 <c2@rcpt.example>: Recipient address "
                  "rejected: User unknown"}) as f:
        d = Data(f, contacts=3)
        d.run("+6d")
        # the other contact got both steps
        eq(sum("c1@rcpt.example" in to_of(m) for m in f.messages), 2)
        eq(sum(bad in to_of(m) or gone in to_of(m) for m in f.messages), 0)
        # c0: deferred, retried with growing delays, then failed
        t, g = gaps(d, bad)
        assert 3 <= len(t) <= 25, t
        assert all(b >= a for a, b in zip(g, g[1:])), g
        assert g[-1] > g[0], g
        [(state, attempts, why)] = d.db(
            "SELECT o.state, o.attempts, o.reason FROM outbox o JOIN "
            "enrollments e ON e.id = o.enrollment_id JOIN contacts c ON "
            "c.id = e.contact_id WHERE c.email = ?", bad)
        eq(state, "failed")
        eq(attempts, len(t))
        assert "4.3.0" in why, why
        # one Message-ID for all its attempts
        eq(d.db("SELECT count(*) FROM messages WHERE recipient = ?", bad),
           [(1,)])
        # c2: once, failed, suppressed
        eq(len([c for c in f.commands if c.upper().startswith("RCPT") and
                gone in c]), 1)
        eq(d.db("SELECT o.state, o.attempts FROM outbox o JOIN enrollments "
                "e ON e.id = o.enrollment_id JOIN contacts c ON c.id = "
                "e.contact_id WHERE c.email = ?", gone), [("failed", 1)])
        eq(d.db("SELECT count(*) FROM suppressions WHERE value = ?", gone),
           [(1,)])
        n = len(f.commands)
        d.run("+3d")  # nothing more for either
        eq([c for c in f.commands[n:] if bad in c or gone in c], [])
        d.cs("outbox", "check", check=0)


@test
def outbox_drop_and_retry_a_queued_row():
    bad = "c0@rcpt.example"
    with FakeSMTP("ok", rcpt_replies={
            bad: "451 4.3.0 Temporary lookup failure"}) as f:
        d = Data(f, contacts=2)
        d.run("+2h")
        [(rid, state, due, attempts)] = d.db(
            "SELECT o.id, o.state, o.due_at, o.attempts FROM outbox o JOIN "
            "enrollments e ON e.id = o.enrollment_id JOIN contacts c ON "
            "c.id = e.contact_id WHERE c.email = ?", bad)
        eq(state, "queued")
        # retry: due now (it was backing off), same Message-ID
        r = json.loads(d.cs("outbox", "retry", str(rid), "--json",
                            check=0).stdout)
        eq((r["id"], r["state"], r["contact"]), (rid, "queued", bad))
        [(due2, mid)] = d.db("SELECT due_at, message_id FROM outbox WHERE "
                             "id = ?", rid)
        assert due2 < due, (due, due2)
        eq(mid, r["message_id"])
        # drop: never sent, the sequence stops, both in the history
        r = json.loads(d.cs("outbox", "drop", str(rid), "--json",
                            check=0).stdout)
        eq((r["state"], r["contact_state"]), ("failed", "stopped"))
        p = d.cs("outbox", "drop", str(rid), check=1)
        assert "only a queued or held row" in p.stderr, p.stderr
        show = json.loads(d.cs("outbox", "show", str(rid), "--json",
                               check=0).stdout)
        eq([h["action"] for h in show["history"]], ["retried", "dropped"])
        eq(len(show["attempt_list"]), attempts)
        n = len(f.commands)
        d.run("+2d")
        eq([c for c in f.commands[n:] if bad in c], [])
        eq(d.db("SELECT state FROM outbox WHERE id = ?", rid),
           [("failed",)])
        d.cs("outbox", "check", check=0)


@test
def a_resend_keeps_the_message_id_and_lists_both_attempts():
    with FakeSMTP("drop_after_dot") as f:
        d = Data(f)
        d.run("+1d")
        eq(len(f.messages), 1)
        [(rid, mid)] = d.db("SELECT id, message_id FROM outbox WHERE "
                            "state = 'held'")
    with FakeSMTP("ok") as f:
        d.cs("inbox", "set", "fake", "--smtp", "127.0.0.1:%d" % f.port,
             "--ca-file", f.ca_file, check=0)
        p = d.cs("outbox", "resolve", str(rid), "--resend", check=0)
        assert "same Message-ID" in p.stdout, p.stdout
        d.run("+1h")
        eq(len(f.messages), 1)
        ids = [l for l in f.messages[0].decode("latin-1").split("\r\n")
               if l.lower().startswith("message-id:")]
        eq(ids, ["Message-ID: " + mid])
        eq(d.db("SELECT state, message_id FROM outbox WHERE id = ?", rid),
           [("sent", mid)])
        show = json.loads(d.cs("outbox", "show", str(rid), "--json",
                               check=0).stdout)
        eq([(a["attempt"], a["message_id"], a["outcome"])
            for a in show["attempt_list"]],
           [(1, mid, "uncertain"), (2, mid, "sent")])
        eq([h["action"] for h in show["history"]], ["resend"])
        p = d.cs("outbox", "show", str(rid), check=0)
        assert "attempt 1" in p.stdout and "attempt 2" in p.stdout, p.stdout
        d.cs("outbox", "check", check=0)


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
