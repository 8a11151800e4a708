"""Every event that stops or delays a contact counts against the message
that caused it (issue 18): a List-Unsubscribe mailto, a "please remove me"
written as a new message (no In-Reply-To, no References) and an
out-of-office without In-Reply-To, on the real local stack, are each tied
to the campaign step the contact last received from that inbox, so
`stats --json` counts them against the right campaign and step (before,
their related_message_id was NULL and stats said 0 while the stopped
contacts said 1)."""
import email.message
import email.utils
import json
import os
import re
import shutil
import tempfile

import tap
from cstool import coldseq, replies
from mailstack import Stack
from tap import eq, test

TMP = tempfile.mkdtemp(prefix="coldseq-stops-")
DATA = os.path.join(TMP, "data")
S = None
STEP1 = {}  # contact -> the step-1 message it received


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=300)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def mail(frm, to, subject, body, headers=()):
    m = email.message.EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    for k, v in headers:
        m[k] = v
    m.set_content(body)
    return m


def setup():
    cs("init", check=0)
    cs("inbox", "add", "user1", "--email", S.user(1), "--smtp",
       "127.0.0.1:%d" % S.submission_port, "--smtp-tls", "starttls",
       "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
       "--ca-file", S.ca_file, "--daily-cap", "20", "--password-stdin",
       stdin=S.password + "\n", check=0)
    cs("contacts", "import", write("c.csv", "email,first_name\n" + "".join(
        "%s,P%d\n" % (S.user(u), u) for u in (2, 3, 4, 5))), "--list", "l",
       check=0)
    cs("template", "import",
       write("s1.txt", "Subject: Hello {{first_name}}\n\nStep one.\n"),
       write("s2.txt", "Subject: Again {{first_name}}\n\nStep two.\n"),
       check=0)
    cs("campaign", "create", write("c.yaml", (
        "name: c\nlist: l\ninboxes: [user1]\ntimezone: UTC\n"
        "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
        "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n"
        "  - template: s2\n    delay: 5 days\n")), check=0)
    cs("campaign", "start", "c", check=0)
    cs("run", "--clock", "sim:now,fast", "--until", "+1d", check=0)
    for u in (2, 3, 4, 5):
        STEP1[u] = S.wait_for(u, predicate=lambda m: str(
            m["Subject"]).startswith("Hello"), timeout=30)[0]


@test
def stops_without_a_reference_count_against_the_step():
    # 2: the mail client follows List-Unsubscribe's mailto
    lu = str(STEP1[2]["List-Unsubscribe"])
    m = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", lu)
    assert m, lu
    to = m.group(1)
    subject = m.group(2).replace("%20", " ")
    eq(to.lower(), S.user(1).lower(), "the mailto goes to the inbox")
    sent = [mail(S.user(2), to, subject, "")]
    # 3: "please remove me" as a new message, nothing names ours
    sent.append(mail(S.user(3), S.user(1), "Your email",
                     "Please remove me from your list and stop emailing "
                     "me."))
    # 4: an out-of-office that names nothing either
    sent.append(mail(S.user(4), S.user(1), "Out of office",
                     "I am out of the office until next week.",
                     [("Auto-Submitted", "auto-replied")]))
    for u, m in zip((2, 3, 4), sent):
        S.submit(u, S.user(1), m.as_bytes())
    ids = {m["Message-ID"] for m in sent}
    S.wait_for(1, predicate=lambda m: m["Message-ID"] in ids, count=3,
               timeout=30)
    cs("inbox", "sync", "user1", "--once", check=0)

    ev = {e["message_id"]: e for e in replies(DATA)}
    for u, m, kind in zip((2, 3, 4), sent,
                          ("unsubscribe", "unsubscribe", "auto_reply")):
        e = ev.get(m["Message-ID"])
        assert e, "no event for %s: %r" % (m["Subject"], ev)
        eq(e["kind"], kind, "kind of %s" % m["Subject"])
        eq(e.get("answers"), STEP1[u]["Message-ID"],
           "%s's %s names the step it answers" % (S.user(u), kind))

    st = json.loads(cs("stats", "c", "--json", check=0).stdout)
    c = st["campaigns"][0]
    eq(c["name"], "c", "campaign")
    eq(c["sent"], 4, "sent")
    eq(c["unsubscribed"], 2, "unsubscribed")
    eq(c["auto_replies"], 1, "auto replies")
    eq(sum(n for r, n in c["stopped"].items() if "unsubscribe" in r), 2,
       "stopped for an unsubscribe: %r" % c["stopped"])
    by = json.loads(cs("stats", "c", "--by", "step", "--json",
                       check=0).stdout)["campaigns"][0]["rows"]
    eq([(r["step"], r["sent"], r["unsubscribed"]) for r in by],
       [(1, 4, 2)], "by step")


try:
    S = Stack(users=6)
    S.start()
    setup()
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
