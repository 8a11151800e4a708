"""Import refuses what the sender would refuse (issue 18), through the real
binary: contacts import checks every field with the message builder's own
validator (control characters, CR/LF, header size, the To name, address
syntax) and names FILE:LINE, the column and the reason in the rejects file;
template import refuses text that is not UTF-8 (FILE:LINE:COL, the iconv
command for Windows-1252 / Latin-1), unknown {{sender.*}} names and a Subject
no header can carry; inbox add/set refuse a --ca-file without a
certificate.  Refused input leaves stored data unchanged."""
import csv
import json
import os
import sqlite3
import subprocess
import tempfile

import tap
from cstool import coldseq
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-refuse-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")
HEADER_MAX = 900  # SMTP_HEADER_MAX in smtp/smtp.h


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def rows(sql, *args):
    with sqlite3.connect(DB) as c:
        return c.execute(sql, args).fetchall()


def contacts():
    return rows("SELECT email, first_name, last_name, company, title, "
                "website, custom FROM contacts ORDER BY email")


def rejects(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def versions():
    return rows("SELECT t.name, v.version FROM templates t JOIN "
                "template_versions v ON v.template_id = t.id ORDER BY 1, 2")


cs("init", check=0)


@test
def contacts_import_refuses_what_the_builder_refuses():
    long_company = "C" * (HEADER_MAX + 1)
    text = (
        "email,first_name,last_name,company,title,Notes\r\n"
        "good1@example.com,Ann,Lee,Acme\tInc,CEO,\"multi\r\nline note\"\r\n"
        "bad1@example.com,B\x01ob,Lee,Acme,CTO,x\r\n"            # line 4
        "bad2@example.com,Cy,Lee,Ac\x7fme,CTO,x\r\n"             # line 5
        "bad3@example.com,Di,Lee,Acme,\"Head\r\nof X\",x\r\n"    # line 6-7
        "bad4@example.com,Ed,Lee,%s,CTO,x\r\n"                   # line 8
        "bad5@example.com,%s,%s,Acme,CTO,x\r\n"                  # line 9
        "bad6@example.com,Fay,Lee,Acme,CTO,x\x1by\r\n"           # line 10
        "good2@example.com,%s,,Acme,CTO,x\r\n"                   # line 11
    ) % (long_company, "F" * 450, "L" * 450, "G" * HEADER_MAX)
    path = write("leads.csv", text)
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (2, 6), "counts")
    eq([r[0] for r in contacts()], ["good1@example.com", "good2@example.com"],
       "only the good rows stored")
    eq(json.loads(contacts()[0][6]), {"Notes": "multi\r\nline note"},
       "a multi-line custom field is still fine")
    eq(contacts()[0][3], "Acme\tInc", "TAB is fine")
    rej = rejects(os.path.join(TMP, "leads.rejects.csv"))
    eq(rej[0], ["email", "first_name", "last_name", "company", "title",
                "Notes", "line", "reason"], "rejects header")
    got = {r[0]: (r[-2], r[-1]) for r in rej[1:]}
    want = {
        "bad1@example.com": ("4", path + ":4: column 2: first_name contains "
                             "a control character (U+0001 at byte 2)"),
        "bad2@example.com": ("5", path + ":5: column 4: company contains "
                             "a control character (U+007F at byte 3)"),
        "bad3@example.com": ("6", path + ":6: column 5: title contains a "
                             "line break (CR or LF); refused so it cannot "
                             "inject a header"),
        "bad4@example.com": ("8", path + ":8: column 4: company is 901 "
                             "octets long; a header carries at most 900 "
                             "(RFC 5322: 998 a line)"),
        "bad5@example.com": ("9", path + ":9: columns 2 and 3: the To name "
                             "(first_name last_name) is 901 octets long; a "
                             "header carries at most 900 (RFC 5322: 998 a "
                             "line)"),
        "bad6@example.com": ("10", path + ":10: column 6: Notes contains a "
                             "control character (U+001B at byte 2)"),
    }
    eq(got, want, "every refused row: FILE:LINE, column, reason")
    # the rejects file holds the rows as they were
    eq([r[:6] for r in rej[1:] if r[0] == "bad1@example.com"],
       [["bad1@example.com", "B\x01ob", "Lee", "Acme", "CTO", "x"]],
       "row as read")


