"""Campaign files and changing campaigns (issue 18), against the real
local mail stack: a key given twice in a campaign file (at any level) and
a tab used for indentation are errors naming the lines; `campaign delete`
removes a draft, and with --force stops a started campaign for good while
its messages, events and stats stay; `campaign edit` replaces a draft and
changes a started campaign only where that is safe."""
import email
import email.policy
import json
import os
import sqlite3
import tempfile
import time

import tap
from cstool import coldseq, iso
from mailstack import Stack
from tap import eq, test

S = None
DAY = 86400


class Env:
    """A data dir with inbox user1 on the stack, templates s1..s3 (body
    "Step N.") and a list l of the given stack users."""

    def __init__(self, contacts):
        self.tmp = tempfile.mkdtemp(prefix="coldseq-edit-")
        self.data = os.path.join(self.tmp, "data")
        self.cs("init", check=0)
        self.cs("inbox", "add", "user1", "--email", S.user(1),
                "--smtp", "127.0.0.1:%d" % S.submission_port,
                "--smtp-tls", "starttls", "--imap",
                "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
                "--ca-file", S.ca_file, "--daily-cap", "20",
                "--password-stdin", stdin=S.password + "\n", check=0)
        self.write("c.csv", "email,first_name\n" + "".join(
            "%s,P%d\n" % (S.user(u), u) for u in contacts))
        self.cs("contacts", "import", self.path("c.csv"), "--list", "l",
                check=0)
        for k in (1, 2, 3):
            self.write("s%d.txt" % k, "Subject: S%d for {{first_name}}\n\n"
                       "Step %d.\n" % (k, k))
        self.cs("template", "import", *[self.path("s%d.txt" % k)
                                        for k in (1, 2, 3)], check=0)
        self.t0 = (int(time.time()) // DAY + 1) * DAY

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def yaml(self, name, steps, extra="", window_to="24:00"):
        return self.write(name, (
            "name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
            "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
            "from: \"00:00\", to: \"%s\"}\n%ssteps:\n" % (window_to, extra))
            + steps)

    def cs(self, *args, check=None, stdin=None):
        return coldseq(self.data, *args, check=check, stdin=stdin,
                       timeout=300)

    def run(self, start, until):
        return self.cs("run", "--no-watch", "--clock",
                       "sim:%s,fast" % iso(self.t0 + start),
                       "--until", iso(self.t0 + until), check=0)

    def db(self, sql, *a):
        with sqlite3.connect(os.path.join(self.data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    def stored(self):
        """Every stored row of the campaign tables (what a refused change
        must leave alone)."""
        return [self.db("SELECT * FROM %s ORDER BY 1, 2" % t) for t in
                ("campaigns", "campaign_steps", "step_variants",
                 "enrollments", "outbox")]


TWO_STEPS = ("  - template: s1\n"
             "  - template: s2\n    delay: 2 days\n")


def steps_got(user):
    """The step numbers ("Step N." in the body) user's INBOX holds, in
    arrival order."""
    out = []
    base = S.maildir_of(user)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                m = email.message_from_bytes(f.read(),
                                             policy=email.policy.default)
            body = m.get_body(("plain",))
            text = body.get_content() if body else ""
            for k in (1, 2, 3):
                if "Step %d." % k in text:
                    out.append(k)
    return sorted(out)


def wait_steps(user, want, timeout=20):
    """steps_got(user) once it holds as many messages as want (delivery
    through the stack takes a moment), for comparing with want."""
    end = time.time() + timeout
    got = steps_got(user)
    while len(got) < len(want) and time.time() < end:
        time.sleep(0.2)
        got = steps_got(user)
    return got


# ---- campaign files --------------------------------------------------


@test
def key_given_twice_names_both_lines_at_every_level():
    env = Env([5])
    cases = [
        ("root.yaml", "name: c\nlist: l\ninboxes: all\nlist: l\n"
         "steps:\n  - template: s1\n", "'list' is given twice (lines 2 "
         "and 4)", 4),
        ("window.yaml", "name: c\nlist: l\ninboxes: all\n"
         "window:\n  from: \"08:00\"\n  to: \"18:00\"\n  from: \"09:00\"\n"
         "steps:\n  - template: s1\n", "'from' is given twice (lines 5 "
         "and 7)", 7),
        ("step.yaml", "name: c\nlist: l\ninboxes: all\nsteps:\n"
         "  - template: s1\n  - template: s2\n    delay: 2 days\n"
         "    template: s3\n", "'template' is given twice (lines 6 and "
         "8)", 8),
        ("flow.yaml", "name: c\nlist: l\ninboxes: all\n"
         "window: {from: \"08:00\", to: \"18:00\", to: \"19:00\"}\n"
         "steps:\n  - template: s1\n", "'to' is given twice (lines 4 and "
         "4)", 4),
    ]
    for name, text, want, line in cases:
        f = env.write(name, text)
        p = env.cs("campaign", "create", f, check=1)
        assert "%s:%d: %s" % (name, line, want) in p.stderr, (name,
                                                             p.stderr)
        assert "nothing was stored" in p.stderr, p.stderr
    eq(env.db("SELECT count(*) FROM campaigns"), [(0,)], "nothing stored")


@test
def tab_indentation_is_named_plainly():
    env = Env([5])
    f = env.write("tab.yaml", "name: c\nlist: l\ninboxes: all\nsteps:\n"
                  "  - template: s1\n\t- template: s2\n")
    p = env.cs("campaign", "create", f, check=1)
    assert "tab.yaml:6: tabs are not allowed for indentation (line 6)" in \
        p.stderr, p.stderr
    assert "cannot start any token" not in p.stderr, p.stderr
    f = env.write("tab2.yaml", "name: c\nwindow:\n\tfrom: \"08:00\"\n")
    p = env.cs("campaign", "create", f, check=1)
    assert "tab2.yaml:3: tabs are not allowed for indentation (line 3)" in \
        p.stderr, p.stderr
    eq(env.db("SELECT count(*) FROM campaigns"), [(0,)], "nothing stored")
    # a tab inside a value is no indentation: still fine
    f = env.yaml("ok.yaml", "  - template: s1\n", extra="# a\tcomment\n")
    env.cs("campaign", "create", f, check=0)


# ---- delete ----------------------------------------------------------


@test
def delete_removes_a_draft_whole():
    env = Env([5])
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)
    p = env.cs("campaign", "delete", "c", "--json", check=0)
    doc = json.loads(p.stdout)
    eq((doc["campaign"], doc["deleted"], doc["kept_as"]), ("c", True, None))
    eq([env.db("SELECT count(*) FROM %s" % t)[0][0] for t in
        ("campaigns", "campaign_steps", "step_variants")], [0, 0, 0],
       "nothing left")
    assert "No campaigns" in env.cs("campaign", "list", check=0).stdout or \
        " c " not in env.cs("campaign", "list", check=0).stdout
    p = env.cs("campaign", "delete", "c", check=1)
    assert "no campaign named 'c'" in p.stderr, p.stderr
    # the name is free: the fixed file can be created again
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)


@test
def delete_force_stops_a_started_campaign_and_keeps_its_history():
    env = Env([3, 4])
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)
    env.cs("campaign", "start", "c", check=0)
    env.run(0, 6 * 3600)
    for u in (3, 4):
        eq(wait_steps(u, [1]), [1], "user%d after day 0" % u)
    before = env.stored()
    p = env.cs("campaign", "delete", "c", check=1)
    assert "--force" in p.stderr and "nothing was changed" in p.stderr, \
        p.stderr
    eq(env.stored(), before, "refused delete changed nothing")
    # a step-2 row already queued for user4 (as the service leaves one
    # that waits for its inbox) must never go either
    eid = env.db("SELECT e.id FROM enrollments e JOIN contacts k ON k.id "
                 "= e.contact_id WHERE k.email = ?", S.user(4))[0][0]
    with sqlite3.connect(os.path.join(env.data, "coldseq.db")) as c:
        c.execute("UPDATE enrollments SET state = 'queued' WHERE id = ?",
                  (eid,))
        c.execute("INSERT INTO outbox(enrollment_id, inbox_id, step, "
                  "variant, message_id, subject, state, due_at, "
                  "created_at, updated_at) SELECT ?, inbox_id, 2, 0, "
                  "'<queued-step2@test>', 'Re: x', 'queued', 0, 0, 0 FROM "
                  "outbox WHERE enrollment_id = ?", (eid, eid))
    p = env.cs("campaign", "delete", "c", "--force", "--json", check=0)
    doc = json.loads(p.stdout)
    eq((doc["kept_as"], doc["stopped"], doc["dropped"]),
       ("c (deleted)", 2, 1), "delete --force")
    eq(env.db("SELECT state, reason FROM enrollments ORDER BY id"),
       [("stopped", "campaign deleted")] * 2, "enrollments")
    eq(env.db("SELECT state, reason FROM outbox WHERE message_id = "
              "'<queued-step2@test>'"), [("failed", "campaign deleted")],
       "queued row dropped")
    # history stays: stats and the list show the tombstone with its sends
    stats = json.loads(env.cs("stats", "--json", check=0).stdout)
    eq([(c["campaign"] if "campaign" in c else c.get("name"), c["sent"])
        for c in stats["campaigns"]], [("c (deleted)", 2)], "stats")
    eq(env.db("SELECT count(*) FROM messages WHERE purpose = 'campaign'"),
       [(2,)], "messages kept")
    lst = env.cs("campaign", "list", check=0).stdout
    assert "c (deleted)" in lst and "deleted" in lst, lst
    # no way back: resume and enroll are refused
    p = env.cs("campaign", "resume", "c (deleted)", check=1)
    eq(env.db("SELECT status, deleted_at IS NOT NULL FROM campaigns"),
       [("paused", 1)], "still deleted")
    env.cs("campaign", "enroll", "c (deleted)", "--contact", S.user(5),
           check=1)
    # and the service sends nothing more of it (step 2 was due on day 2)
    env.run(6 * 3600, 5 * DAY)
    eq(env.db("SELECT count(*) FROM messages WHERE purpose = 'campaign'"),
       [(2,)], "no message handed to SMTP after the delete")
    for u in (3, 4):
        eq(steps_got(u), [1], "user%d after the service ran" % u)
    eq(env.db("SELECT count(*) FROM outbox WHERE state IN ('queued', "
              "'sending', 'deferred')"), [(0,)], "nothing waiting")
    # the name is free again
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)


