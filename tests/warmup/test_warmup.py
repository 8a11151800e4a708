"""Warmup against the real local mail stack: six inboxes in warmup, two of
them filed into Junk by the stack's Sieve (`S.junk`), ten simulated days
(`coldseq run --clock sim:...,fast`).

Proven: each inbox's warmup sends per local day never exceed the ramp
(2, 4, 6, ... a day) and follow it; warmup mail found in Junk is rescued
(Junk holds none at the end); replies come within 10 points of the reply
rate; warmup mail ends in Archive; the two junked senders' health is
under the threshold and pauses their campaigns while the others stay
active; no warmup message is a reply, a bounce or in `coldseq stats`.

The run ends in three steps because of how the fast clock works: it
jumps to the next wake whenever nothing is in flight, and the mail the
last sends of day 10 put in Junk is only read on the watcher's next
sync.  So warmup is disabled after day 10 (no new sends, no replies),
every inbox is synced once (`inbox sync --all --once`), and a short
second run does the remaining rescues and archiving."""
import calendar
import json
import os
import shutil
import sqlite3
import tempfile
import time

import tap
from cstool import coldseq, iso
from mailstack import Stack
from tap import eq, test

S = None
DAYS = 10
RATE = 40
INBOXES = range(1, 7)
JUNKED = (1, 2)
CONTACTS = range(7, 11)


class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-warmup-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        for i in INBOXES:
            self.cs("inbox", "add", "w%d" % i, "--email", S.user(i),
                    "--smtp", "127.0.0.1:%d" % S.submission_port,
                    "--smtp-tls", "starttls", "--imap",
                    "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                    "--ca-file", S.ca_file, "--daily-cap", "20",
                    "--password-stdin", stdin=S.password + "\n", check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=1800)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()


def quota(k):
    return min(40, 2 + 2 * (k - 1))


