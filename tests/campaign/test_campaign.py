"""Campaigns through the real binary: create (every error as file:line,
nothing stored), list/show, start (enrolls the list, skips contacts busy in
another campaign), enroll, pause/resume, preview (JSON shape, windows,
caps, rotation, the database untouched) and explain (what holds a
contact)."""
import datetime
import json
import os
import sqlite3
import tempfile

import tap
from cstool import coldseq
from tap import eq, test

TMP = tempfile.mkdtemp(prefix="coldseq-camp-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def rows(sql, *args):
    with sqlite3.connect(DB) as c:
        return c.execute(sql, args).fetchall()


cs("init", check=0)
for i, tz in ((1, "Europe/Berlin"), (2, "UTC"), (3, "America/New_York")):
    cs("inbox", "add", "user%d" % i, "--email", "user%d@a.test" % i,
       "--smtp", "127.0.0.1:2525", "--imap", "127.0.0.1:1993",
       "--smtp-tls", "starttls", "--imap-tls", "tls", "--daily-cap", "4",
       "--timezone", tz, "--tag", "clientA" if i < 3 else "clientB",
       "--password-stdin", stdin="pw\n", check=0)
cs("contacts", "import", "--list", "founders", write(
    "c.csv", "email,first_name,company,timezone\n" +
    "".join("p%d@c%d.test,P%d,Corp%d,%s\n" %
            (i, i, i, i, "America/New_York" if i > 6 else "")
            for i in range(1, 11))), check=0)
cs("template", "import", write("intro-a.txt", "Subject: Hi {{first_name}}\n"
                               "\nAbout {{company}}.\n"),
   write("intro-b.txt", "Subject: Hello {{first_name}}\n\nAbout "
         "{{company}}.\n"),
   write("fu.txt", "\nFollowing up.\n"), check=0)

GOOD = """name: q1-founders
list: founders
inboxes: [user1, user2, tag:clientB]
timezone: Europe/Berlin
window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
send_in_contact_timezone: true
new_contacts_per_day: 6
steps:
  - template: [intro-a, intro-b]
  - template: fu
    delay: 3 business days
"""


@test
def create_reports_every_error_by_line_and_stores_nothing():
    bad = write("bad.yaml", """name: bad one
inboxes: [user1, nosuch, tag:nobody]
timezone: Mars/Olympus
window: {days: [mon, funday], from: "18:00", to: "09:00"}
new_contacts_per_day: lots
sendin_contact_timezone: true
steps:
  - template: fu
  - template: ghost
    delay: three days
""")
    p = cs("campaign", "create", bad, check=1)
    for want in ["bad.yaml:1: name:", "bad.yaml:2: inboxes: no inbox named "
                 "'nosuch'", "bad.yaml:2: inboxes: no inbox has the tag "
                 "'nobody'", "bad.yaml:3: timezone:", "bad.yaml:4: "
                 "window.days: \"funday\"", "bad.yaml:4: window: 'from' "
                 "must be before 'to'", "bad.yaml:5: new_contacts_per_day",
                 "bad.yaml:6: unknown key 'sendin_contact_timezone' (did "
                 "you mean 'send_in_contact_timezone'?)", "bad.yaml:8: "
                 "step 1: template 'fu' has no Subject", "bad.yaml:9: "
                 "step 2: no template named 'ghost'", "bad.yaml:10: step "
                 "2: delay \"three days\""]:
        assert want in p.stderr, (want, p.stderr)
    assert "nothing was stored" in p.stderr, p.stderr
    eq(rows("SELECT count(*) FROM campaigns"), [(0,)])
    p = cs("campaign", "create", write("syn.yaml", "name: [x\n"), check=1)
    assert "syn.yaml:" in p.stderr and "YAML" in p.stderr, p.stderr
    p = cs("campaign", "create", os.path.join(TMP, "missing.yaml"), check=1)
    assert "missing.yaml" in p.stderr, p.stderr


@test
def create_show_list_and_duplicate_name():
    cs("campaign", "create", write("good.yaml", GOOD), check=0)
    show = json.loads(cs("campaign", "show", "q1-founders", "--json",
                         check=0).stdout)
    eq(show["status"], "draft")
    eq(show["list"], "founders")
    eq([t["template"] for t in show["steps"][0]["templates"]],
       ["intro-a", "intro-b"])
    eq((show["steps"][1]["delay"], show["steps"][1]["delay_unit"]),
       (3, "business_days"))
    p = cs("campaign", "create", write("good.yaml", GOOD), check=1)
    assert "already exists" in p.stderr, p.stderr
    p = cs("campaign", "show", "q1-founder", check=1)
    assert "no campaign named 'q1-founder'" in p.stderr, p.stderr
    assert "q1-founders" in cs("campaign", "list", check=0).stdout


@test
def preview_json_shape_windows_caps_and_rotation():
    before = rows("SELECT count(*) FROM enrollments")
    p = cs("campaign", "preview", "q1-founders", "--days", "10", "--start",
           "2026-11-30T06:00:00Z", "--json", check=0)
    sched = json.loads(p.stdout)
    eq(rows("SELECT count(*) FROM enrollments"), before)  # untouched
    eq(rows("SELECT status FROM campaigns"), [("draft",)])
    eq(len(sched), 20)  # 10 contacts x 2 steps
    per_day = {}
    for s in sched:
        eq(sorted(s), ["at", "contact", "inbox", "step", "variant"])
        at = datetime.datetime.fromisoformat(s["at"])
        assert at.weekday() < 5, s
        assert datetime.time(9) <= at.time() < datetime.time(17), s
        key = (s["inbox"], at.astimezone(datetime.timezone.utc).date()
               if s["inbox"] == "user2" else None)
        per_day[key] = per_day.get(key, 0) + 1
        if s["contact"] in ("p7@c7.test", "p8@c8.test"):
            assert at.utcoffset() == datetime.timedelta(hours=-5), s
    eq(sorted({s["inbox"] for s in sched}), ["user1", "user2", "user3"])
    for (inbox, day), n in per_day.items():
        if day is not None:
            assert n <= 4, (inbox, day, n)
    steps = {}
    for s in sched:
        steps.setdefault(s["contact"], []).append(s)
    for c, ss in steps.items():
        eq([x["step"] for x in ss], [1, 2])
        eq(ss[0]["inbox"], ss[1]["inbox"])
    firsts = [s["variant"] for s in sched if s["step"] == 1]
    assert abs(firsts.count("intro-a") - firsts.count("intro-b")) <= 1
    # new contacts per day capped at 6
    days = {}
    for s in sched:
        if s["step"] == 1:
            d = datetime.datetime.fromisoformat(s["at"]).astimezone(
                datetime.timezone.utc).date()
            days[d] = days.get(d, 0) + 1
    assert max(days.values()) <= 6, days
    text = cs("campaign", "preview", "q1-founders", "--days", "3", "--start",
              "2026-11-30T06:00:00Z", check=0).stdout
    assert "2026-11-30" in text and "step 1" in text, text


@test
def start_enrolls_and_skips_contacts_busy_elsewhere():
    cs("campaign", "start", "q1-founders", check=0)
    eq(rows("SELECT count(*) FROM enrollments"), [(10,)])
    other = GOOD.replace("q1-founders", "other").replace(
        "new_contacts_per_day: 6", "new_contacts_per_day: 6\n"
        "allow_parallel: false")
    cs("campaign", "create", write("other.yaml", other), check=0)
    p = cs("campaign", "start", "other", "--json", check=0)
    doc = json.loads(p.stdout)
    eq((doc["enrolled"], doc["skipped_active_elsewhere"]), (0, 10))
    p = cs("campaign", "start", "other", check=1)
    assert "already started" in p.stderr, p.stderr
    cs("contacts", "import", "--list", "late", write(
        "late.csv", "email\nlate@l.test\n"), check=0)
    doc = json.loads(cs("campaign", "enroll", "other", "--contact",
                        "LATE@l.test", "--contact", "p1@c1.test", "--json",
                        check=0).stdout)
    eq((doc["enrolled"], doc["skipped_active_elsewhere"]), (1, 1))
    p = cs("campaign", "enroll", "other", check=2)
    assert "--list" in p.stderr, p.stderr


@test
def pause_resume_and_explain():
    cs("campaign", "pause", "q1-founders", check=0)
    p = cs("campaign", "explain", "q1-founders", "--contact", "P7@c7.test",
           check=0)
    assert "the campaign is paused" in p.stdout, p.stdout
    assert "America/New_York (the contact's)" in p.stdout, p.stdout
    cs("campaign", "resume", "q1-founders", check=0)
    p = cs("campaign", "explain", "q1-founders", "--contact", "p1@c1.test",
           check=0)
    assert "step 1 of 2" in p.stdout and "paused" not in p.stdout, p.stdout
    p = cs("campaign", "explain", "q1-founders", "--contact",
           "nobody@x.test", check=1)
    assert "not enrolled" in p.stderr, p.stderr


tap.main()