# ---- edit ------------------------------------------------------------


@test
def edit_replaces_a_draft():
    env = Env([5])
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)
    f = env.yaml("c2.yaml", "  - template: s3\n  - template: [s1, s2]\n"
                 "    delay: 3 days\n  - template: s2\n    delay: 1 day\n",
                 extra="new_contacts_per_day: 7\n", window_to="17:00")
    doc = json.loads(env.cs("campaign", "edit", "c", f, "--json",
                            check=0).stdout)
    eq(doc["status"], "draft")
    eq([[t["template"] for t in s["templates"]] for s in doc["steps"]],
       [["s3"], ["s1", "s2"], ["s2"]], "steps")
    eq((doc["steps"][1]["delay"], doc["steps"][1]["delay_unit"]),
       (3, "days"))
    eq(env.db("SELECT new_per_day, window_to FROM campaigns"),
       [(7, 17 * 60)], "settings")
    # a bad file or another name changes nothing
    before = env.stored()
    bad = env.write("bad.yaml", "name: c\nlist: l\ninboxes: all\nsteps:\n"
                    "  - template: ghost\n")
    p = env.cs("campaign", "edit", "c", bad, check=1)
    assert "bad.yaml:5:" in p.stderr and "nothing was changed" in \
        p.stderr, p.stderr
    other = env.write("other.yaml", open(f).read().replace("name: c",
                                                           "name: d"))
    p = env.cs("campaign", "edit", "c", other, check=1)
    assert "cannot rename" in p.stderr, p.stderr
    eq(env.stored(), before, "refused edits changed nothing")
    p = env.cs("campaign", "edit", "nosuch", f, check=1)
    assert "no campaign named 'nosuch'" in p.stderr, p.stderr


