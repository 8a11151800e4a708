"""Issue 21: a receiving provider's refusal of the sending domain that comes
back as a bounce (Gmail 550 5.7.26, "the sender is unauthenticated")
pauses the domain toward that provider, against the real local mail stack.

Inbox user1 (sending domain example.test) sends step 1 of a campaign to
two contacts config dns.mx_map places at Google (g1, g3 @bounce.test) and
one it places elsewhere (user3@example.test).  A Google-style DSN for g1
(Reporting-MTA mx.google.com, Remote-MTA gmail-smtp-in.l.google.com,
5.7.26) lands in user1's INBOX; after the watcher's pass the domain
example.test is paused toward Google for 24 hours.  Then:
  - g3's follow-up (its thread is user1's) waits in the outbox until the
    pause ends, its reason naming the pause, and goes after it;
  - user3's follow-up (not Google) is sent and arrives;
  - g1's step is tried again (a soft bounce) on its thread's inbox, not
    before the pause ends;
  - g2, a Google contact enrolled during the pause, waits while no inbox
    of another domain can take it, then goes from inbox user2 (sending
    domain other.test), never from user1;
  - status and inbox show name the domain, provider, code, the
    provider's words and the remedy; `domain resume` lifts it.
The fake remote MX of bounce.test refuses every address (its own hard
bounces are removed from user1's INBOX before the pass: the test is
about the Google refusal only)."""
import email.utils
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
T0 = (int(time.time()) // 60 + 2) * 60  # sim runs start now or later
TMP = tempfile.mkdtemp(prefix="coldseq-dpause-")
DATA = os.path.join(TMP, "data")
G1, G2, G3 = "g1@bounce.test", "g2@bounce.test", "g3@bounce.test"


def cs(*args, check=0, stdin=None, timeout=300):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=timeout)


def write(name, text):
    with open(os.path.join(TMP, name), "w") as f:
        f.write(text)
    return os.path.join(TMP, name)


def db(sql, *a):
    with sqlite3.connect(os.path.join(DATA, "coldseq.db")) as c:
        return c.execute(sql, a).fetchall()


def run(start, until):
    # sim clock from start to until (seconds after T0): a generous bound
    return cs("run", "--no-watch", "--clock",
              "sim:%s,fast" % iso(T0 + start), "--until", iso(T0 + until),
              timeout=240)


def add_inbox(name, email_addr, login):
    cs("inbox", "add", name, "--email", email_addr, "--user", login,
       "--smtp", "127.0.0.1:%d" % S.submission_port, "--smtp-tls",
       "starttls", "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls",
       "tls", "--ca-file", S.ca_file, "--daily-cap", "100",
       "--password-stdin", stdin=S.password + "\n")


def sent_to(addr):
    """(inbox email, created_at, message_id) of messages to addr."""
    return db("SELECT inbox_email, created_at, message_id FROM messages "
              "WHERE recipient = ? AND purpose = 'campaign' ORDER BY id",
              addr)


def row_of(addr, step):
    return db("SELECT o.state, o.due_at, o.reason, i.name FROM outbox o "
              "JOIN enrollments e ON e.id = o.enrollment_id JOIN contacts c "
              "ON c.id = e.contact_id JOIN inboxes i ON i.id = o.inbox_id "
              "WHERE c.email = ? AND o.step = ? ORDER BY o.id", addr, step)


def google_dsn(rcpt, orig_id):
    text = ("Your message wasn't delivered to %s because the sender is "
            "unauthenticated." % rcpt)
    diag = ("smtp; 550-5.7.26 This mail has been blocked because the sender "
            "is unauthenticated. Gmail requires all senders to authenticate "
            "with either SPF or DKIM. Authentication results: DKIM = did "
            "not pass SPF [example.test] with ip: [127.0.0.1] = did not "
            "pass - gsmtp")
    return ("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
            "To: %s\r\nSubject: Delivery Status Notification (Failure)\r\n"
            "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; "
            "boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\n%s\r\n\r\n"
            "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.google.com\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\nAction: failed\r\n"
            "Status: 5.7.26\r\n"
            "Remote-MTA: dns; gmail-smtp-in.l.google.com\r\n"
            "Diagnostic-Code: %s\r\n\r\n"
            "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            "From: %s\r\nTo: %s\r\nSubject: S1\r\nMessage-ID: %s\r\n\r\n"
            "--b1--\r\n"
            % (S.user(1), email.utils.formatdate(),
               email.utils.make_msgid(domain="mx.google.com"), text, rcpt,
               diag, S.user(1), rcpt, orig_id)).encode()


