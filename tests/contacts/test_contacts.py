"""Contacts through the real binary: CSV import (aliases, --map, BOM, CRLF,
quoted newlines, IDN, rejects file with lines and reasons, duplicates,
suppressions, all-or-nothing, interrupts, a concurrent writer, progress on a
TTY), list, show, suppress, unsuppress, forget."""
import csv
import io
import json
import os
import pty
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

import tap
from cstool import coldseq
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-contacts-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")


def cs(*args, check=None, data=DATA, stdin=None):
    return coldseq(data, *args, check=check, stdin=stdin)


def write(name, text, mode="w"):
    path = os.path.join(TMP, name)
    with open(path, mode, **({} if "b" in mode else {"newline": ""})) as f:
        f.write(text)
    return path


def rows(sql, *args):
    with sqlite3.connect(DB) as c:
        return c.execute(sql, args).fetchall()


def contacts():
    return rows("SELECT email, first_name, last_name, company, title, "
                "website, timezone, custom FROM contacts ORDER BY email")


def rejects(path):
    with open(path, newline="", errors="surrogateescape") as f:
        return list(csv.reader(f))


cs("init", check=0)

GOOD = 1000


def acceptance_file():
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["Email", "First Name", "Last Name", "Company", "Job Title",
                "Website", "Time Zone", "Plan", "Seats", "Notes"])
    for i in range(GOOD):
        w.writerow(["user%04d@Example.COM" % i, "F%d" % i, "L%d" % i,
                    "Co, %d" % i, "T", "https://c%d.example" % i,
                    "Europe/Berlin", "pro", str(i), "note\n%d" % i])
    w.writerow(["USER0007@example.com", "Dup", "", "", "", "", "", "", "",
                ""])                                    # line 2002 (notes span 2 lines)
    w.writerow(["not-an-address", "X", "", "", "", "", "", "", "", ""])
    w.writerow(["short@row.example", "only three"])     # line 2004
    w.writerow(["ceo@blocked.example", "B", "", "", "", "", "", "", "", ""])
    return out.getvalue()


@test
def acceptance_import_counts_rejects_and_stores_1000():
    cs("contacts", "suppress", "@Blocked.Example", "--reason", "competitor",
       check=0)
    path = write("accept.csv", acceptance_file())
    p = cs("contacts", "import", path, check=0)
    assert ("Imported 1000, updated 0, duplicate 1, suppressed 1, "
            "rejected 2") in p.stdout, p.stdout
    eq(rows("SELECT count(*) FROM contacts")[0][0], 1000, "stored")
    c = rows("SELECT email, first_name, company, timezone, custom FROM "
             "contacts WHERE email = 'user0042@example.com'")
    eq(c[0][:4], ("user0042@example.com", "F42", "Co, 42", "Europe/Berlin"),
       "row 42")
    eq(json.loads(c[0][4]), {"Plan": "pro", "Seats": "42",
                             "Notes": "note\n42"}, "custom fields")
    rej = rejects(os.path.join(TMP, "accept.rejects.csv"))
    eq(rej[0][-2:], ["line", "reason"], "rejects header")
    got = [(r[0], r[-2], r[-1].split(":")[0]) for r in rej[1:]]
    eq(got, [("USER0007@example.com", "2002", "duplicate"),
             ("not-an-address", "2003", "email"),
             ("short@row.example", "2004", "has 2 fields, the header has 10"),
             ("ceo@blocked.example", "2005", "suppressed")], "rejects")
    assert "is also on line 16" in rej[1][-1], rej[1]
    assert "competitor" in rej[4][-1], rej[4]


@test
def acceptance_same_file_twice_changes_nothing():
    path = os.path.join(TMP, "accept.csv")
    before = contacts()
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["updated"], doc["duplicate"],
        doc["suppressed"], doc["rejected"]), (0, 0, 1001, 1, 2), "counts")
    eq(contacts(), before, "contacts unchanged")


