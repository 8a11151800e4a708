"""Issue 17, item 2: a contact whose data the message builder refuses at
send time (a 3,000-character first name in the To display name, a custom
field with a line break that the template puts in the Subject) must not
stall its inbox.  The step is held with the reason, like a field the
template cannot fill; the inbox's other contacts are sent; `run --until`
ends; `campaign explain`, `campaign preview` and `status` show the
contact as held; `outbox show` and `outbox retry` work on the row.  The
bad data goes in through the database (as an older coldseq, a template
re-import or `contacts import --on-existing update` could leave it), both
after the step was queued (the send path) and before it is scheduled
(the scheduler), against the real local mail stack."""
import email
import email.policy
import email.utils
import json
import os
import sqlite3
import tempfile

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

S = None


class Env:
    """One inbox (stack user b+1) and contacts b+3 (the first to go), b+2
    and b+4, two steps a day apart: S1 with {{first_name}} in its subject,
    S2 with {{topic}}.  Contact k below means stack user b+k."""

    def __init__(self, b):
        self.b = b
        self.tmp = tempfile.mkdtemp(prefix="coldseq-unsend-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        self.cs("inbox", "add", "user1", "--email", S.user(b + 1), "--smtp",
                "127.0.0.1:%d" % S.submission_port, "--smtp-tls",
                "starttls", "--imap", "127.0.0.1:%d" % S.imaps_port,
                "--imap-tls", "tls", "--ca-file", S.ca_file, "--daily-cap",
                "20", "--password-stdin", stdin=S.password + "\n", check=0)
        self.write("c.csv", "email,first_name,topic\n" + "".join(
            "%s,P%d,t%d\n" % (S.user(b + u), u, u) for u in (3, 2, 4)))
        self.cs("contacts", "import", self.path("c.csv"), "--list", "l",
                check=0)
        self.write("s1.txt", "Subject: S1 for {{first_name}}\n\nStep 1.\n")
        self.write("s2.txt", "Subject: S2 about {{topic}}\n\nStep 2.\n")
        self.cs("template", "import", self.path("s1.txt"),
                self.path("s2.txt"), check=0)
        self.write("c.yaml",
                   "name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
                   "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
                   "from: \"00:00\", to: \"24:00\"}\nsteps:\n"
                   "  - template: s1\n  - template: s2\n"
                   "    delay: 1 day\n")
        self.cs("campaign", "create", self.path("c.yaml"), check=0)
        self.cs("campaign", "start", "c", check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def cs(self, *args, check=None, stdin=None, timeout=300):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=timeout)

    def run(self, until):
        # the old code never ended here: a generous bound, not a timing
        return self.cs("run", "--no-watch", "--clock", "sim:now,fast",
                       "--until", until, check=0, timeout=120)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def row_of(self, user):
        return self.db("SELECT o.id, o.step, o.state, o.attempts, o.reason "
                       "FROM outbox o JOIN enrollments e ON e.id = "
                       "o.enrollment_id JOIN contacts c ON c.id = "
                       "e.contact_id WHERE c.email = ? ORDER BY o.id",
                       self.u(user))

    def enrollment_of(self, user):
        [r] = self.db("SELECT e.state, e.step, e.reason FROM enrollments e "
                      "JOIN contacts c ON c.id = e.contact_id WHERE "
                      "c.email = ?", self.u(user))
        return r

    def u(self, k):
        return S.user(self.b + k)

    def subjects(self, k):
        out = []
        base = S.maildir_of(self.b + k)
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    m = email.message_from_bytes(
                        f.read(), policy=email.policy.default)
                if email.utils.parseaddr(m["From"])[1] == self.u(1):
                    out.append(str(m["Subject"]))
        return sorted(out)