def setup():
    cs("init")
    mx = write("mx_map", "bounce.test google\nexample.test other\n"
               "other.test other\n")
    cs("config", "set", "dns.mx_map", mx)
    add_inbox("user1", S.user(1), S.user(1))
    write("c.csv", "email,first_name\n%s,G1\n%s,G3\n%s,U3\n"
          % (G1, G3, S.user(3)))
    cs("contacts", "import", os.path.join(TMP, "c.csv"), "--list", "l")
    write("s1.txt", "Subject: S1 for {{first_name}}\n\nStep 1.\n")
    write("s2.txt", "Subject: S2 for {{first_name}}\n\nStep 2.\n")
    cs("template", "import", os.path.join(TMP, "s1.txt"),
       os.path.join(TMP, "s2.txt"))
    write("c.yaml", "name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
          "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
          "from: \"00:00\", to: \"24:00\"}\nsteps:\n"
          "  - template: s1\n  - template: s2\n    delay: 2 hours\n")
    cs("campaign", "create", os.path.join(TMP, "c.yaml"))
    cs("campaign", "start", "c")


def drop_remote_bounces():
    """The fake remote's own 5.1.1 DSNs for g1 and g3, out of INBOX."""
    def remote(m):
        return str(m["Subject"]) == "Undelivered Mail Returned to Sender"
    S.wait_for(1, predicate=remote, count=2, timeout=30)
    with S.imap(1) as c:
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "SUBJECT",
                          '"Undelivered Mail Returned to Sender"')
        eq(len(data[0].split()), 2, "the remote's two DSNs")
        for uid in data[0].split():
            c.uid("STORE", uid, "+FLAGS", "(\\Deleted)")
        c.expunge()


