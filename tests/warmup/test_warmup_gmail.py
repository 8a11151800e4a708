"""Warmup's receiving side on Gmail, whose folders are labels.

Three inboxes on the real local stack warm up for three simulated days
(a few more if none of g2's messages drew the share marked important).
g2's IMAP goes through tests/lib/fakegmail.py, a FAKE Gmail front (named
as such): the stack's Dovecot behind a proxy that announces X-GM-EXT-1 and
plays X-GM-LABELS stores (removing \\Inbox = the message stays only in
"All Mail", here the folder AllMail; \\Important = the $Important keyword).
w1's mail is filed into Junk by the stack's Sieve.

Proven, for g2: every warmup message it received leaves INBOX by removing
the \\Inbox label (never a MOVE to a folder: Archive holds none) and ends
in All Mail, read; the share picked for flagging gets the \\Important
label instead of \\Flagged (a star); mail found in Junk (Gmail's Spam) is
rescued to INBOX first.  The two Dovecot inboxes beside it still archive
into their Archive folder."""
import os
import shutil
import sqlite3
import tempfile
import time

import tap
from cstool import coldseq, iso
from fakegmail import FakeGmail
from mailstack import Stack
from tap import eq, test

S = None
DAYS = 3
GMAIL = 2  # the stack user behind the fake Gmail front


