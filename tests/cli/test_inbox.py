"""Inbox records through the real binary: add, set, list, show, remove,
import from CSV (line numbers, rejects, atomicity), no secrets in output."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

import tap
from cstool import coldseq
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-inbox-")
DATA = os.path.join(TMP, "data")
OUT = []


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=60,
                   outputs=OUT)


def inboxes():
    return {i["name"]: i for i in json.loads(cs("inbox", "list", "--json",
                                                check=0).stdout)}


@test
def add_applies_defaults_and_stores_sealed_password():
    cs("inbox", "add", "sales1", "--email", "ann@example.com", "--smtp",
       "smtp.example.com:465", "--imap", "imap.example.com:993",
       "--password-stdin", "--tag", "clientA", "--tag", "eu",
       stdin="S3cret-pw!\n", check=0)
    i = inboxes()["sales1"]
    eq(i["smtp_tls"], "tls", "465 means implicit TLS")
    eq(i["imap_tls"], "tls", "993 means implicit TLS")
    eq(i["user"], "ann@example.com", "user defaults to email")
    eq(i["timezone"], "UTC", "timezone")
    eq(i["daily_cap"], 30, "cap from config")
    eq(i["has_secret"], True, "secret")
    eq(sorted(i["tags"]), ["clientA", "eu"], "tags")
    cs("inbox", "add", "sales2", "--email", "bob@example.com", "--smtp",
       "smtp.example.com:587", "--imap", "imap.example.com:143", check=0)
    i = inboxes()["sales2"]
    eq((i["smtp_tls"], i["imap_tls"]), ("starttls", "starttls"), "tls")
    eq(i["has_secret"], False, "no secret")


@test
def duplicate_email_refused_naming_inbox():
    p = cs("inbox", "add", "other", "--email", "ANN@example.com", "--smtp",
           "s.example.com:587", "--imap", "i.example.com:993", check=1)
    assert "connected as inbox 'sales1'" in p.stderr, p.stderr
    p = cs("inbox", "add", "SALES1", "--email", "x@example.com", "--smtp",
           "s.example.com:587", "--imap", "i.example.com:993", check=1)
    assert "already exists" in p.stderr, p.stderr
    assert "other" not in inboxes()


@test
def bad_values_are_usage_errors_storing_nothing():
    for opt, val in (("--smtp", "nohost"), ("--timezone", "Mars/Base"),
                     ("--daily-cap", "0"), ("--smtp-tls", "maybe"),
                     ("--display-name", "a\nb"), ("--ca-file", "/nope.pem")):
        args = ["inbox", "add", "bad", "--email", "bad@example.com",
                "--smtp", "s.example.com:587", "--imap", "i.example.com:993",
                opt, val]
        p = cs(*args, check=2)
        assert opt.lstrip("-") in p.stderr, (opt, p.stderr)
    p = cs("inbox", "add", "bad", "--email", "bad@example.com", "--smtp",
           "s.example.com:587", check=2)
    assert "imap" in p.stderr
    assert "bad" not in inboxes()


@test
def plaintext_only_on_loopback():
    cs("inbox", "add", "plain", "--email", "p@example.com", "--smtp",
       "smtp.example.com:25", "--smtp-tls", "none", "--imap",
       "i.example.com:993", check=2)
    cs("inbox", "add", "plain", "--email", "p@example.com", "--smtp",
       "127.0.0.1:2525", "--smtp-tls", "none", "--imap",
       "127.0.0.1:993", check=0)
    cs("inbox", "remove", "plain", check=0)


@test
def set_changes_settings_and_password():
    cs("inbox", "set", "sales2", "--daily-cap", "45", "--timezone",
       "Europe/Berlin", "--tag", "x", "--password-stdin", stdin="pw2\n",
       check=0)
    i = inboxes()["sales2"]
    eq((i["daily_cap"], i["timezone"], i["tags"], i["has_secret"]),
       (45, "Europe/Berlin", ["x"], True), "after set")
    cs("inbox", "set", "sales2", "--rename", "sales-two", check=0)
    assert "sales-two" in inboxes()
    p = cs("inbox", "set", "nosuch", "--daily-cap", "3", check=1)
    assert "no inbox named 'nosuch'" in p.stderr


@test
def list_by_tag_show_and_remove():
    eq(sorted(inboxes()), ["sales-two", "sales1"], "all")
    tagged = json.loads(cs("inbox", "list", "--tag", "clientA", "--json",
                           check=0).stdout)
    eq([i["name"] for i in tagged], ["sales1"], "tagged")
    p = cs("inbox", "show", "sales1", check=0)
    assert "ann@example.com" in p.stdout and "secret stored" in p.stdout
    cs("inbox", "remove", "sales-two", check=0)
    cs("inbox", "remove", "sales-two", check=1)
    eq(sorted(inboxes()), ["sales1"], "after remove")


CSV = """name,email,smtp,imap,password,tags,daily_cap,display_name
b1,b1@x.example,smtp.x.example:587,imap.x.example:993,pw-b1,clientB;warm,40,"Bee, One"
b2,b2@x.example,smtp.x.example:465,imap.x.example:993,pw-b2,,,"Two
lines"
b3,b1@x.example,smtp.x.example:587,imap.x.example:993,pw-b3,,,
b4,b4@x.example,nohostport,imap.x.example:993,pw-b4,,,
b5,ann@example.com,smtp.x.example:587,imap.x.example:993,,,,
b6,b6@x.example,smtp.x.example:587,imap.x.example:993,pw-b6,,,Six
"""


@test
def import_reports_rejects_by_line_and_stores_good_rows():
    path = os.path.join(TMP, "inboxes.csv")
    with open(path, "w") as f:
        f.write(CSV)
    doc = json.loads(cs("inbox", "import", path, "--dry-run", "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["dry_run"]), (2, True), "dry run")
    assert "b1" not in inboxes()
    doc = json.loads(cs("inbox", "import", path, "--json", check=0).stdout)
    eq(doc["imported"], 2, "imported")
    lines = {r["line"]: r["reason"] for r in doc["rejects"]}
    eq(sorted(lines), [3, 5, 6, 7], "reject lines")
    assert "display-name" in lines[3]
    assert "twice in the file" in lines[5]
    assert "HOST:PORT" in lines[6]
    assert "sales1" in lines[7]
    got = inboxes()
    eq(got["b1"]["tags"], ["clientB", "warm"], "tags")
    eq(got["b1"]["display_name"], "Bee, One", "quoted comma")
    eq(got["b1"]["daily_cap"], 40, "cap")
    eq(got["b6"]["has_secret"], True, "password sealed")


@test
def import_with_bad_header_stores_nothing():
    path = os.path.join(TMP, "bad.csv")
    with open(path, "w") as f:
        f.write("\ufeffname,email,smtp,imap,colour\nz,z@x.example,a:1,b:2,red\n")
    p = cs("inbox", "import", path, check=1)
    assert "bad.csv:1" in p.stderr and "colour" in p.stderr, p.stderr
    assert "nothing was stored" in p.stderr
    assert "z" not in inboxes()


@test
def no_password_anywhere_in_output_or_db_file():
    with open(os.path.join(DATA, "coldseq.db"), "rb") as f:
        raw = f.read()
    for pw in ("S3cret-pw!", "pw-b1", "pw-b6", "pw2"):
        assert pw.encode() not in raw, pw
        for out in OUT:
            assert pw not in out, pw
    con = sqlite3.connect(os.path.join(DATA, "coldseq.db"))
    n = con.execute("SELECT count(*) FROM inboxes WHERE secret IS NOT NULL"
                    ).fetchone()[0]
    con.close()
    eq(n, 3, "sealed secrets")
    doc = json.loads(cs("vault", "status", "--json", check=0).stdout)
    eq((doc["secrets"], doc["unreadable"]), (3, []), "all readable")


try:
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
