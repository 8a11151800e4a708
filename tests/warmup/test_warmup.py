"""Warmup against the real local mail stack: six inboxes in warmup, two of
them filed into Junk by the stack's Sieve (`S.junk`), ten simulated days
(`coldseq run --clock sim:...,fast`); then warmup sends a crash cut off,
and health pausing and resuming a sender's campaign.

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
second run does the remaining rescues and archiving.

Crashes (COLDSEQ_CRASH_AT): a send killed after the server took DATA
ends 'sent' when its Message-ID is in the sender's Sent folder at the
restart, is lost while it is in neither Sent nor any receiver's records,
and becomes 'sent' once the partner's watcher records it; a send killed
before it was handed over is lost.  None is ever sent again, none is
delivered twice, and `warmup status` counts exactly the sent ones.

Health: a sender filed into Junk pauses (reason "warmup health") and
its campaign step waits; with the filter gone, a day of warmup in INBOX
brings health back to the threshold, the pause is lifted and the step
is delivered."""
import calendar
import json
import os
import shutil
import signal
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
    """A data dir with inboxes <prefix><n> for stack users n (in UTC, or
    in zone)."""

    def __init__(self, users=INBOXES, prefix="w", zone="UTC"):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-warmup-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        for i in users:
            self.cs("inbox", "add", "%s%d" % (prefix, i), "--email",
                    S.user(i),
                    "--smtp", "127.0.0.1:%d" % S.submission_port,
                    "--smtp-tls", "starttls", "--imap",
                    "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                    "--ca-file", S.ca_file, "--daily-cap", "20",
                    "--timezone", zone, "--password-stdin",
                    stdin=S.password + "\n", check=0)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def cs(self, *args, check=None, stdin=None, env=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=1800, env=env)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()


def quota(k):
    return min(40, 2 + 2 * (k - 1))


def folders_of(user):
    """Every maildir folder of a stack user: INBOX, then the others."""
    base = S.maildir_of(user)
    return ["INBOX"] + sorted(n[1:] for n in os.listdir(base)
                              if n.startswith(".") and
                              os.path.isdir(os.path.join(base, n)))


def header_id(data):
    """The Message-ID of a message's bytes (None: none)."""
    for line in data.splitlines():
        if line.strip() == b"":
            break
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    return None


def maildir_files(user, folder):
    base = S.maildir_of(user, folder)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                yield f.read()


def maildir_count(user, folder, message_id):
    """Messages with this Message-ID in one maildir folder."""
    return sum(1 for data in maildir_files(user, folder)
               if header_id(data) == message_id)


def delivered(user, message_id):
    """Messages with this Message-ID delivered to the user: every folder
    but Sent (where the sender's own copy lives)."""
    return sum(maildir_count(user, f, message_id) for f in folders_of(user)
               if f != "Sent")


def raw_copy(user, message_id):
    """The bytes of the user's message with this Message-ID (None: not
    there)."""
    for folder in folders_of(user):
        for data in maildir_files(user, folder):
            if header_id(data) == message_id:
                return data
    return None


