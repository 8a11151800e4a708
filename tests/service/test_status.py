"""`coldseq status` and `coldseq stats` through the real binary, and the
systemd units.

status: the service's pid-file lock (absent, held by a stand-in process,
stale), each inbox's day against its caps (the scheduler's numbers: local
day, ramp, provider preset), pacing, health and 28-day hard-bounce rate,
campaigns' contacts by state, the outbox and held steps.  stats: a
constructed dataset with known figures, every --by split, warmup never
counted, --json shapes, an unknown campaign.

Sends and events are written straight into the test database with
sqlite3: the sender and watcher paths that write them for real are
covered by tests/campaign, tests/watch and tests/mailstack; here only the
reading side is under test, so the dataset is exactly what we say it is.
"""
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from zoneinfo import ZoneInfo

import tap
from cstool import coldseq
from tap import Skip, eq, test

ROOT = os.environ.get("COLDSEQ_SRC", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
TMP = tempfile.mkdtemp(prefix="coldseq-status-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")
PIDFILE = os.path.join(DATA, "coldseq.pid")
DAY = 86400000


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def jcs(*args):
    return json.loads(cs(*args, "--json", check=0).stdout)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def sql(stmt, *args):
    with sqlite3.connect(DB) as c:
        cur = c.execute(stmt, args)
        return cur.lastrowid if stmt.lstrip().upper().startswith(
            "INSERT") else cur.fetchall()


def ms(iso):
    return int(datetime.datetime.fromisoformat(
        iso.replace("Z", "+00:00")).timestamp() * 1000)


def local_day(tz, t_ms):
    return datetime.datetime.fromtimestamp(
        t_ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d")


def iso(t_ms):
    return datetime.datetime.fromtimestamp(
        t_ms / 1000, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t_ms % 1000)


# ---- the dataset -----------------------------------------------------------

cs("init", check=0)
for name, extra in (
        ("user1", ["--email", "user1@a.test", "--smtp", "127.0.0.1:2525",
                   "--imap", "127.0.0.1:1993", "--daily-cap", "10"]),
        ("g1", ["--email", "g1@gmail.com", "--provider", "google",
                "--smtp", "smtp.gmail.com:587", "--imap",
                "imap.gmail.com:993", "--timezone", "Pacific/Auckland",
                "--daily-cap", "30", "--ramp", "5,2"]),
        ("m1", ["--email", "m1@m.test", "--smtp", "127.0.0.1:2525",
                "--imap", "127.0.0.1:1993", "--hard-cap", "40"])):
    cs("inbox", "add", name, *extra, "--password-stdin", stdin="pw\n",
       check=0)
cs("inbox", "pause", "m1", "--reason", "reputation check", check=0)
cs("contacts", "import", "--list", "founders", write(
    "f.csv", "email,first_name\n" + "".join(
        "p%d@c%d.test,P%d\n" % (i, i, i) for i in range(1, 7))), check=0)
cs("contacts", "import", "--list", "others", write(
    "o.csv", "email,first_name\nq1@d1.test,Q1\nq2@d2.test,Q2\n"), check=0)
cs("template", "import",
   write("intro-a.txt", "Subject: Hi {{first_name}}\n\nHello.\n"),
   write("intro-b.txt", "Subject: Hello {{first_name}}\n\nHi.\n"),
   write("fu.txt", "\nFollowing up.\n"), check=0)
cs("campaign", "create", write("alpha.yaml", """name: alpha
list: founders
inboxes: [user1, g1]
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
steps:
  - template: [intro-a, intro-b]
  - template: fu
    delay: 3 days
"""), check=0)
cs("campaign", "create", write("beta.yaml", """name: beta
list: others
inboxes: [user1]
timezone: Europe/Berlin
window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
steps:
  - template: intro-a
"""), check=0)
cs("campaign", "start", "alpha", check=0)
cs("campaign", "start", "beta", check=0)

INBOX = dict(sql("SELECT name, id FROM inboxes"))
ENR = dict(sql("SELECT c.email, e.id FROM enrollments e JOIN contacts c "
               "ON c.id = e.contact_id"))

# Campaign sends (outbox rows), at fixed instants: alpha's days are New
# York days, so p1's first step (03:00 UTC) falls on 2026-11-29 there.
OUTBOX = [  # contact, step, variant, inbox, state, updated_at
    ("p1@c1.test", 1, 0, "user1", "sent", "2026-11-30T03:00:00Z"),
    ("p2@c2.test", 1, 1, "g1", "sent", "2026-11-30T15:00:00Z"),
    ("p3@c3.test", 1, 0, "user1", "sent", "2026-11-30T16:00:00Z"),
    ("p4@c4.test", 1, 1, "g1", "held", "2026-11-30T15:30:00Z"),
    ("p5@c5.test", 1, 0, "user1", "queued", "2026-11-30T17:00:00Z"),
    ("p1@c1.test", 2, 0, "user1", "sent", "2026-12-03T15:00:00Z"),
    ("q1@d1.test", 1, 0, "user1", "sent", "2026-11-30T10:00:00Z"),
    ("q2@d2.test", 1, 0, "user1", "failed", "2026-11-30T10:30:00Z"),
]
MID = {}
for contact, step, variant, inbox, state, at in OUTBOX:
    mid = "<s%d.%s>" % (step, contact.replace("@", "."))
    MID[(contact, step)] = mid
    sql("INSERT INTO outbox(enrollment_id, inbox_id, step, variant, "
        "message_id, subject, state, due_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 'Hi', ?, ?, ?, ?)", ENR[contact],
        INBOX[inbox], step, variant, mid, state, ms(at) - 60000,
        ms(at) - 60000, ms(at))
# a warmup message (never in the outbox)
sql("INSERT INTO messages(message_id, inbox_id, inbox_email, recipient, "
    "purpose, created_at, local_day, outcome, updated_at) VALUES "
    "('<warm.1>', ?, 'user1@a.test', 'g1@gmail.com', 'warmup', ?, "
    "'2026-11-30', 'sent', ?)", INBOX["user1"], ms("2026-11-30T12:00:00Z"),
    ms("2026-11-30T12:00:00Z"))

EVENTS = [  # kind, related message (None: none), hard
    ("reply", MID[("p1@c1.test", 2)], None),
    ("reply", MID[("p2@c2.test", 1)], None),
    ("reply", MID[("p2@c2.test", 1)], None),  # answered twice: one reply
    ("auto_reply", MID[("p2@c2.test", 1)], None),
    ("unsubscribe", MID[("p2@c2.test", 1)], None),
    ("bounce", MID[("p3@c3.test", 1)], 1),
    ("bounce", MID[("p1@c1.test", 1)], 0),
    ("complaint", MID[("p4@c4.test", 1)], None),  # held: it did go
    ("warmup", MID[("p3@c3.test", 1)], None),  # warmup never counts
    ("delay", MID[("p1@c1.test", 1)], None),  # not a figure
    ("reply", "<warm.1>", None),  # answers warmup: not a campaign's
    ("reply", None, None),  # matched nothing
    ("reply", MID[("q1@d1.test", 1)], None),
]
for n, (kind, rel, hard) in enumerate(EVENTS):
    sql("INSERT INTO events(inbox_id, msg_key, kind, related_message_id, "
        "hard, received_at) VALUES (?, ?, ?, ?, ?, ?)", INBOX["user1"],
        "<ev%d@x>" % n, kind, rel, hard, ms("2026-12-05T00:00:00Z") + n)

for email, state, reason in (
        ("p1@c1.test", "completed", None),
        ("p2@c2.test", "stopped", "contact replied"),
        ("p3@c3.test", "stopped", "contact bounced"),
        ("p4@c4.test", "queued", None),
        ("p5@c5.test", "queued", None),
        ("p6@c6.test", "held", "missing field company (intro-a:3:1)"),
        ("q1@d1.test", "stopped", "contact replied"),
        ("q2@d2.test", "stopped", "suppressed (address: bounced)")):
    sql("UPDATE enrollments SET state = ?, reason = ? WHERE id = ?", state,
        reason, ENR[email])

FIGS = ["sent", "replied", "bounced_hard", "bounced_soft", "complaints",
        "unsubscribed", "auto_replies"]


def figs(*v):
    return dict(zip(FIGS, v))


ALPHA = figs(4, 2, 1, 1, 1, 1, 1)
BETA = figs(1, 1, 0, 0, 0, 0, 0)


# ---- status: the service ---------------------------------------------------

HOLDER = r"""
import fcntl, os, sys
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
if sys.argv[2] == "pid":
    f.truncate(0)
    f.write("%d\n" % os.getpid())
    f.flush()
print("ready", flush=True)
sys.stdin.read()
"""


def hold(what="pid"):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, PIDFILE, what],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    eq(p.stdout.readline().strip(), "ready", "lock holder")
    return p


def release(p):
    p.stdin.close()
    p.wait(timeout=30)


@test
def status_without_a_service():
    assert not os.path.exists(PIDFILE)
    eq(jcs("status")["service"], {"running": False, "pid": None})
    p = cs("status", check=0)
    assert "service:  not running" in p.stdout, p.stdout


@test
def status_sees_the_lock_holder_and_its_pid():
    p = hold()
    try:
        eq(jcs("status")["service"], {"running": True, "pid": p.pid})
        out = cs("status", check=0).stdout
        assert "running, pid %d" % p.pid in out, out
    finally:
        release(p)
    # the file stays behind; without its lock it means nothing
    assert os.path.exists(PIDFILE)
    eq(jcs("status")["service"], {"running": False, "pid": None})


@test
def status_running_before_the_pid_is_written():
    os.unlink(PIDFILE)
    p = hold("empty")
    try:
        eq(jcs("status")["service"], {"running": True, "pid": None})
    finally:
        release(p)
    os.unlink(PIDFILE)


# ---- status: inboxes, campaigns, outbox ------------------------------------

def message(inbox, tz, purpose, created, outcome="sent", n=[0]):
    n[0] += 1
    mid = "<m%d@status>" % n[0]
    sql("INSERT INTO messages(message_id, inbox_id, inbox_email, recipient, "
        "purpose, created_at, local_day, outcome, updated_at) VALUES (?, ?, "
        "'x@a.test', 'r@r.test', ?, ?, ?, ?, ?)", mid, INBOX[inbox], purpose,
        created, local_day(tz, created), outcome, created)
    return mid


def bounce(mid, hard, n=[0]):
    n[0] += 1
    sql("INSERT INTO events(inbox_id, msg_key, kind, related_message_id, "
        "hard, received_at) VALUES (?, ?, 'bounce', ?, ?, ?)",
        INBOX["user1"], "<b%d@status>" % n[0], mid, hard,
        int(time.time() * 1000))


def status_now():
    """status --json, retried if a local midnight passed meanwhile."""
    for _ in range(3):
        before = int(time.time() * 1000)
        doc = jcs("status")
        after = int(time.time() * 1000)
        if all(local_day(tz, before) == local_day(tz, after)
               for tz in ("UTC", "Pacific/Auckland")):
            return doc, before
    raise AssertionError("the day kept changing under the test")


@test
def status_inbox_counts_caps_and_health():
    now = int(time.time() * 1000)
    # user1 (UTC, cap 10, generic: no hard cap): today 3 campaign (one
    # refused by the server: it still counts toward the cap, as for the
    # scheduler) + 1 test + 2 warmup; yesterday 1 campaign
    sent = [message("user1", "UTC", "campaign", now - 60000 - i)
            for i in range(2)]
    message("user1", "UTC", "campaign", now - 50000, "rejected_recipient")
    message("user1", "UTC", "test", now - 40000)
    message("user1", "UTC", "warmup", now - 30000)
    message("user1", "UTC", "warmup", now - 20000)
    old = message("user1", "UTC", "campaign", now - DAY - 3600000)
    ancient = message("user1", "UTC", "campaign", now - 40 * DAY)
    # hard-bounce rate over 28 days: 1 of 3 campaign messages taken by
    # the server (the refused one is not a send; the 40-day-old bounce
    # is outside the period; a soft bounce is no hard bounce; two reports
    # of one message are one)
    bounce(old, 1)
    bounce(old, 1)
    bounce(sent[0], 0)
    bounce(ancient, 1)
    # g1 (Auckland, ramp 5 + 2 a day, Gmail preset 500): first message 3
    # local days ago, one campaign message today
    message("g1", "Pacific/Auckland", "warmup", now - 3 * DAY)
    message("g1", "Pacific/Auckland", "campaign", now - 1000)
    nxt = now + 3600000
    sql("UPDATE inboxes SET next_send_at = ? WHERE name = 'g1'", nxt)

    doc, t = status_now()
    eq(sorted(doc), ["campaigns", "domain_pauses", "enrollments_held",
                     "inboxes", "outbox", "service", "tenants"])
    eq(doc["domain_pauses"], [], "no domain paused toward a provider")
    eq(doc["tenants"], [])
    ins = {i["name"]: i for i in doc["inboxes"]}
    eq(sorted(ins), ["g1", "m1", "user1"])
    for i in ins.values():
        eq(sorted(i), sorted([
            "name", "email", "status", "health", "paused_reason",
            "paused_until", "timezone", "day", "sent_today", "daily_cap",
            "total_today", "hard_cap", "warmup", "next_send_at", "token",
            "campaign_sent_28d",
            "hard_bounces_28d", "hard_bounce_rate_28d",
            "bounce_pause_percent", "health_detail", "watcher", "cap_until",
            "send_error", "limits", "tenant", "doctor"]))
        eq(i["tenant"], None)
        eq(i["doctor"], None)  # never checked by `coldseq doctor`
        eq(i["token"], None)  # password inboxes have no token health
    u = ins["user1"]
    eq((u["day"], u["sent_today"], u["daily_cap"], u["total_today"],
        u["hard_cap"], u["next_send_at"]),
       (local_day("UTC", t), 4, 10, 6, None, None), "user1")
    eq((u["campaign_sent_28d"], u["hard_bounces_28d"], u["status"],
        u["health"]), (3, 1, "active", "warning"), "user1 health")
    assert abs(u["hard_bounce_rate_28d"] - 1 / 3) < 1e-9, u
    g = ins["g1"]
    eq((g["day"], g["sent_today"], g["daily_cap"], g["total_today"],
        g["hard_cap"], g["next_send_at"], g["timezone"]),
       (local_day("Pacific/Auckland", t), 1, 11, 1, 500, iso(nxt),
        "Pacific/Auckland"), "g1")
    eq((g["campaign_sent_28d"], g["hard_bounces_28d"],
        g["hard_bounce_rate_28d"], g["health"]), (1, 0, 0, "ok"), "g1")
    # the provider limits, counted over a rolling 24 hours (the warmup
    # message 3 days ago is out of the window): Gmail's consumer pair
    eq([(l["name"], l["used"], l["max"], l["frees_at"])
        for l in g["limits"]],
       [("messages_24h", 1, 500, None), ("recipients_24h", 1, 500, None)])
    eq(u["limits"], [], "generic: no limits")
    m = ins["m1"]
    eq([(l["name"], l["max"]) for l in m["limits"]], [("messages_24h", 40)],
       "--hard-cap 40 is messages_24h=40")
    eq((m["status"], m["health"], m["paused_reason"], m["paused_until"],
        m["hard_cap"], m["sent_today"], m["hard_bounce_rate_28d"]),
       ("paused", "paused", "reputation check", None, 40, 0, None), "m1")

    text = cs("status", check=0).stdout
    line = {l.split()[0]: l for l in text.splitlines() if l.strip()}
    assert "4/10" in line["user1"] and "6/-" in line["user1"], text
    assert "1/3 (33.3%)" in line["user1"] and "warning" in line["user1"]
    assert "1/11" in line["g1"] and "1/500" in line["g1"], text
    assert "paused: reputation check" in line["m1"], text


@test
def status_campaigns_outbox_and_held_steps():
    doc = jcs("status")
    eq(doc["campaigns"], [
        {"name": "alpha", "status": "active", "contacts": {
            "active": 0, "queued": 2, "held": 1, "completed": 1,
            "stopped": 2}},
        {"name": "beta", "status": "active", "contacts": {
            "active": 0, "queued": 0, "held": 0, "completed": 0,
            "stopped": 2}}])
    eq(doc["outbox"], {"held": 1, "queued": 1, "sending": 0})
    eq(doc["enrollments_held"], 1)
    text = cs("status", check=0).stdout
    assert "outbox:   1 queued, 0 sending, 1 held" in text, text
    assert "held steps: 1" in text, text
    assert "campaign resume" in text, text


# ---- stats ------------------------------------------------------------------

@test
def stats_totals_and_stopped_reasons():
    doc = jcs("stats")
    eq(doc["by"], None)
    eq([c["name"] for c in doc["campaigns"]], ["alpha", "beta"])
    a, b = doc["campaigns"]
    eq(sorted(a), sorted(FIGS + ["name", "status", "stopped"]))
    eq({k: a[k] for k in FIGS}, ALPHA, "alpha")
    eq({k: b[k] for k in FIGS}, BETA, "beta")
    eq(a["stopped"], {"contact replied": 1, "contact bounced": 1})
    eq(b["stopped"], {"contact replied": 1, "suppressed": 1})
    one = jcs("stats", "beta")
    eq([c["name"] for c in one["campaigns"]], ["beta"])
    eq({k: one["campaigns"][0][k] for k in FIGS}, BETA)
    text = cs("stats", check=0).stdout.splitlines()
    eq(text[0].split(), ["CAMPAIGN", "SENT", "REPLIED", "HARD-BOUNCE",
                         "SOFT-BOUNCE", "COMPLAINT", "UNSUBSCRIBED",
                         "AUTO-REPLY"])
    eq(text[1].split(), ["alpha", "4", "2", "1", "1", "1", "1", "1"])
    eq(text[2].split(), ["beta", "1", "1", "0", "0", "0", "0", "0"])
    assert any(l.startswith("alpha") and "stopped: 1 contact bounced, 1 "
               "contact replied" in l for l in text), text


def split(by, campaign="alpha"):
    doc = jcs("stats", campaign, "--by", by)
    eq(doc["by"], by)
    c = doc["campaigns"][0]
    eq({k: c[k] for k in FIGS}, ALPHA if campaign == "alpha" else BETA)
    # the rows add up to the totals
    for k in FIGS:
        eq(sum(r[k] for r in c["rows"]), c[k], "%s total of %s" % (by, k))
    return c


@test
def stats_by_day_in_the_campaigns_zone():
    c = split("day")
    eq(c["timezone"], "America/New_York")
    eq(c["rows"], [
        dict(day="2026-11-29", **figs(1, 0, 0, 1, 0, 0, 0)),
        dict(day="2026-11-30", **figs(2, 1, 1, 0, 1, 1, 1)),
        dict(day="2026-12-03", **figs(1, 1, 0, 0, 0, 0, 0))])
    eq(split("day", "beta")["rows"],
       [dict(day="2026-11-30", **figs(1, 1, 0, 0, 0, 0, 0))])
    text = cs("stats", "alpha", "--by", "day", check=0).stdout
    assert "days in America/New_York" in text, text
    rows = [l.split() for l in text.splitlines()]
    assert ["2026-11-29", "1", "0", "0", "1", "0", "0", "0"] in rows, text
    assert ["total", "4", "2", "1", "1", "1", "1", "1"] in rows, text


@test
def stats_by_inbox_step_and_variant():
    eq(split("inbox")["rows"], [
        dict(inbox="g1", **figs(1, 1, 0, 0, 1, 1, 1)),
        dict(inbox="user1", **figs(3, 1, 1, 1, 0, 0, 0))])
    eq(split("step")["rows"], [
        dict(step=1, **figs(3, 1, 1, 1, 1, 1, 1)),
        dict(step=2, **figs(1, 1, 0, 0, 0, 0, 0))])
    eq(split("variant")["rows"], [
        dict(step=1, variant="intro-a", **figs(2, 0, 1, 1, 0, 0, 0)),
        dict(step=1, variant="intro-b", **figs(1, 1, 0, 0, 1, 1, 1)),
        dict(step=2, variant="fu", **figs(1, 1, 0, 0, 0, 0, 0))])
    text = cs("stats", "--by", "variant", check=0).stdout
    rows = [l.split() for l in text.splitlines()]
    assert ["1", "intro-b", "1", "1", "0", "0", "1", "1", "1"] in rows, text
    assert "beta (active)" in text, text


@test
def stats_errors():
    p = cs("stats", "nosuch", check=1)
    assert "no campaign named 'nosuch'" in p.stderr, p.stderr
    eq(p.stdout, "")
    p = cs("stats", "--by", "week", check=2)
    assert "day, inbox, step, variant" in p.stderr, p.stderr
    cs("stats", "alpha", "beta", check=2)


# ---- the systemd units ------------------------------------------------------

UNITS = os.path.join(ROOT, "contrib", "systemd")


@test
def systemd_units_verify():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        raise Skip("systemd-analyze is not installed: units not verified")
    binary = os.environ.get("COLDSEQ_BIN", os.path.join(ROOT, "coldseq"))
    rt = os.path.join(TMP, "runtime")
    os.makedirs(rt, mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=rt, SYSTEMD_LOG_LEVEL="warning")
    for unit, mode in (("coldseq.service", []),
                       ("coldseq-user.service", ["--user"])):
        text = open(os.path.join(UNITS, unit)).read()
        assert "ExecStart=/usr/local/bin/coldseq --data-dir " in text, unit
        # verify checks that ExecStart exists: point it at the build
        path = os.path.join(TMP, unit)
        with open(path, "w") as f:
            f.write(text.replace("/usr/local/bin/coldseq", binary))
        p = subprocess.run([tool, *mode, "verify", path], env=env,
                           capture_output=True, text=True, timeout=120)
        eq((p.returncode, p.stdout + p.stderr), (0, ""), unit)
    system = open(os.path.join(UNITS, "coldseq.service")).read()
    for want in ("User=coldseq", "StateDirectory=coldseq",
                 "--data-dir /var/lib/coldseq run", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/coldseq", "Restart=on-failure",
                 "KillSignal=SIGTERM", "TimeoutStopSec="):
        assert want in system, want
    user = open(os.path.join(UNITS, "coldseq-user.service")).read()
    assert "--data-dir %h/.local/share/coldseq run" in user, user
    assert "WantedBy=default.target" in user, user


@test
def make_install_places_the_units():
    dest = os.path.join(TMP, "dest")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install",
                        "DESTDIR=" + dest, "PREFIX=/usr"],
                       capture_output=True, text=True, timeout=600)
    eq(p.returncode, 0, "make install: " + p.stdout + p.stderr)
    system = os.path.join(dest, "usr/lib/systemd/system/coldseq.service")
    user = os.path.join(dest, "usr/lib/systemd/user/coldseq.service")
    assert "ExecStart=/usr/bin/coldseq --data-dir /var/lib/coldseq run" in \
        open(system).read()
    assert "ExecStart=/usr/bin/coldseq --data-dir %h/" in open(user).read()
    eq(oct(os.stat(system).st_mode & 0o777), "0o644")
    assert os.access(os.path.join(dest, "usr/bin/coldseq"), os.X_OK)
    p = subprocess.run(["make", "-s", "-C", ROOT, "uninstall",
                        "DESTDIR=" + dest, "PREFIX=/usr"],
                       capture_output=True, text=True, timeout=120)
    eq(p.returncode, 0, "make uninstall: " + p.stdout + p.stderr)
    for f in (system, user, os.path.join(dest, "usr/bin/coldseq")):
        assert not os.path.exists(f), f


tap.main()