@test
def unsendable_data_holds_the_contact_and_the_inbox_goes_on():
    env = Env(0)
    # user3's step 1 is queued while the server cannot be reached
    env.cs("inbox", "set", "user1", "--smtp", "127.0.0.1:1", check=0)
    env.run("+10m")
    eq([r[1:3] for r in env.row_of(3)], [(1, "queued")])
    # user3's data turns bad after the step was queued (a 3,000-character
    # first name: the To display name the builder refuses)
    env.db("UPDATE contacts SET first_name = ? WHERE email = ?", "x" * 3000,
           env.u(3))
    env.cs("inbox", "set", "user1", "--smtp",
           "127.0.0.1:%d" % S.submission_port, check=0)
    env.cs("inbox", "resume", "user1", check=0)
    env.run("+20h")
    S.flush()
    eq(env.subjects(2), ["S1 for P2"])
    eq(env.subjects(3), [])
    eq(env.subjects(4), ["S1 for P4"])
    # the send path: the row fails as not sendable, once; the step is held
    [(rid, step, state, attempts, why)] = env.row_of(3)
    eq((step, state), (1, "failed"))
    assert why.startswith("not sendable: step 1 (s1):"), why
    assert "3000 octets long; a header carries at most 900" in why, why
    assert attempts <= 2, attempts  # the unreachable server's try only
    st, est, ewhy = env.enrollment_of(3)
    eq((st, est), ("held", 1))
    assert "3000 octets long" in ewhy, ewhy
    # user4's custom field gets a line break before step 2 is scheduled
    # (as `contacts import --on-existing update` could store it): the
    # scheduler builds the whole message and holds the step
    env.db("UPDATE contacts SET custom = ? WHERE email = ?",
           json.dumps({"topic": "a\r\nBcc: someone@example.com"}),
           env.u(4))
    env.run("+3d")
    S.flush()
    eq(env.subjects(2), ["S1 for P2", "S2 about t2"])
    eq(env.subjects(4), ["S1 for P4"])
    eq([r[1:3] for r in env.row_of(4)], [(1, "sent")])
    st, est, ewhy = env.enrollment_of(4)
    eq((st, est), ("held", 2))
    assert "line break" in ewhy, ewhy
    # the bad row was not attempted again
    eq(env.row_of(3)[0][2:4], ("failed", attempts))
    # explain, preview and status show both as held, with the reason
    p = env.cs("campaign", "explain", "c", "--contact", env.u(3), check=0)
    assert "held" in p.stdout and "3000 octets long" in p.stdout, p.stdout
    p = env.cs("campaign", "explain", "c", "--contact", env.u(4), check=0)
    assert "held" in p.stdout and "line break" in p.stdout, p.stdout
    rows = json.loads(env.cs("campaign", "preview", "c", "--days", "3",
                             "--json", check=0).stdout)
    held = sorted((r["contact"], r["step"]) for r in rows if "held" in r)
    eq(held, [(env.u(3), 1), (env.u(4), 2)])
    p = env.cs("campaign", "preview", "c", "--days", "3", check=0)
    assert "held" in p.stdout and "3000 octets long" in p.stdout, p.stdout
    stj = json.loads(env.cs("status", "--json", check=0).stdout)
    eq([c["contacts"]["held"] for c in stj["campaigns"]
        if c["name"] == "c"], [2])
    # the contact's history, through `outbox show`
    show = json.loads(env.cs("outbox", "show", str(rid), "--json",
                             check=0).stdout)
    eq([h["action"] for h in show["history"]], ["unsendable"])
    # fixed, then `outbox retry`: composed again and sent
    env.db("UPDATE contacts SET first_name = 'Fixed' WHERE email = ?",
           env.u(3))
    r = json.loads(env.cs("outbox", "retry", str(rid), "--json",
                          check=0).stdout)
    eq((r["id"], r["contact_state"]), (rid, "active"))
    env.run("+2h")
    S.flush()
    eq(env.subjects(3), ["S1 for Fixed"])
    show = json.loads(env.cs("outbox", "show", str(rid), "--json",
                             check=0).stdout)
    eq([h["action"] for h in show["history"]], ["unsendable", "retried"])
    env.cs("outbox", "check", check=0)


@test
def a_paused_campaign_keeps_its_queued_rows_waiting_not_hot():
    env = Env(4)
    env.cs("inbox", "set", "user1", "--smtp", "127.0.0.1:1", check=0)
    env.run("+10m")
    env.cs("campaign", "pause", "c", check=0)
    env.cs("inbox", "set", "user1", "--smtp",
           "127.0.0.1:%d" % S.submission_port, check=0)
    env.cs("inbox", "resume", "user1", check=0)
    env.run("+2d")
    S.flush()
    for u in (2, 3, 4):
        eq(env.subjects(u), [], "user%d" % u)
    [(_, _, state, attempts, why)] = env.row_of(3)
    eq((state, attempts), ("queued", 1))
    assert why.startswith("waiting for the campaign"), why
    # each row was looked at a few times in two days, each wait longer
    [(upd, due)] = env.db("SELECT max(updated_at), min(due_at) FROM outbox")
    assert due - upd >= 2 * 3600000, (upd, due)
    env.cs("campaign", "resume", "c", check=0)
    env.run("+1d")
    S.flush()
    for u in (2, 3, 4):
        eq(env.subjects(u), ["S1 for P%d" % u], "user%d" % u)


try:
    S = Stack(users=8)
    S.start()
    tap.main()
finally:
    if S:
        S.stop()