@test
def edge_cases_bom_crlf_quoted_newline_idn_aliases():
    text = ("\ufeffE-Mail;FIRSTNAME;surname;Organisation;TZ;Fav Color\r\n"
            "  Zoe@Bücher.DE ;Zoë;\"O'Neil; Jr\";Acme;"
            "America/New_York;\"blue\r\nsky\"\r\n"
            ";empty;;;;\r\n"
            "yan@x.example;Yan;;;Mars/Base;\r\n"
            "bad\xff@x.example;Bad;;;;\r\n")
    path = write("edge.csv", text.encode("utf-8").replace(b"bad\xc3\xbf",
                                                          b"bad\xff"), "wb")
    doc = json.loads(cs("contacts", "import", path, "--delimiter", ";",
                        "--list", "Edge", "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (1, 3), "counts")
    r = rows("SELECT email, first_name, last_name, company, timezone, "
             "custom FROM contacts WHERE email LIKE 'zoe@%'")
    eq(r[0][:5], ("Zoe@xn--bcher-kva.de", "Zoë", "O'Neil; Jr", "Acme",
                  "America/New_York"), "stored")
    eq(json.loads(r[0][5]), {"Fav Color": "blue\r\nsky"}, "quoted newline")
    rej = rejects(os.path.join(TMP, "edge.rejects.csv"))
    eq([(r[-2], r[-1]) for r in rej[1:]],
       [("4", "email is empty"),
        ("5", 'timezone: "Mars/Base" is not an IANA time zone (e.g. '
              'Europe/Berlin)'),
        ("6", "E-Mail: invalid UTF-8 at byte 4")], "reasons")
    # found case-insensitively, by its Unicode domain too
    doc = json.loads(cs("contacts", "show", "ZOE@bücher.de", "--json",
                        check=0).stdout)
    eq((doc["email"], doc["lists"]), ("Zoe@xn--bcher-kva.de", ["Edge"]),
       "show")


@test
def map_dry_run_and_update():
    path = write("map.csv", "Mail,Vorname,Ignore me,Score\n"
                 "user0001@example.com,Neu,zzz,7\n"
                 "new1@m.example,New,zzz,\n")
    doc = json.loads(cs("contacts", "import", path, "--map", "Mail=email",
                        "--map", "Vorname=first_name", "--map",
                        "Ignore me=-", "--dry-run", "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["duplicate"], doc["dry_run"]), (1, 1, True),
       "dry run")
    eq(rows("SELECT count(*) FROM contacts WHERE email = 'new1@m.example'"),
       [(0,)], "dry run stores nothing")
    doc = json.loads(cs("contacts", "import", path, "--map", "Mail=email",
                        "--map", "Vorname=first_name", "--map",
                        "Ignore me=-", "--on-existing", "update", "--list",
                        "m", "--json", check=0).stdout)
    eq((doc["imported"], doc["updated"], doc["duplicate"]), (1, 1, 0),
       "update")
    r = rows("SELECT first_name, last_name, custom FROM contacts WHERE "
             "email = 'user0001@example.com'")[0]
    eq(r[0:2], ("Neu", "L1"), "non-empty replaces, empty keeps")
    eq(json.loads(r[2]), {"Plan": "pro", "Seats": "1", "Notes": "note\n1",
                          "Score": "7"}, "custom merged")
    lst = json.loads(cs("contacts", "list", "--list", "m", "--json",
                        check=0).stdout)
    eq([c["email"] for c in lst], ["new1@m.example", "user0001@example.com"],
       "list members")


@test
def whole_file_refused_stores_nothing():
    before = contacts()
    # invalid UTF-8 in the header
    path = write("badhdr.csv", b"email,N\xe9\nok1@h.example,a\n", "wb")
    p = cs("contacts", "import", path, check=1)
    assert "badhdr.csv:1:" in p.stderr and "UTF-8" in p.stderr, p.stderr
    # (a 1 MB field costs its row only since issue 18: test_csv_recovery)
    # no email column
    path = write("noemail.csv", "name\nx\n")
    p = cs("contacts", "import", path, check=1)
    assert "noemail.csv:1: no email column" in p.stderr, p.stderr
    eq(contacts(), before, "unchanged")


def import_on_tty(marker, action, *args):
    """Run an import on a TTY, call action(pid) once its progress shows
    marker (so it lands in that phase however fast the build is), and
    return (exit status, all output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "--data-dir", DATA, "contacts", "import"] +
                 list(args))
    out, done = b"", False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not done and marker in out:
            action(pid)
            done = True
    _, status = os.waitpid(pid, 0)
    assert done, out
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def interrupt_on(marker, *args):
    return import_on_tty(marker, lambda pid: os.kill(pid, signal.SIGINT),
                         *args)


@test
def interrupted_import_stores_nothing():
    path = os.path.join(TMP, "many.csv")
    with open(path, "w") as f:
        f.write("email,first_name\n")
        for i in range(400000):
            f.write("m%d@many.example,N%d\n" % (i, i))
    before = rows("SELECT count(*) FROM contacts")
    rc, out = interrupt_on(b"rows/s", path)
    eq(rc, 1, "exit: %s" % out)
    assert "interrupted" in out and "nothing was stored" in out, out
    eq(rows("SELECT count(*) FROM contacts"), before, "nothing stored")
    eq([n for n in os.listdir(DATA) if "stage" in n], [], "no stage file")


@test
def interrupted_while_storing_stores_nothing():
    path = os.path.join(TMP, "many2.csv")
    with open(path, "w") as f:
        f.write("email,first_name,Extra\n")
        for i in range(200000):
            f.write("s%d@many.example,N%d,x%d\n" % (i, i, i))
    before = rows("SELECT count(*) FROM contacts")
    rc, out = interrupt_on(b"storing 16384 of 200000", path, "--list",
                           "interrupted", "--on-existing", "update")
    eq(rc, 1, "exit: %s" % out)
    assert "interrupted while storing; nothing was stored" in out, out
    eq(rows("SELECT count(*) FROM contacts"), before, "nothing stored")
    eq(rows("SELECT count(*) FROM lists WHERE name = 'interrupted'"),
       [(0,)], "no list")
    eq(rows("SELECT count(*) FROM contact_fields WHERE name = 'Extra'"),
       [(0,)], "no field")
    eq([n for n in os.listdir(DATA) if "stage" in n], [], "no stage file")


@test
def stored_meanwhile_counts_as_duplicate_or_update():
    n = 100000

    def write_file(name, prefix):
        path = os.path.join(TMP, name)
        with open(path, "w") as f:
            f.write("email,first_name\n")
            for i in range(n):
                f.write("%s%d@race.example,N%d\n" % (prefix, i, i))
        return path

    def store(email):
        def action(pid):
            with sqlite3.connect(DB, timeout=10) as c:
                c.execute("INSERT INTO contacts(email, first_name, "
                          "created_at, updated_at) VALUES (?, 'Before', "
                          "1, 1)", (email,))
        return action

    # checked as new, then stored by someone else before the commit
    rc, out = import_on_tty(b"rows/s", store("a7@race.example"),
                            write_file("race_a.csv", "a"), "--list", "ra")
    eq(rc, 0, out)
    assert "Imported %d, updated 0, duplicate 1," % (n - 1) in out, out
    eq(rows("SELECT first_name FROM contacts WHERE email = "
            "'a7@race.example'"), [("Before",)], "left alone")
    eq(rows("SELECT count(*) FROM list_members m JOIN lists l ON l.id = "
            "m.list_id WHERE l.name = 'ra'"), [(n - 1,)], "list")
    rc, out = import_on_tty(b"rows/s", store("b9@race.example"),
                            write_file("race_b.csv", "b"), "--list", "rb",
                            "--on-existing", "update")
    eq(rc, 0, out)
    assert "Imported %d, updated 1, duplicate 0," % (n - 1) in out, out
    eq(rows("SELECT first_name FROM contacts WHERE email = "
            "'b9@race.example'"), [("N9",)], "updated")
    eq(rows("SELECT count(*) FROM list_members m JOIN lists l ON l.id = "
            "m.list_id WHERE l.name = 'rb'"), [(n,)], "list")


@test
def import_alone_writes_the_file_once_and_leaves_wal_on():
    # no service and no other connection: the commit goes through the
    # rollback journal (each page written once, not into the log and then
    # again by the checkpoint); the database is back in WAL mode after it
    data = os.path.join(TMP, "alone")
    cs("init", data=data, check=0)
    path = os.path.join(TMP, "alone.csv")
    with open(path, "w") as f:
        f.write("email,first_name,Notes\n")
        for i in range(50000):
            f.write("w%d@alone.example,N%d,note %d\n" % (i, i, i))
    p = cs("contacts", "import", path, "--list", "a", "--json", data=data)
    eq(p.returncode, 0, p.stderr)
    eq(json.loads(p.stdout)["imported"], 50000, "imported")
    db = os.path.join(data, "coldseq.db")
    wal = db + "-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) < (1 << 20), \
        ("the rows went through the log", os.path.getsize(wal))
    eq([n for n in os.listdir(data) if n.endswith("-journal")], [],
       "no journal left")
    with sqlite3.connect(db) as c:
        eq(c.execute("PRAGMA journal_mode").fetchone()[0], "wal", "mode")
        eq(c.execute("SELECT count(*) FROM list_members").fetchone()[0],
           50000, "list")
    eq(cs("status", data=data, check=0).returncode, 0, "status after")


@test
def concurrent_writer_never_fails_during_import():
    path = os.path.join(TMP, "conc.csv")
    with open(path, "w") as f:
        f.write("email,first_name\n")
        for i in range(60000):
            f.write("c%d@conc.example,N%d\n" % (i, i))
    errors, done = [], []
    stop = threading.Event()

    def writer():
        c = sqlite3.connect(DB, timeout=5.0)
        n = 0
        while not stop.is_set():
            try:
                with c:
                    c.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                              "ON CONFLICT(key) DO UPDATE SET value = ?",
                              ("t", n, n))
                n += 1
            except sqlite3.Error as e:  # noqa: PERF203
                errors.append(str(e))
            time.sleep(0.01)
        done.append(n)
        c.close()

    t = threading.Thread(target=writer)
    t.start()
    p = cs("contacts", "import", path, "--json")
    stop.set()
    t.join()
    eq(p.returncode, 0, p.stderr)
    eq(json.loads(p.stdout)["imported"], 60000, "imported")
    eq(errors, [], "writer errors")
    assert done[0] > 10, done


@test
def progress_on_a_tty_only():
    path = os.path.join(TMP, "conc.csv")  # all duplicates now: fast
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "--data-dir", DATA, "contacts", "import", path])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert "rows/s" in text and "\r" in text, text
    p = cs("contacts", "import", path, check=0)
    assert "rows/s" not in p.stdout + p.stderr and "\r" not in p.stderr


@test
def list_json_limit_and_show_case_insensitive():
    all_ = json.loads(cs("contacts", "list", "--json", check=0).stdout)
    eq(len(all_), rows("SELECT count(*) FROM contacts")[0][0], "all")
    two = json.loads(cs("contacts", "list", "--json", "--limit", "2",
                        check=0).stdout)
    eq([c["email"] for c in two], [c["email"] for c in all_[:2]], "limit")
    p = cs("contacts", "show", "USER0042@EXAMPLE.COM", check=0)
    assert "email:       user0042@example.com" in p.stdout, p.stdout
    assert "custom:      Plan = pro" in p.stdout
    p = cs("contacts", "show", "nobody@example.com", check=1)
    assert "no contact nobody@example.com" in p.stderr
    p = cs("contacts", "list", "--list", "nosuch", check=1)
    assert "no list named 'nosuch'" in p.stderr


@test
def suppress_file_unsuppress_and_import_skips():
    f = write("sup.txt", "# from the CRM\nA@S1.example\n\n@S2.example\n")
    p = cs("contacts", "suppress", "--file", f, "--reason", "crm", check=0)
    assert "Suppressed 2 (0 already were)" in p.stdout, p.stdout
    eq(sorted(rows("SELECT kind, value, reason FROM suppressions WHERE "
                   "reason = 'crm'")),
       [("address", "a@s1.example", "crm"), ("domain", "s2.example", "crm")],
       "stored lower-case")
    bad = write("sup_bad.txt", "ok@s3.example\nnot an address\n")
    p = cs("contacts", "suppress", "--file", bad, check=1)
    assert "sup_bad.txt:2:" in p.stderr, p.stderr
    eq(rows("SELECT count(*) FROM suppressions WHERE value = "
            "'ok@s3.example'"), [(0,)], "bad file stores nothing")
    path = write("sup.csv", "email\na@s1.example\nz@s2.example\n"
                 "z@s3.example\n")
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["suppressed"]), (1, 2), "suppressed skipped")
    cs("contacts", "unsuppress", "@s2.example", check=0)
    cs("contacts", "unsuppress", "@s2.example", check=1)
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["suppressed"], doc["duplicate"]), (1, 1, 1),
       "after unsuppress")


@test
def forget_erases_and_blocks_reimport():
    cs("contacts", "suppress", "user0003@example.com", check=0)
    p = cs("contacts", "forget", "USER0003@Example.com", check=0)
    assert "Forgotten" in p.stdout, p.stdout
    eq(rows("SELECT count(*) FROM contacts WHERE email = "
            "'user0003@example.com'"), [(0,)], "row gone")
    with sqlite3.connect(DB) as c:
        dump = "\n".join(c.iterdump())
    assert "user0003@example.com" not in dump.lower(), "address left in db"
    eq(rows("SELECT count(*) FROM forgotten"), [(1,)], "hash kept")
    path = write("forgot.csv", "email\nUser0003@EXAMPLE.com\n")
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["suppressed"]), (0, 1), "blocked")
    rej = rejects(os.path.join(TMP, "forgot.rejects.csv"))
    assert "forgotten" in rej[1][-1], rej


@test
def migration_6_rewrites_status_check_in_place():
    data = os.path.join(TMP, "m6")
    db = os.path.join(data, "coldseq.db")
    cs("init", data=data, check=0)
    old = ("CHECK (status IN    ('active', 'replied', 'bounced', "
           "'unsubscribed', 'complained'))")
    new = ("CHECK (status = 'active' OR status = 'replied' OR "
           "status = 'bounced' OR status = 'unsubscribed' OR "
           "status = 'complained')")
    # back to a version 5 database, with a contact on a list: what later
    # migrations added goes (tables, and the inbox columns after v5)
    c = sqlite3.connect(db, isolation_level=None)
    v5_tables = {"meta", "settings", "inboxes", "contacts", "suppressions",
                 "inbox_tags", "messages", "inbox_folders", "events",
                 "lists", "list_members", "contact_fields", "forgotten",
                 "templates", "template_versions"}
    v5_inbox_cols = {
        "id", "uuid", "name", "email", "provider", "smtp_host", "smtp_port",
        "imap_host", "imap_port", "username", "auth", "secret", "daily_cap",
        "timezone", "status", "created_at", "smtp_tls", "imap_tls",
        "ca_file", "insecure_tls", "display_name", "signature", "sent_copy",
        "updated_at"}
    for (t,) in c.execute("SELECT name FROM sqlite_schema WHERE type = "
                          "'table' AND name NOT LIKE 'sqlite_%'").fetchall():
        if t not in v5_tables:
            c.execute("DROP TABLE %s" % t)
    # (v11 made the email index partial, on a later column: v2's again)
    c.execute("DROP INDEX IF EXISTS inboxes_email")
    for row in c.execute("PRAGMA table_info(inboxes)").fetchall():
        if row[1] not in v5_inbox_cols:
            c.execute("ALTER TABLE inboxes DROP COLUMN %s" % row[1])
    c.execute("CREATE UNIQUE INDEX inboxes_email ON inboxes(email)")
    c.executescript(
        "BEGIN; PRAGMA writable_schema = ON;"
        "UPDATE sqlite_schema SET sql = replace(sql, '%s', '%s') "
        "WHERE name = 'contacts'; PRAGMA writable_schema = RESET;"
        "CREATE TABLE bump (x); DROP TABLE bump; PRAGMA user_version = 5;"
        "INSERT INTO contacts(email, created_at, updated_at) "
        "VALUES ('m6@x.example', 1, 1);"
        "INSERT INTO lists(name, created_at) VALUES ('l6', 1);"
        "INSERT INTO list_members VALUES (1, 1, 1); COMMIT;"
        % (new.replace("'", "''"), old.replace("'", "''")))
    eq(c.execute("SELECT instr(sql, ?) > 0 FROM sqlite_schema WHERE "
                 "name = 'contacts'", (old,)).fetchall(), [(1,)], "at v5")
    # c keeps its parsed schema while coldseq migrates
    cs("contacts", "list", data=data, check=0)
    assert c.execute("PRAGMA user_version").fetchall()[0][0] >= 6
    eq(c.execute("SELECT instr(sql, ?) > 0 FROM sqlite_schema WHERE "
                 "name = 'contacts'", (new,)).fetchall(), [(1,)],
       "rewritten")
    eq(c.execute("PRAGMA integrity_check").fetchall(), [("ok",)], "intact")
    eq(c.execute("SELECT c.email, l.name FROM contacts c JOIN list_members "
                 "m ON m.contact_id = c.id JOIN lists l ON l.id = "
                 "m.list_id").fetchall(), [("m6@x.example", "l6")], "data")
    try:
        c.execute("UPDATE contacts SET status = 'bogus'")
        raise AssertionError("bad status accepted")
    except sqlite3.IntegrityError as e:
        # the older connection re-read the schema: it names the new check
        assert "status = 'active' OR" in str(e), e
    for st in ("replied", "bounced", "unsubscribed", "complained",
               "active"):
        c.execute("UPDATE contacts SET status = ?", (st,))
    c.close()


def files_holding(needle):
    """The database files (main, WAL) whose bytes contain needle, in any
    case."""
    found = []
    for name in ("coldseq.db", "coldseq.db-wal"):
        path = os.path.join(DATA, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                if needle.lower().encode() in f.read().lower():
                    found.append(name)
    return found


@test
def forget_leaves_the_address_in_no_table_and_no_file():
    addr, other = "Zed.Forget@example.org", "kim.keep@example.org"
    path = write("forget2.csv", "email,first_name,Notes\n%s,Zed,vip\n"
                 "%s,Kim,\n" % (addr, other))
    cs("contacts", "import", path, "--list", "fl", check=0)
    # what the send path and the watcher record about both
    c = sqlite3.connect(DB, isolation_level=None)
    c.execute("INSERT INTO inboxes(uuid, name, email, created_at) VALUES "
              "('u-forget', 'forget-box', 'me@ours.example', 1)")
    ib = c.execute("SELECT id FROM inboxes WHERE uuid = 'u-forget'"
                   ).fetchone()[0]
    for i, (rcpt, subj) in enumerate([(addr.lower(), "Hi Zed"),
                                      (addr.upper(), "Zed, again"),
                                      (other, "Hi Kim")]):
        c.execute("INSERT INTO messages(message_id, inbox_id, inbox_email, "
                  "recipient, purpose, subject, created_at, local_day, "
                  "outcome, smtp_code, smtp_reply, updated_at) VALUES "
                  "(?, ?, 'me@ours.example', ?, 'campaign', ?, 1, "
                  "'2030-01-02', 'sent', 250, ?, 1)",
                  ("<m%d@ours.example>" % i, ib, rcpt, subj,
                   "250 2.0.0 Ok: queued as X1 for <%s>" % rcpt.upper()))
    ev = ("INSERT INTO events(inbox_id, msg_key, recipient, kind, from_addr, "
          "subject, contact, reason, hard, received_at) VALUES "
          "(?, ?, ?, ?, ?, ?, ?, ?, ?, 1)")
    c.execute(ev, (ib, "k1", addr, "bounce", "MAILER-DAEMON@mx.example",
                   "Undelivered Mail Returned to Sender", addr,
                   "550 5.1.1 <%s>: Recipient address rejected" %
                   addr.upper(), 1))
    c.execute(ev, (ib, "k2", "", "reply", addr.upper(), "Re: Hi Zed",
                   addr, None, None))
    c.execute(ev, (ib, "k3", "", "reply", other, "Re: Hi Kim", other, None,
                   None))
    # old pages with the address in the main file and in the WAL: the
    # checkpoint copies them in, then each later event rewrites the page
    # that holds the two above, one WAL frame per transaction
    c.execute("PRAGMA wal_checkpoint(PASSIVE)")
    for i in range(40):
        c.execute(ev, (ib, "f%d" % i, "", "other", "x%d@other.example" % i,
                       None, None, None, None))
    eq(files_holding(addr), ["coldseq.db", "coldseq.db-wal"], "before")
    counts = ("SELECT (SELECT count(*) FROM messages WHERE inbox_id = ?1 "
              "AND local_day = '2030-01-02' AND outcome = 'sent'), "
              "(SELECT count(*) FROM events WHERE inbox_id = ?1 AND "
              "kind = 'bounce'), (SELECT count(*) FROM events WHERE "
              "inbox_id = ?1 AND kind = 'reply')")
    before = c.execute(counts, (ib,)).fetchall()
    # c stays open, as a running service's connection would
    doc = json.loads(cs("contacts", "forget", addr.upper(), "--json",
                        check=0).stdout)
    eq((doc["was_contact"], doc["purged"]), (True, True), "forgotten")
    eq(files_holding(addr), [], "address left in the files")
    eq(files_holding("Hi Zed") + files_holding("Zed, again"), [],
       "subject left in the files")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    eq(files_holding(addr), [], "address left after a checkpoint")
    dump = "\n".join(c.iterdump()).lower()
    assert addr.lower() not in dump, "address left in a table"
    # the rows stay, so caps and counts do not change
    eq(c.execute(counts, (ib,)).fetchall(), before, "counts")
    ph = c.execute("SELECT DISTINCT recipient FROM messages WHERE "
                   "message_id IN ('<m0@ours.example>', "
                   "'<m1@ours.example>')").fetchall()
    eq(len(ph), 1, "one placeholder per address: %r" % ph)
    ph = ph[0][0]
    assert ph.startswith("forgotten:") and len(ph) == 26, ph
    eq(c.execute("SELECT subject, smtp_reply FROM messages WHERE message_id "
                 "= '<m0@ours.example>'").fetchall(),
       [(None, "250 2.0.0 ok: queued as x1 for <%s>" % ph)], "message")
    eq(c.execute("SELECT msg_key, recipient, contact, from_addr, subject, "
                 "reason FROM events WHERE inbox_id = ? AND msg_key IN "
                 "('k1', 'k2') ORDER BY msg_key", (ib,)).fetchall(),
       [("k1", ph, ph, "MAILER-DAEMON@mx.example", None,
         "550 5.1.1 <%s>: recipient address rejected" % ph),
        ("k2", "", ph, ph, None, None)], "events")
    # the other contact's rows are untouched
    eq(c.execute("SELECT recipient, subject FROM messages WHERE message_id "
                 "= '<m2@ours.example>'").fetchall(), [(other, "Hi Kim")],
       "other message")
    eq(c.execute("SELECT contact, from_addr, subject FROM events WHERE "
                 "msg_key = 'k3'").fetchall(),
       [(other, other, "Re: Hi Kim")], "other event")
    eq(c.execute("SELECT count(*) FROM list_members m JOIN lists l ON "
                 "l.id = m.list_id WHERE l.name = 'fl'").fetchall(), [(1,)],
       "list")
    c.close()


tap.main()