def search_ids(c, criteria):
    """Message-IDs of the selected folder's messages matching criteria."""
    typ, data = c.uid("SEARCH", criteria)
    assert typ == "OK", data
    uids = data[0].split()
    if not uids:
        return set()
    typ, data = c.uid("FETCH", b",".join(uids),
                      "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = set()
    for part in data:
        if isinstance(part, tuple):
            v = part[1].decode().split(":", 1)[1].strip()
            out.add(v)
    return out


@test
def gmail_labels_archive_and_importance():
    tmp = tempfile.mkdtemp(prefix="coldseq-wgmail-")
    data = os.path.join(tmp, "data")

    def cs(*args, check=0, stdin=None):
        return coldseq(data, *args, check=check, stdin=stdin, timeout=600)

    def db(sql, *a):
        with sqlite3.connect(os.path.join(data, "coldseq.db")) as c:
            return c.execute(sql, a).fetchall()

    with S.imap(GMAIL) as c:
        typ, _ = c.create("AllMail")
        assert typ == "OK"
    with FakeGmail(S, all_mail="AllMail") as g:
        cs("init")
        for i in (1, 2, 3):
            port = g.port if i == GMAIL else S.imaps_port
            cs("inbox", "add", "%s%d" % ("g" if i == GMAIL else "w", i),
               "--email", S.user(i), "--smtp",
               "127.0.0.1:%d" % S.submission_port, "--smtp-tls", "starttls",
               "--imap", "127.0.0.1:%d" % port, "--imap-tls", "tls",
               "--ca-file", S.ca_file, "--password-stdin",
               stdin=S.password + "\n")
        for name in ("w1", "g2", "w3"):
            cs("warmup", "enable", name, "--reply-rate", "50")
        S.junk(S.user(1))
        # three simulated days, a few more should none of g2's messages
        # have drawn the (random) share that is marked important
        end = (int(time.time()) // 86400 + 1) * 86400
        for day in range(DAYS + 4):
            cs("run", "--clock", "sim:%s,fast" % iso(end), "--until",
               iso(end + 86400))
            end += 86400
            if day + 1 >= DAYS and db(
                    "SELECT count(*) FROM warmup_actions a JOIN inboxes i "
                    "ON i.id = a.inbox_id WHERE i.name = 'g2' AND a.action "
                    "= 'read' AND a.flag = 1")[0][0]:
                break
        # no new warmup; every inbox reads what the last sends brought,
        # then a short run does the remaining rescues and archiving
        for name in ("w1", "g2", "w3"):
            cs("warmup", "disable", name)
        cs("inbox", "sync", "--all", "--once")
        # (a fast run ends at --until with whatever its workers have
        # not reached yet still planned: on a loaded machine, run again)
        for _ in range(4):
            cs("run", "--clock", "sim:%s,fast" % iso(end), "--until",
               iso(end + 6 * 3600))
            end += 6 * 3600
            if not db("SELECT count(*) FROM warmup_actions a JOIN inboxes "
                      "i ON i.id = a.inbox_id WHERE a.state = 'planned'")[
                          0][0]:
                break
        stores = g.labels_commands()
        moves = [rest for verb, rest in g.commands if verb == "UID MOVE"]

    to_g = {r[0] for r in db(
        "SELECT message_id FROM messages WHERE purpose = 'warmup' AND "
        "outcome = 'sent' AND lower(recipient) = lower(?)", S.user(GMAIL))}
    assert len(to_g) >= 4, to_g
    from_w1 = {r[0] for r in db(
        "SELECT m.message_id FROM messages m JOIN inboxes i ON i.id = "
        "m.inbox_id WHERE i.name = 'w1' AND m.purpose = 'warmup' AND "
        "m.outcome = 'sent'")}
    print("# g2 received %d warmup messages, %d of them from the junked "
          "w1" % (len(to_g), len(to_g & from_w1)))
    assert to_g & from_w1, "no junked mail reached g2"

    # ---- where the mail is now: All Mail only, never Archive
    eq(S.message_ids(GMAIL, "INBOX") & to_g, set(), "g2 INBOX")
    eq(S.message_ids(GMAIL, "Junk") & to_g, set(), "g2 Junk")
    eq(S.message_ids(GMAIL, "Archive") & to_g, set(), "g2 Archive")
    eq(to_g - S.message_ids(GMAIL, "AllMail"), set(), "g2 not in All Mail")

    # ---- how it got there: one -\Inbox label per message; MOVE only to
    # rescue from Junk into INBOX
    removed = [s for s in stores if s[1] == "-"]
    eq([s[2] for s in removed], [["\\Inbox"]] * len(to_g))
    eq(len(removed), len(to_g))
    rescued = db("SELECT count(*) FROM warmup_actions a JOIN inboxes i ON "
                 "i.id = a.inbox_id WHERE i.name = 'g2' AND a.action = "
                 "'read' AND a.rescued = 1")[0][0]
    eq(rescued, len(to_g & from_w1))
    eq(len(moves), rescued)
    for rest in moves:
        assert rest.endswith(" INBOX") or rest.endswith('"INBOX"'), rest

    # ---- read, and \Important (not a star) on the flagged share
    flagged = {r[0] for r in db(
        "SELECT a.message_id FROM warmup_actions a JOIN inboxes i ON i.id "
        "= a.inbox_id WHERE i.name = 'g2' AND a.action = 'read' AND "
        "a.flag = 1")}
    assert flagged, "no message drew the share marked important"
    added = [s for s in stores if s[1] == "+"]
    eq({tuple(s[2]) for s in added}, {("\\Important",)})
    # one message each; a read action the proxy cut off after its store is
    # retried (seq_warmup_op_done) and stores the same label again, which
    # a label add makes harmless: count messages (a UID within the folder
    # it was sent in: Junk's and INBOX's UIDs overlap), not commands
    eq(len({(s[3], s[0]) for s in added}), len(flagged))
    with S.imap(GMAIL) as c:
        c.select("AllMail")
        eq(search_ids(c, "UNSEEN") & to_g, set(), "unread in All Mail")
        eq(search_ids(c, "FLAGGED") & to_g, set(), "starred")
        eq(search_ids(c, "KEYWORD $Important") & to_g, flagged)
    print("# g2: %d archived by label, %d rescued from Junk, %d marked "
          "important" % (len(removed), rescued, len(flagged)))

    # ---- the Dovecot inboxes beside it archive into their folder
    for u in (1, 3):
        got = {r[0] for r in db(
            "SELECT message_id FROM messages WHERE purpose = 'warmup' AND "
            "outcome = 'sent' AND lower(recipient) = lower(?)", S.user(u))}
        assert got, u
        eq(got - S.message_ids(u, "Archive"), set(), "user%d Archive" % u)
    shutil.rmtree(tmp)


try:
    S = Stack(users=3)
    S.start()
    tap.main()
finally:
    if S:
        S.junk()
        S.stop()