def early_zone():
    """A fixed-offset zone where it is now about 01:00, its day's start
    (UTC seconds) and the day: `warmup status` counts the real day and a
    simulated run starts now or later, so a whole warmup window (08:00 to
    18:00) of the real day lies ahead in that zone."""
    now = int(time.time())
    offset = 1 - (now // 3600) % 24
    if offset < -12:
        offset += 24
    zone = "Etc/GMT" if offset == 0 else "Etc/GMT%+d" % -offset
    local = now + offset * 3600
    start = local // 86400 * 86400 - offset * 3600
    return zone, start, iso(local // 86400 * 86400)[:10]


def killed(env, point, start, until):
    """A run killed at crash point `point`; returns its stderr."""
    e = dict(os.environ)
    e["COLDSEQ_CRASH_AT"] = point
    p = env.cs("run", "--clock", "sim:%s,fast" % iso(start), "--until",
               iso(until), env=e)
    eq(p.returncode, -signal.SIGKILL, "run killed at %s; stderr: %s"
       % (point, p.stderr[-3000:]))
    return p.stderr


def cut_off(env):
    """The warmup sends a kill left 'sending', {message_id: (sender,
    partner)}, and the simulated second to go on from."""
    rows = env.db("SELECT p.message_id, i.email, p.to_addr FROM "
                  "warmup_plan p JOIN inboxes i ON i.id = p.inbox_id "
                  "WHERE p.state = 'sending'")
    at = env.db("SELECT max(updated_at) FROM warmup_plan")[0][0]
    return {r[0]: (r[1], r[2]) for r in rows}, at // 1000 + 1


def fate(env, message_id):
    """(plan state, messages outcome, smtp_reply) of a warmup send."""
    r = env.db("SELECT p.state, m.outcome, m.smtp_reply FROM warmup_plan p "
               "JOIN messages m ON m.message_id = p.message_id WHERE "
               "p.message_id = ?", message_id)
    eq(len(r), 1, message_id)
    return r[0]


def arrived(to, message_id, timeout=10):
    """Whether the partner got it (the server took DATA: it is on its
    way), waiting up to timeout."""
    end = time.monotonic() + timeout
    while True:
        if delivered(to, message_id):
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.1)


def status_by_name(env):
    st = json.loads(env.cs("warmup", "status", "--json", check=0).stdout)
    return {x["name"]: x for x in st["inboxes"]}


def assert_never_twice(env, users):
    """Each plan row has one message, never a second (nothing was sent
    again), and each warmup message is delivered at most once; the sent
    ones exactly once."""
    msgs = env.db("SELECT message_id, recipient, outcome FROM messages "
                  "WHERE purpose = 'warmup'")
    planned = {r[0] for r in env.db("SELECT message_id FROM warmup_plan "
                                    "WHERE message_id IS NOT NULL")}
    eq({m[0] for m in msgs}, planned, "messages rows without a plan row")
    for mid, to, outcome in msgs:
        n = delivered(to, mid)
        assert n <= 1, (mid, to, n)
        if outcome == "sent":
            eq(n, 1, "%s (sent) at %s" % (mid, to))
        for u in users:
            if S.user(u).lower() != to.lower():
                eq(delivered(u, mid), 0, "%s at user%d" % (mid, u))


def status_counts_sent(env, names, day):
    """`warmup status` counts each inbox's sent warmup of the day, and
    nothing else (no row is left 'sending')."""
    byname = status_by_name(env)
    for name in names:
        x = byname[name]
        if x["day"] != day:
            print("# the real day turned during the test: %s not checked"
                  % name)
            continue
        sent = env.db("SELECT count(*) FROM messages m JOIN inboxes i ON "
                      "i.id = m.inbox_id WHERE i.name = ? AND m.purpose = "
                      "'warmup' AND m.local_day = ? AND m.outcome = 'sent'",
                      name, day)[0][0]
        eq(x["sent"], sent, "warmup status sent of %s" % name)


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
    rep = json.loads(env.cs("replies", "--json", check=0).stdout)
    for ev in rep:
        assert ev["message_id"] not in sent_ids, ev
    stats = json.loads(env.cs("stats", "--json", check=0).stdout)
    camp_sent = env.db("SELECT count(*) FROM outbox WHERE state = "
                       "'sent' AND purpose = 'campaign'")[0][0]
    eq([(c["name"], c["sent"], c["replied"]) for c in stats["campaigns"]],
       [("c", camp_sent, 0)])
    eq(env.db("SELECT count(*) FROM enrollments WHERE state = 'stopped'"),
       [(0,)])
    shutil.rmtree(env.tmp)


CUT_USERS = (13, 14, 15)


@test
def warmup_send_killed_after_the_dot_is_looked_for_in_sent():
    S.junk()
    zone, t0, day = early_zone()
    env = Env(CUT_USERS, prefix="a", zone=zone)
    names = ["a%d" % u for u in CUT_USERS]
    for name in names:
        env.cs("warmup", "enable", name, "--start", "3", "--step", "0",
               "--max", "3", "--reply-rate", "0", check=0)
    now = int(time.time())
    end = t0 + 86400 - 60

    # kill 1: the server took DATA; coldseq's own copy in Sent (a generic
    # server) would come after the session, so Sent lacks it.  The
    # sender's provider files one there, as Gmail and Microsoft 365 do.
    killed(env, "warmup_after_dot", now, end)
    cut1, resume = cut_off(env)
    assert cut1, "the kill left no warmup send 'sending'"
    in_sent = set()
    for mid, (frm, to) in cut1.items():
        if arrived(to, mid):
            eq(maildir_count(frm, "Sent", mid), 0, "Sent before the copy")
            with S.imap(frm) as c:
                typ, _ = c.append("Sent", "(\\Seen)", None,
                                  raw_copy(to, mid))
                eq(typ, "OK")
            in_sent.add(mid)
    assert in_sent, "the send the kill followed was not delivered"

    # kill 2: start-up settles cut1 by Sent; the next send is cut off
    # after the dot too, and this time nobody files it in Sent
    err = killed(env, "warmup_after_dot", resume, end)
    assert "found in Sent: sent" in err, err
    cut2, resume = cut_off(env)
    assert cut2 and not set(cut2) & set(cut1), (cut1, cut2)
    delivered2 = {mid for mid, (frm, to) in cut2.items()
                  if arrived(to, mid)}
    assert delivered2, "the send the second kill followed was not delivered"
    for mid in cut1:
        got = fate(env, mid)
        if mid in in_sent:
            eq(got[:2], ("sent", "sent"), mid)
            eq(got[2], "found in the Sent folder after a restart")
        else:
            eq(got[:2], ("failed", "deferred"), mid)

    # a start-up without watchers: cut2 is in no Sent folder, so it is
    # lost (not counted) for now
    p = env.cs("run", "--clock", "sim:%s,fast" % iso(resume), "--until",
               iso(resume), "--no-watch", check=0)
    assert "not in Sent: lost" in p.stderr, p.stderr
    for mid in cut2:
        state, outcome, why = fate(env, mid)
        eq((state, outcome), ("failed", "deferred"), mid)
        assert why.startswith("lost:"), why
    status_counts_sent(env, names, day)

    # the partners' watchers find cut2 delivered: sent after all; the
    # rest of the day runs, nothing is sent twice
    env.cs("run", "--clock", "sim:%s,fast" % iso(resume), "--until",
           iso(end), check=0)
    for mid in cut2:
        state, outcome, why = fate(env, mid)
        if mid in delivered2:
            eq((state, outcome), ("sent", "sent"), mid)
            eq(why, "delivered: a receiving inbox saw it")
        else:
            eq((state, outcome), ("failed", "deferred"), mid)
    eq(env.db("SELECT count(*) FROM warmup_plan WHERE state = 'sending'"),
       [(0,)])
    assert_never_twice(env, CUT_USERS)
    status_counts_sent(env, names, day)
    # each cut-off send that went counts in its sender's warmup status
    byname = status_by_name(env)
    for mid in in_sent | delivered2:
        frm = (cut1.get(mid) or cut2.get(mid))[0]
        name = env.db("SELECT name FROM inboxes WHERE email = ?", frm)[0][0]
        if byname[name]["day"] == day:
            assert byname[name]["sent"] >= 1, byname[name]
            eq(env.db("SELECT local_day, outcome FROM messages WHERE "
                      "message_id = ?", mid), [(day, "sent")])
    print("# killed twice after the dot: %d found in Sent, %d seen by "
          "the partner's watcher, %d lost" % (
              len(in_sent), len(delivered2),
              len(set(cut1) - in_sent) + len(set(cut2) - delivered2)))
    shutil.rmtree(env.tmp)


BEFORE_USERS = (16, 17, 18)


@test
def warmup_send_killed_before_the_dot_is_lost_not_resent():
    S.junk()
    zone, t0, day = early_zone()
    env = Env(BEFORE_USERS, prefix="b", zone=zone)
    names = ["b%d" % u for u in BEFORE_USERS]
    for name in names:
        env.cs("warmup", "enable", name, "--start", "3", "--step", "0",
               "--max", "3", "--reply-rate", "0", check=0)
    now = int(time.time())
    end = t0 + 86400 - 60
    killed(env, "warmup_sending", now, end)
    cut, resume = cut_off(env)
    assert cut, "the kill left no warmup send 'sending'"
    p = env.cs("run", "--clock", "sim:%s,fast" % iso(resume), "--until",
               iso(end), check=0)
    assert "not in Sent: lost" in p.stderr, p.stderr
    S.flush()
    for mid, (frm, to) in cut.items():
        state, outcome, why = fate(env, mid)
        eq((state, outcome), ("failed", "deferred"), mid)
        assert why.startswith("lost:"), why
        for u in BEFORE_USERS:
            eq(delivered(u, mid), 0, "%s at user%d" % (mid, u))
    # the day went on without them
    sent = env.db("SELECT count(*) FROM messages WHERE purpose = 'warmup' "
                  "AND outcome = 'sent'")[0][0]
    assert sent >= 1, sent
    assert_never_twice(env, BEFORE_USERS)
    status_counts_sent(env, names, day)
    print("# killed before the dot: %d lost, %d sent that day" % (
        len(cut), sent))
    shutil.rmtree(env.tmp)


HEALTH_SENDER = 19
HEALTH_PARTNERS = (20, 21)
HEALTH_CONTACT = 22
THRESHOLD = 50


@test
def health_pauses_a_junked_sender_and_resumes_it_when_back():
    S.junk(S.user(HEALTH_SENDER))
    users = (HEALTH_SENDER,) + HEALTH_PARTNERS
    env = Env(users, prefix="h")
    sender = "h%d" % HEALTH_SENDER
    env.cs("config", "set", "warmup.health_threshold", str(THRESHOLD),
           check=0)
    env.cs("warmup", "enable", sender, "--start", "12", "--step", "0",
           "--max", "12", "--reply-rate", "0", check=0)
    for u in HEALTH_PARTNERS:
        env.cs("warmup", "enable", "h%d" % u, "--start", "1", "--step",
               "0", "--max", "1", "--reply-rate", "0", check=0)
    t0 = (int(time.time()) // 86400 + 1) * 86400
    day2 = t0 + 86400

    def run(a, b):
        env.cs("run", "--clock", "sim:%s,fast" % iso(a), "--until", iso(b),
               check=0)

    def sender_status():
        return status_by_name(env)[sender]

    # day 1 in Junk; the last of it read by a sync, then the hourly check
    run(t0, day2 + 6 * 3600)
    env.cs("inbox", "sync", "--all", "--once", check=0)
    run(day2 + 6 * 3600, day2 + 7 * 3600)
    low = sender_status()
    assert low["health_seen_7d"] >= 10, low
    assert low["health_7d"] < THRESHOLD, low
    eq(low["inbox_status"], "paused", low)
    assert low["paused_reason"].startswith("warmup health"), low
    paused = env.db("SELECT updated_at FROM inboxes WHERE name = ?",
                    sender)[0][0]
    first = env.db("SELECT count(*) FROM events e JOIN messages m ON "
                   "m.message_id = e.related_message_id JOIN inboxes i ON "
                   "i.id = m.inbox_id WHERE e.kind = 'warmup' AND i.name = ? "
                   "AND e.folder = 'INBOX'", sender)[0][0]
    eq(first, 0, "day 1 warmup first seen in INBOX")

    # a campaign from the paused sender waits
    env.write("c.csv", "email,first_name\n%s,Pat\n" % S.user(HEALTH_CONTACT))
    env.cs("contacts", "import", env.path("c.csv"), "--list", "l", check=0)
    env.write("s1.txt", "Subject: Health check for {{first_name}}\n\n"
              "Step 1.\n")
    env.cs("template", "import", env.path("s1.txt"), check=0)
    env.write("c.yaml", "name: c\nlist: l\ninboxes: [%s]\ntimezone: UTC\n"
              "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
              "from: \"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n"
              % sender)
    env.cs("campaign", "create", env.path("c.yaml"), check=0)
    env.cs("campaign", "start", "c", check=0)
    run(day2 + 7 * 3600, day2 + 7 * 3600 + 50 * 60)
    eq(env.db("SELECT count(*) FROM messages WHERE purpose = 'campaign'"),
       [(0,)])
    eq(env.db("SELECT count(*) FROM outbox WHERE state IN ('sending', "
              "'sent') AND purpose = 'campaign'"), [(0,)])
    eq(sender_status()["inbox_status"], "paused")

    # the filter is gone: day 2 reaches the INBOX, health climbs back
    S.junk()
    run(day2 + 7 * 3600 + 50 * 60, day2 + 23 * 3600)
    env.cs("inbox", "sync", "--all", "--once", check=0)
    run(day2 + 23 * 3600, day2 + 26 * 3600)
    x = sender_status()
    assert x["health_7d"] >= THRESHOLD, x
    eq(x["inbox_status"], "active", x)
    eq(x["paused_reason"], None, x)

    # the step went out once, after the pause was lifted (the inbox's
    # status change is stamped on the service's clock)
    resumed = env.db("SELECT updated_at FROM inboxes WHERE name = ?",
                     sender)[0][0]
    assert resumed > paused, (resumed, paused)
    camp = env.db("SELECT message_id, created_at, outcome FROM messages "
                  "WHERE purpose = 'campaign'")
    eq(len(camp), 1, camp)
    mid, created, outcome = camp[0]
    eq(outcome, "sent")
    assert created >= resumed, (created, resumed)
    eq(env.db("SELECT state FROM outbox WHERE purpose = 'campaign'"),
       [("sent",)])
    eq(delivered(HEALTH_CONTACT, mid), 1)
    eq(maildir_count(HEALTH_CONTACT, "INBOX", mid), 1)
    print("# %s: paused at health %.0f%% (%d seen), back at %.0f%% (%d "
          "seen); the step went %.1f h after the resume" % (
              sender, low["health_7d"], low["health_seen_7d"],
              x["health_7d"], x["health_seen_7d"],
              (created - resumed) / 3600000.0))
    S.junk()
    shutil.rmtree(env.tmp)


try:
    S = Stack(users=22)
    S.start()
    tap.main()
finally:
    if S:
        S.junk()
        S.stop()