@test
def edit_of_a_started_campaign_changes_only_unreached_steps():
    env = Env([6, 7])
    env.cs("campaign", "create", env.yaml("c.yaml", TWO_STEPS), check=0)
    env.cs("campaign", "start", "c", check=0)
    env.run(0, 6 * 3600)
    for u in (6, 7):
        eq(wait_steps(u, [1]), [1], "user%d after day 0" % u)
    before = env.stored()
    # step 1 went out: it cannot change
    f = env.yaml("c1.yaml", "  - template: s3\n  - template: s2\n"
                 "    delay: 2 days\n")
    p = env.cs("campaign", "edit", "c", f, check=1)
    assert "step 1 cannot change" in p.stderr, p.stderr
    assert "nothing was changed" in p.stderr, p.stderr
    # nor the list, the inboxes, or the delay contacts already wait by
    f = env.write("c2.yaml", open(env.path("c.yaml")).read()
                  .replace("inboxes: all", "inboxes: [user1]")
                  .replace("delay: 2 days", "delay: 4 days"))
    p = env.cs("campaign", "edit", "c", f, check=1)
    assert "inboxes cannot change once the campaign has started" in \
        p.stderr, p.stderr
    assert "step 2: the delay cannot change" in p.stderr, p.stderr
    eq(env.stored(), before, "refused edits changed nothing")
    # a later step's template and the window may change: contacts not at
    # that step yet get the new one
    f = env.yaml("c3.yaml", "  - template: s1\n  - template: s3\n"
                 "    delay: 2 days\n", extra="new_contacts_per_day: 9\n")
    p = env.cs("campaign", "edit", "c", f, check=0)
    assert "steps 1-1 stay" in p.stdout, p.stdout
    show = json.loads(env.cs("campaign", "show", "c", "--json",
                             check=0).stdout)
    eq([[t["template"] for t in s["templates"]] for s in show["steps"]],
       [["s1"], ["s3"]], "steps after edit")
    eq(show["status"], "active")
    env.run(6 * 3600, 4 * DAY)
    for u in (6, 7):
        eq(wait_steps(u, [1, 3]), [1, 3], "user%d got the new step 2" % u)


try:
    S = Stack(users=8)
    S.start()
    tap.main()
finally:
    if S:
        S.stop()