@test
def ten_days_of_warmup():
    env = Env()
    S.junk(*[S.user(i) for i in JUNKED])
    for i in INBOXES:
        env.cs("warmup", "enable", "w%d" % i, "--reply-rate", str(RATE),
               check=0)
    # a small campaign beside it: stats must show only its messages
    env.write("c.csv", "email,first_name\n" + "".join(
        "%s,P%d\n" % (S.user(u), u) for u in CONTACTS))
    env.cs("contacts", "import", env.path("c.csv"), "--list", "l", check=0)
    env.write("s1.txt", "Subject: Hello {{first_name}}\n\nStep 1.\n")
    env.cs("template", "import", env.path("s1.txt"), check=0)
    env.write("c.yaml", "name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
              "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
              "from: \"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n")
    env.cs("campaign", "create", env.path("c.yaml"), check=0)
    env.cs("campaign", "start", "c", check=0)

    # day 1 starts at the next UTC midnight (inboxes are in UTC)
    t0 = (int(time.time()) // 86400 + 1) * 86400
    end = t0 + DAYS * 86400
    t = time.monotonic()
    env.cs("run", "--clock", "sim:%s,fast" % iso(t0), "--until", iso(end),
           check=0)
    took = time.monotonic() - t
    for i in INBOXES:
        env.cs("warmup", "disable", "w%d" % i, check=0)
    env.cs("inbox", "sync", "--all", "--once", check=0)
    env.cs("run", "--clock", "sim:%s,fast" % iso(end), "--until",
           iso(end + 6 * 3600), check=0)
    print("# %d simulated days took %.0f s of real time" % (DAYS, took))

    # ---- sends per inbox per day against the ramp
    first = dict(env.db("SELECT i.name, w.first_day FROM warmup w JOIN "
                        "inboxes i ON i.id = w.inbox_id"))
    total_sent = total_ramp = 0
    for i in INBOXES:
        name = "w%d" % i
        eq(first[name], iso(t0)[:10], name)
        per_day = dict(env.db(
            "SELECT local_day, count(*) FROM messages m JOIN inboxes i ON "
            "i.id = m.inbox_id WHERE i.name = ? AND purpose = 'warmup' AND "
            "outcome IN ('sending', 'sent', 'uncertain') GROUP BY 1", name))
        row = []
        for k in range(1, DAYS + 1):
            day = iso(t0 + (k - 1) * 86400)[:10]
            n = per_day.pop(day, 0)
            assert n <= quota(k), (name, day, n, quota(k))
            assert n >= 1, (name, day)
            row.append("%d/%d" % (n, quota(k)))
            total_sent += n
            total_ramp += quota(k)
        eq(per_day, {}, "%s: warmup outside the ten days" % name)
        print("# %s sends/ramp per day: %s" % (name, " ".join(row)))
    assert total_sent >= 0.8 * total_ramp, (total_sent, total_ramp)
    print("# all inboxes: %d sent of a ramp of %d" % (total_sent,
                                                       total_ramp))

    # ---- every warmup message was received, rescued from Junk, archived
    sent_ids = {r[0] for r in env.db(
        "SELECT message_id FROM messages WHERE purpose = 'warmup' AND "
        "outcome = 'sent'")}
    seen = env.db("SELECT e.message_id, e.folder, i.email FROM events e "
                  "JOIN inboxes i ON i.id = e.inbox_id WHERE e.kind = "
                  "'warmup'")
    seen_ids = {r[0] for r in seen}
    eq(sent_ids - seen_ids, set(), "warmup sent but never seen")
    in_junk = [r for r in seen if r[1] != "INBOX"]
    rescued = env.db("SELECT count(*) FROM warmup_actions WHERE action = "
                     "'read' AND rescued = 1")[0][0]
    eq(rescued, len(in_junk))
    for u in range(1, 13):
        eq(S.message_ids(u, "Junk") & sent_ids, set(), "Junk of user%d" % u)
        eq(S.message_ids(u, "INBOX") & sent_ids, set(), "INBOX of user%d" % u)
    archived = set()
    for u in INBOXES:
        archived |= S.message_ids(u, "Archive")
    eq(sent_ids - archived, set(), "warmup not in Archive")
    print("# %d warmup messages, %d found in Junk and rescued, all in "
          "Archive" % (len(sent_ids), rescued))

    # ---- replies at the rate (messages that had time for their reply)
    new_ids = {r[0] for r in env.db(
        "SELECT m.message_id FROM messages m JOIN warmup_plan p ON "
        "p.message_id = m.message_id WHERE p.kind = 'new' AND m.outcome = "
        "'sent' AND m.created_at < ?", (end - 86400) * 1000)}
    answered = {r[0] for r in env.db(
        "SELECT in_reply_to FROM warmup_plan WHERE kind = 'reply' AND "
        "state = 'sent'")}
    share = 100.0 * len(new_ids & answered) / len(new_ids)
    print("# replies: %d of %d new warmup messages answered (%.1f%%, rate "
          "%d%%)" % (len(new_ids & answered), len(new_ids), share, RATE))
    assert abs(share - RATE) <= 10, share
    threads = env.db("SELECT max(length(refs) - length(replace(refs, '<', "
                     "''))) FROM warmup_plan WHERE kind = 'reply'")[0][0]
    assert threads <= 3, threads

    # ---- health: the junked senders are paused, the others are not
    st = json.loads(env.cs("warmup", "status", "--json",
                           check=0).stdout)
    byname = {x["name"]: x for x in st["inboxes"]}
    for i in INBOXES:
        x = byname["w%d" % i]
        print("# w%d health %s%% (%d seen), inbox %s" % (
            i, "%.0f" % x["health_7d"] if x["health_7d"] is not None
            else "-", x["health_seen_7d"], x["inbox_status"]))
        if i in JUNKED:
            assert x["health_7d"] < 80, x
            eq(x["inbox_status"], "paused", x)
            assert x["paused_reason"].startswith("warmup health"), x
        else:
            assert x["health_7d"] >= 80, x
            eq(x["inbox_status"], "active", x)

    # `coldseq status` shows warmup's own cap beside the campaign cap
    ins = {i["name"]: i for i in json.loads(
        env.cs("status", "--json", check=0).stdout)["inboxes"]}
    eq(ins["w3"]["warmup"], None)  # disabled above
    env.cs("warmup", "enable", "w3", check=0)
    ins = {i["name"]: i for i in json.loads(
        env.cs("status", "--json", check=0).stdout)["inboxes"]}
    # the CLI's "today" is real time, before the simulated day 1: the
    # ramp's first quota
    eq(ins["w3"]["warmup"], {"sent_today": 0, "cap": 2,
                             "counts_toward_cap": False})

    # ---- warmup is no reply, no bounce, not in stats
    eq(env.db("SELECT count(*) FROM events WHERE kind IN ('reply', "
              "'bounce', 'auto_reply', 'unsubscribe', 'complaint')"),
       [(0,)])
    rep = env.cs("replies", "--json", check=0).stdout
    for line in rep.splitlines():
        assert json.loads(line)["message_id"] not in sent_ids, line
    stats = json.loads(env.cs("stats", "--json", check=0).stdout)
    camp_sent = env.db("SELECT count(*) FROM outbox WHERE state = "
                       "'sent'")[0][0]
    eq([(c["name"], c["sent"], c["replied"]) for c in stats["campaigns"]],
       [("c", camp_sent, 0)])
    eq(env.db("SELECT count(*) FROM enrollments WHERE state = 'stopped'"),
       [(0,)])
    shutil.rmtree(env.tmp)


try:
    S = Stack(users=12)
    S.start()
    tap.main()
finally:
    if S:
        S.junk()
        S.stop()