@test
def google_refusal_pauses_the_domain_toward_google_only():
    setup()
    # phase 1: step 1 to all three from user1 (example.test)
    run(0, 3600)
    for a in (G1, G3, S.user(3)):
        eq([r[0] for r in sent_to(a)], [S.user(1)], "step 1 to %s" % a)
    drop_remote_bounces()
    [(_, _, g1_id)] = sent_to(G1)
    with S.imap(1) as c:
        c.append("INBOX", None, None, google_dsn(G1, g1_id))
    before = int(time.time() * 1000)
    st = json.loads(cs("inbox", "sync", "user1", "--once",
                       "--json").stdout.splitlines()[-1])
    assert st["new_events"] >= 1, st
    # the domain is paused toward Google, for 24 hours from the event
    rows = db("SELECT domain, provider, mode, until, code, reason, "
              "inbox_id FROM domain_pauses")
    eq(len(rows), 1, "one domain pause: %r" % rows)
    dom, prov, mode, until, code, reason, inbox_id = rows[0]
    eq((dom, prov, mode, code), ("example.test", "google", "pause",
                                 "5.7.26"))
    assert "sender is unauthenticated" in reason, reason
    assert before + 86400000 <= until <= before + 86400000 + 120000, \
        (before, until)
    # the bounce is an event, g1 is not stopped nor suppressed
    b = [e for e in json.loads(cs("replies", "--json").stdout)
         if e.get("recipient") == G1]
    eq([e["kind"] for e in b], ["bounce"], "g1's events")
    eq(db("SELECT count(*) FROM suppressions")[0][0], 0, "suppressions")
    [(state,)] = db("SELECT e.state FROM enrollments e JOIN contacts c ON "
                    "c.id = e.contact_id WHERE c.email = ?", G1)
    eq(state, "active", "g1's enrollment")

    # shown: status (text and JSON), inbox show of the domain's inbox
    doc = json.loads(cs("status", "--json").stdout)
    [p] = doc["domain_pauses"]
    eq((p["domain"], p["provider"], p["mode"], p["code"], p["inbox"]),
       ("example.test", "google", "pause", "5.7.26", "user1"))
    assert "coldseq doctor --domain example.test" in p["remedy"] and "domain resume" in p["remedy"], p
    assert "domain resume example.test" in p["remedy"], p
    assert "sender is unauthenticated" in p["reason"], p
    out = cs("status").stdout
    assert "domain pauses:" in out and "paused toward Google" in out, out
    out = cs("inbox", "show", "user1").stdout
    assert "example.test paused toward Google until" in out, out
    assert "5.7.26" in out and "SPF, DKIM and DMARC" in out, out

    # a new Google contact, g2, enrolled while the domain is paused
    write("g2.csv", "email,first_name\n%s,G2\n" % G2)
    cs("contacts", "import", os.path.join(TMP, "g2.csv"), "--list", "l")
    cs("campaign", "enroll", "c", "--contact", G2)

    # phase 2, inside the pause (follow-ups are due at ~T0+2h)
    run(3600, 10 * 3600)
    S.flush()
    # user3 (not Google): step 2 sent from user1, and it arrived
    eq([r[0] for r in sent_to(S.user(3))], [S.user(1)] * 2, "user3")
    S.wait_for(3, predicate=lambda m: str(m["Subject"]) == "S2 for U3")
    # g3 (Google, its thread on user1): step 2 waits for the pause
    eq(len(sent_to(G3)), 1, "g3: step 1 only")
    [(state, due, why, inbox)] = row_of(G3, 2)
    eq((state, inbox), ("queued", "user1"))
    eq(due, until, "g3's step 2 is due when the pause ends")
    assert why.startswith("waiting for the domain example.test: paused "
                          "toward Google until"), why
    # g1: the bounced step again (a soft bounce), on its thread's inbox:
    # not before the pause ends
    eq(len(sent_to(G1)), 1, "g1: not again yet")
    [_, (state, due, why, inbox)] = row_of(G1, 1)
    eq((state, inbox, due), ("queued", "user1", until))
    assert why.startswith("waiting for the domain example.test"), why
    # g2 (new, Google): no inbox of another domain yet: it waits, never
    # from user1
    eq(sent_to(G2), [], "g2 waits")
    eq(row_of(G2, 1), [], "g2 has no outbox row")

    # an inbox at another sending domain (user2's login) takes g2
    add_inbox("user2", "sales@other.test", S.user(2))
    eq(json.loads(cs("inbox", "show", "user2", "--json").stdout)
       ["domain_pauses"], [], "user2's domain is not paused")
    run(10 * 3600, 20 * 3600)
    eq([r[0] for r in sent_to(G2)][:1], ["sales@other.test"], "g2")
    eq(len(sent_to(G3)), 1, "g3 still waits (its thread is user1's)")
    eq(len(sent_to(G1)), 1, "g1 still waits")

    # past the pause: g3's step 2 and g1's step 1 go from user1, not before
    run(20 * 3600, 30 * 3600)
    for a in (G3, G1):
        got = sent_to(a)
        eq([r[0] for r in got][:2], [S.user(1)] * 2,
           "%s after the pause" % a)
        assert got[1][1] >= until, (a, got[1][1], until)

    # lifted early by the user (the row is still in force by the real
    # clock): status shows none after
    out = json.loads(cs("domain", "resume", "example.test", "--provider",
                        "google", "--json").stdout)
    eq(out["lifted"], 1, "lifted")
    eq(json.loads(cs("status", "--json").stdout)["domain_pauses"], [],
       "no pause after resume")


try:
    S = Stack(users=3)
    S.start()
    tap.main()
finally:
    if S is not None:
        S.stop()
