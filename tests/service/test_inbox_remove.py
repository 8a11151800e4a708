"""`inbox remove` against the real local mail stack: the history of a
removed inbox stays (messages, events, stats, replies), an inbox with
threads in progress is refused unless --force, which stops those
sequences with a reason; a follow-up never goes from another inbox than
the one that started the thread (also for a thread an older coldseq cut
loose from its inbox); contacts not started yet go on from the other
inboxes; the same name and email may be added again."""
import email
import email.policy
import email.utils
import json
import os
import sqlite3
import tempfile
import time

import tap
from cstool import coldseq, iso, replies
from mailstack import Stack
from tap import eq, test

S = None
DAY = 86400


class Env:
    """A data dir with inboxes user1 (A) and user2 (B) on the stack and a
    two-step campaign c (step 2 two days after step 1) over list l."""

    def __init__(self, contacts):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-rm-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        for i in (1, 2):
            self.add_inbox(i)
        self.write("c.csv", "email,first_name\n" + "".join(
            "%s,P%d\n" % (S.user(u), u) for u in contacts))
        self.cs("contacts", "import", self.path("c.csv"), "--list", "l",
                check=0)
        for k in (1, 2):
            self.write("s%d.txt" % k, "Subject: S%d for {{first_name}}\n\n"
                       "Step %d.\n" % (k, k))
        self.cs("template", "import", self.path("s1.txt"),
                self.path("s2.txt"), check=0)
        self.write("c.yaml", "name: c\nlist: l\ninboxes: all\n"
                   "timezone: UTC\nwindow: {days: [mon, tue, wed, thu, "
                   "fri, sat, sun], from: \"00:00\", to: \"24:00\"}\n"
                   "steps:\n  - template: s1\n  - template: s2\n"
                   "    delay: 2 days\n")
        self.cs("campaign", "create", self.path("c.yaml"), check=0)
        # day 0 starts at the next UTC midnight: the runs below are
        # simulated from there
        self.t0 = (int(time.time()) // DAY + 1) * DAY

    def add_inbox(self, i):
        self.cs("inbox", "add", "user%d" % i, "--email", S.user(i),
                "--smtp", "127.0.0.1:%d" % S.submission_port,
                "--smtp-tls", "starttls", "--imap",
                "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                "--ca-file", S.ca_file, "--daily-cap", "10",
                "--password-stdin", stdin=S.password + "\n", check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=300)

    def run(self, start, until):
        return self.cs("run", "--clock", "sim:%s,fast" % iso(self.t0 + start),
                       "--until", iso(self.t0 + until), check=0)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def sent(self):
        doc = json.loads(self.cs("stats", "c", "--json", check=0).stdout)
        return doc["campaigns"][0]["sent"]


def from_campaign(user):
    """(sender address, step) of each campaign message in user's INBOX
    maildir."""
    out = []
    base = S.maildir_of(user)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                m = email.message_from_bytes(f.read(),
                                             policy=email.policy.default)
            subject = str(m["Subject"])
            if subject.startswith(("S1 ", "S2 ", "Re: S1 ")):
                out.append((email.utils.parseaddr(m["From"])[1],
                            2 if "S2" in subject or "Re:" in subject
                            else 1, m))
    return out


def reply_to(contact, first):
    """contact answers its first message (delivered to the inbox)."""
    r = email.message.EmailMessage()
    r["From"] = S.user(contact)
    r["To"] = first["From"]
    r["Subject"] = "Re: " + str(first["Subject"])
    r["Message-ID"] = email.utils.make_msgid(domain="example.test")
    r["In-Reply-To"] = first["Message-ID"]
    r["References"] = first["Message-ID"]
    r["Date"] = email.utils.formatdate()
    r.set_content("Interesting, tell me more.\n")
    inbox = email.utils.parseaddr(first["From"])[1]
    S.submit(contact, inbox, r.as_bytes())
    S.wait_for(int(inbox[4]), predicate=lambda m: m["Message-ID"] ==
               r["Message-ID"], timeout=15)
    return r["Message-ID"]


@test
def remove_keeps_history_refuses_threads_and_never_hijacks():
    env = Env([3, 4])
    a, b = S.user(1), S.user(2)
    # stage 1: only A sends: contacts 3 and 4 get step 1 from A
    env.cs("inbox", "pause", "user2", check=0)
    env.cs("campaign", "start", "c", check=0)
    env.run(0, 6 * 3600)
    for u in (3, 4):
        eq([(f, s) for f, s, _ in from_campaign(u)], [(a, 1)], "user%d" % u)
    env.cs("inbox", "resume", "user2", check=0)
    # contact 3 answers A; the watcher records it (3's sequence stops)
    reply_to(3, from_campaign(3)[0][2])
    env.cs("inbox", "sync", "--all", "--once", check=0)
    got = [r for r in replies(env.data, "--kind", "reply")
           if r.get("from") == S.user(3)]
    eq([r["inbox"] for r in got], ["user1"], "reply recorded")
    # contacts 5 and 6 join: not started yet
    env.write("more.csv", "email,first_name\n%s,P5\n%s,P6\n"
              % (S.user(5), S.user(6)))
    env.cs("contacts", "import", env.path("more.csv"), check=0)
    env.cs("campaign", "enroll", "c", "--contact", S.user(5), "--contact",
           S.user(6), check=0)
    sent = env.sent()
    eq(sent, 2, "sent before the removal")
    events = env.db("SELECT count(*) FROM events")[0][0]
    assert events >= 1, events
    messages = env.db("SELECT count(*) FROM messages")[0][0]

    # refused: A has a thread in progress (contact 4)
    p = env.cs("inbox", "remove", "user1", check=1)
    assert "1 thread(s) in progress" in p.stderr, p.stderr
    assert "--force" in p.stderr, p.stderr
    eq(sorted(i["name"] for i in json.loads(
        env.cs("inbox", "list", "--json", check=0).stdout)),
       ["user1", "user2"], "nothing removed")

    doc = json.loads(env.cs("inbox", "remove", "user1", "--force",
                            "--json", check=0).stdout)
    eq((doc["removed"], doc["history_as"], doc["threads_stopped"]),
       ("user1", "user1 (removed)", 1), "removed")
    eq([i["name"] for i in json.loads(
        env.cs("inbox", "list", "--json", check=0).stdout)], ["user2"],
       "listed")
    # history stays, under the inbox's name
    eq(env.sent(), sent, "stats: sent")
    by = json.loads(env.cs("stats", "c", "--by", "inbox", "--json",
                           check=0).stdout)["campaigns"][0]["rows"]
    eq([(r["inbox"], r["sent"]) for r in by], [("user1 (removed)", 2)],
       "stats by inbox")
    eq(env.db("SELECT count(*) FROM events")[0][0], events, "events")
    eq(env.db("SELECT count(*) FROM messages")[0][0], messages, "messages")
    got = [r for r in replies(env.data, "--kind", "reply")
           if r.get("from") == S.user(3)]
    eq([r["inbox"] for r in got], ["user1 (removed)"], "reply kept")
    eq(env.db("SELECT e.state, e.reason LIKE '%user1 was removed%' FROM "
              "enrollments e JOIN contacts c ON c.id = e.contact_id WHERE "
              "c.email = ?", S.user(4)), [("stopped", 1)], "4 stopped")
    out = env.cs("campaign", "explain", "c", "--contact", S.user(4),
                 check=0).stdout
    assert "stopped: inbox user1 was removed" in out, out

    # run on: 4's thread goes nowhere; 5 and 6 start from B, in B's thread
    env.run(6 * 3600, 4 * DAY)
    eq([(f, s) for f, s, _ in from_campaign(3)], [(a, 1)], "user3")
    eq([(f, s) for f, s, _ in from_campaign(4)], [(a, 1)], "user4")
    for u in (5, 6):
        eq(sorted((f, s) for f, s, _ in from_campaign(u)),
           [(b, 1), (b, 2)], "user%d" % u)
    eq(env.sent(), sent + 4, "stats after")
    env.cs("outbox", "check", check=0)

    # the same name and email again: a new inbox; the old history stays
    env.add_inbox(1)
    eq(sorted(i["name"] for i in json.loads(
        env.cs("inbox", "list", "--json", check=0).stdout)),
       ["user1", "user2"], "added again")
    got = [r for r in replies(env.data, "--kind", "reply")
           if r.get("from") == S.user(3)]
    eq([r["inbox"] for r in got], ["user1 (removed)"], "still the old one")
    doc = json.loads(env.cs("inbox", "remove", "user1", "--json",
                            check=0).stdout)
    eq(doc["history_as"], "user1 (removed 2)", "second tombstone")


@test
def a_thread_without_its_inbox_is_held_never_sent_from_another():
    # what an older coldseq left after `inbox remove`: the thread's
    # enrollment without an inbox (ON DELETE SET NULL)
    env = Env([7])
    a = S.user(1)
    env.cs("inbox", "pause", "user2", check=0)
    env.cs("campaign", "start", "c", check=0)
    env.run(0, 3600)
    eq([(f, s) for f, s, _ in from_campaign(7)], [(a, 1)], "step 1")
    # A is gone for the scheduler (paused here), B may send
    env.db("UPDATE enrollments SET inbox_id = NULL")
    env.cs("inbox", "pause", "user1", check=0)
    env.cs("inbox", "resume", "user2", check=0)
    env.run(3600, 4 * DAY)
    eq([(f, s) for f, s, _ in from_campaign(7)], [(a, 1)], "no step 2")
    eq(env.db("SELECT state, step, reason FROM enrollments"),
       [("held", 2, "the inbox that started this thread was removed: no "
         "other inbox may send its follow-ups")], "held")
    out = env.cs("campaign", "explain", "c", "--contact", S.user(7),
                 check=0).stdout
    assert "held: the inbox that started this thread was removed" in out, \
        out
    assert "nothing to resume" in out, out
    # a resume does not send it either, whatever inbox may send
    env.cs("inbox", "resume", "user1", check=0)
    env.cs("campaign", "resume", "c", check=0)
    env.run(4 * DAY, 5 * DAY)
    eq([(f, s) for f, s, _ in from_campaign(7)], [(a, 1)], "still none")
    eq(env.db("SELECT state FROM enrollments"), [("held",)], "held again")


@test
def a_held_message_of_a_removed_inbox_is_never_sent_again():
    # a message the service held (the connection was lost after the
    # dot): it may have arrived, so --force leaves it held; once its
    # inbox is removed, only --drop or --sent can settle it
    env = Env([8])
    env.cs("inbox", "pause", "user2", check=0)
    env.cs("campaign", "start", "c", check=0)
    env.run(0, 3600)
    eq(len(from_campaign(8)), 1, "step 1")
    env.db("UPDATE outbox SET state = 'held', reason = 'lost after the "
           "dot' WHERE step = 1")
    (row,), = env.db("SELECT id FROM outbox")
    env.cs("inbox", "remove", "user1", "--force", check=0)
    for args in (("outbox", "resolve", str(row), "--resend"),
                 ("outbox", "retry", str(row))):
        r = env.cs(*args, check=1)
        assert "its inbox was removed" in r.stderr, r.stderr
    eq(env.db("SELECT state FROM outbox"), [("held",)], "still held")
    env.cs("inbox", "resume", "user2", check=0)
    env.run(3600, 4 * DAY)
    eq(len(from_campaign(8)), 1, "nothing sent again, from no inbox")
    env.cs("outbox", "resolve", str(row), "--drop", check=0)
    eq(env.db("SELECT state FROM outbox"), [("failed",)], "dropped")


try:
    S = Stack(users=9)
    S.start()
    tap.main()
finally:
    if S:
        S.stop()
