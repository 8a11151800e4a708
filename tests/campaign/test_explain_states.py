"""`campaign explain` in the words of every enrollment state (issue 18:
a finished contact said "step 4 of 3", a follow-up whose inbox was removed
"not chosen yet (first step)").

Table-driven: one contact per case; the enrollment's state, step and
inbox (none, a live one, a removed one: a tombstone with removed_at set)
are set with sqlite, then `campaign explain --json` must say where the
contact is in its steps in words that fit the state.  No mail is sent, so
no mail stack is needed."""
import json
import os
import shutil
import sqlite3
import tempfile

import tap
from cstool import coldseq
from tap import test

TMP = tempfile.mkdtemp(prefix="coldseq-explain-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")

# contact, state, step, inbox (None | "live" | "removed"), reason,
#   the "campaign:" line must contain, the whole text must contain,
#   and must never contain
CASES = [
    ("a1", "active", 1, None, None, "next step 1 of 3",
     "not chosen yet (first step)", ["removed"]),
    ("a2", "active", 2, "live", None, "next step 2 of 3",
     "inbox:    user1 (active)", ["first step"]),
    ("a3", "active", 3, None, None, "next step 3 of 3",
     "was removed", ["first step"]),
    ("a4", "active", 3, "removed", None, "next step 3 of 3",
     "was removed", ["first step", "user2"]),
    ("q1", "queued", 2, "live", None, "step 2 of 3 in the outbox",
     "state:    queued", ["first step"]),
    ("h1", "held", 1, None, "missing field company",
     "step 1 of 3 held", "missing field company", ["first step"]),
    ("h2", "held", 3, "removed", "missing field company",
     "step 3 of 3 held", "nothing to resume", ["first step"]),
    ("s1", "stopped", 1, None, "suppressed (x)",
     "stopped before the first step", "state:    stopped: suppressed",
     ["first step)", "of 3 "]),
    ("s2", "stopped", 3, "live", "replied",
     "stopped after step 2 of 3 (step 3 not sent)",
     "state:    stopped: replied", ["first step"]),
    ("s3", "stopped", 3, "removed", "inbox removed",
     "stopped after step 2 of 3", "stopped: inbox removed",
     ["first step"]),
    ("s4", "stopped", 4, "live", "replied", "stopped after the last step",
     "stopped: replied", ["4 of 3"]),
    ("c1", "completed", 4, "live", None, "all 3 steps sent",
     "state:    completed", ["4 of 3", "first step"]),
    ("c2", "completed", 4, "removed", None, "all 3 steps sent",
     "state:    completed", ["4 of 3", "first step"]),
]


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def sql(stmt, *args):
    with sqlite3.connect(DB) as c:
        return c.execute(stmt, args).fetchall()


def addr(c):
    return "%s@x.test" % c


def setup():
    cs("init", check=0)
    for n in ("user1", "user2"):
        cs("inbox", "add", n, "--email", "%s@a.test" % n, "--smtp",
           "127.0.0.1:2525", "--imap", "127.0.0.1:1993",
           "--password-stdin", stdin="pw\n", check=0)
    cs("contacts", "import", write("c.csv", "email\n" + "".join(
        addr(c[0]) + "\n" for c in CASES)), "--list", "l", check=0)
    cs("template", "import", write("s1.txt", "Subject: One\n\nOne.\n"),
       write("s2.txt", "\nTwo.\n"), write("s3.txt", "\nThree.\n"), check=0)
    cs("campaign", "create", write("c.yaml", (
        "name: c\nlist: l\ninboxes: [user1, user2]\ntimezone: UTC\n"
        "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
        "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n"
        "  - template: s2\n    delay: 1 day\n  - template: s3\n"
        "    delay: 1 day\n")), check=0)
    cs("campaign", "start", "c", check=0)
    ids = dict(sql("SELECT name, id FROM inboxes"))
    cs("inbox", "remove", "user2", check=0)
    eq_removed = sql("SELECT removed_at IS NOT NULL FROM inboxes WHERE "
                     "id = ?", ids["user2"])
    assert eq_removed == [(1,)], eq_removed
    for contact, state, step, inbox, reason, *_ in CASES:
        sql("UPDATE enrollments SET state = ?, step = ?, inbox_id = ?, "
            "reason = ? WHERE contact_id = (SELECT id FROM contacts WHERE "
            "email = ?)", state, step,
            {None: None, "live": ids["user1"],
             "removed": ids["user2"]}[inbox], reason, addr(contact))


@test
def every_state_in_its_own_words():
    bad = []
    for contact, state, step, inbox, reason, line, text, never in CASES:
        p = cs("campaign", "explain", "c", "--contact", addr(contact),
               "--json")
        if p.returncode != 0:
            bad.append("%s: exit %d %s" % (contact, p.returncode, p.stderr))
            continue
        doc = json.loads(p.stdout)
        got = doc["lines"]["campaign"]
        problems = []
        if line not in got:
            problems.append("campaign line %r lacks %r" % (got, line))
        if text not in doc["text"]:
            problems.append("text lacks %r" % text)
        problems += ["says %r" % w for w in never if w in doc["text"]]
        if problems:
            bad.append("%s (%s, step %d, inbox %s): %s\n%s" % (
                contact, state, step, inbox, "; ".join(problems),
                doc["text"]))
    assert not bad, "\n\n".join(bad)


try:
    setup()
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