@test
def refused_update_leaves_the_stored_contact_unchanged():
    before = contacts()
    path = write("update.csv", "email,first_name,company,Notes\r\n"
                 "good1@example.com,Ann\x02,\"Evil\r\nCorp\",y\r\n"
                 "good2@example.com,Gus,Acme,z\x7fz\r\n")
    doc = json.loads(cs("contacts", "import", path, "--on-existing",
                        "update", "--json", check=0).stdout)
    eq(doc["updated"], 0, "nothing updated")
    eq(contacts(), before, "stored data unchanged")


@test
def address_the_server_would_refuse_is_rejected():
    path = write("addr.csv", "email,first_name\r\n"
                 + "l" * 65 + "@example.com,Long\r\n"
                 + "ok" + "l" * 62 + "@example.com,Edge\r\n"
                 "a..b@example.com,Dots\r\n"
                 "x@" + "d" * 64 + ".com,Label\r\n")
    doc = json.loads(cs("contacts", "import", path, "--json",
                        check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (1, 3), "counts")
    eq(rows("SELECT email FROM contacts WHERE first_name = 'Edge'"),
       [("ok" + "l" * 62 + "@example.com",)], "64 octets before @ is fine")


def latin1_template():
    return "Subject: Caf\u00e9 for {{company|you}}\n\nHi there\n"


@test
def template_import_refuses_latin1_and_names_the_iconv_command():
    before = versions()
    path = write("latin.txt", latin1_template().encode("latin-1"))
    p = cs("template", "import", path, check=1)
    assert path + ":1:13: not valid UTF-8 (byte 0xE9)" in p.stderr, p.stderr
    assert "looks like ISO-8859-1" in p.stderr, p.stderr
    cmd = "iconv -f ISO-8859-1 -t UTF-8 %s > %s.utf8" % (path, path)
    assert cmd in p.stderr, p.stderr
    eq(versions(), before, "nothing stored")
    # the command shown works, and its result imports
    subprocess.run(cmd, shell=True, check=True)
    cs("template", "import", path + ".utf8", "--name", "latin", check=0)
    eq(rows("SELECT v.source FROM template_versions v JOIN templates t ON "
            "t.id = v.template_id WHERE t.name = 'latin'"),
       [(latin1_template(),)], "stored as UTF-8")


@test
def template_import_names_windows_1252():
    text = "Subject: Hi\n\nWe\u2019re \u201cready\u201d\n"
    path = write("win.txt", text.encode("cp1252"))
    p = cs("template", "import", path, check=1)
    assert path + ":3:3: not valid UTF-8 (byte 0x92)" in p.stderr, p.stderr
    assert ("iconv -f WINDOWS-1252 -t UTF-8 %s > %s.utf8" % (path, path)
            in p.stderr), p.stderr
    # a file that is neither: broken UTF-8 among real UTF-8
    path = write("mixed.txt", "Subject: Gr\u00fc\u00dfe\n\nok \xff\n"
                 .encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    p = cs("template", "import", path, check=1)
    assert path + ":3:4: not valid UTF-8 (byte 0xFF): save the file as " \
        "UTF-8" in p.stderr, p.stderr
    assert "iconv" not in p.stderr, p.stderr


@test
def template_with_bom_imports():
    path = write("bom.txt", b"\xef\xbb\xbf" + "Subject: Gr\u00fc\u00dfe "
                 "{{first_name|there}}\n\nHi\n".encode())
    cs("template", "import", path, check=0)
    eq(rows("SELECT substr(v.source, 1, 8) FROM template_versions v JOIN "
            "templates t ON t.id = v.template_id WHERE t.name = 'bom'"),
       [("Subject:",)], "stored without the BOM")


@test
def unknown_sender_field_is_refused_with_its_place():
    before = versions()
    path = write("sender.txt", "Subject: Hi\n\nHi,\n{{sender.first_name}}\n"
                 "{{sender.phone|n/a}}\n")
    p = cs("template", "import", path, check=1)
    assert (path + ":5:1: unknown sender field 'sender.phone' (known: "
            "sender.first_name, sender.last_name, sender.name, "
            "sender.email, sender.signature)") in p.stderr, p.stderr
    assert "    {{sender.phone|n/a}}\n    ^" in p.stderr, p.stderr
    path = write("sender2.txt", "Subject: {{#if sender.titel}}x{{/if}}\n\n"
                 "Hi\n")
    p = cs("template", "import", path, check=1)
    assert path + ":1:10: unknown sender field 'sender.titel'" in p.stderr, \
        p.stderr
    eq(versions(), before, "nothing stored")
    cs("template", "import", write("sender3.txt", "Subject: Hi\n\n"
                                   "{{Sender.First-Name}} {{sender.email}} "
                                   "{{sender.signature}}\n"), check=0)


@test
def subject_longer_than_a_header_at_its_longest_is_refused():
    before = versions()
    # text 21 + the longer spintax choice 860 + the fallback 30 = 911
    subject = ("Quick question about {A|" + "x" * 860 + "}"
               "{{company|" + "y" * 30 + "}}")
    path = write("long.txt", "Subject: %s\n\nHi\n" % subject)
    p = cs("template", "import", path, check=1)
    assert (path + ":1:10: the Subject can render to 911 octets") in \
        p.stderr, p.stderr
    assert "over the 900 a header carries" in p.stderr, p.stderr
    eq(versions(), before, "nothing stored")
    # exactly 900 at its longest is fine
    ok = "Quick question about {A|" + "x" * 849 + "}{{company|" + \
        "y" * 30 + "}}"
    cs("template", "import", write("fits.txt", "Subject: %s\n\nHi\n" % ok),
       check=0)


def make_cert():
    key = os.path.join(TMP, "ca.key")
    pem = os.path.join(TMP, "ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", pem, "-days", "2",
                    "-subj", "/CN=coldseq test CA"], check=True,
                   capture_output=True)
    return pem


def inbox_ca(name):
    for i in json.loads(cs("inbox", "list", "--json", check=0).stdout):
        if i["name"] == name:
            return i.get("ca_file")
    return "absent"


@test
def ca_file_must_hold_a_certificate():
    p = cs("inbox", "add", "x1", "--email", "x1@example.com", "--smtp",
           "smtp.example.com:587", "--imap", "imap.example.com:993",
           "--ca-file", "/etc/passwd", check=2)
    assert ("ca-file: /etc/passwd holds no PEM certificate"
            in p.stderr), p.stderr
    eq(inbox_ca("x1"), "absent", "not stored")
    empty = write("empty.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n"
                  "-----END CERTIFICATE-----\n")
    p = cs("inbox", "add", "x1", "--email", "x1@example.com", "--smtp",
           "smtp.example.com:587", "--imap", "imap.example.com:993",
           "--ca-file", empty, check=2)
    assert empty + " holds no PEM certificate" in p.stderr, p.stderr
    pem = make_cert()
    cs("inbox", "add", "x1", "--email", "x1@example.com", "--smtp",
       "smtp.example.com:587", "--imap", "imap.example.com:993",
       "--ca-file", pem, check=0)
    eq(inbox_ca("x1"), os.path.realpath(pem), "a real CA file is stored")
    p = cs("inbox", "set", "x1", "--ca-file", "/etc/passwd")
    assert p.returncode != 0, p.stdout
    assert "/etc/passwd holds no PEM certificate" in p.stderr, p.stderr
    eq(inbox_ca("x1"), os.path.realpath(pem), "set refused: unchanged")


@test
def inbox_address_the_builder_would_refuse_is_refused():
    for addr in ("l" * 65 + "@example.com", "a..b@example.com"):
        p = cs("inbox", "add", "y1", "--email", addr, "--smtp",
               "smtp.example.com:587", "--imap", "imap.example.com:993",
               check=2)
        assert "is not an email address" in p.stderr, p.stderr
        eq(inbox_ca("y1"), "absent", "not stored")


tap.main()
