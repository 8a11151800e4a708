"""Issue 18: one bad CSV line costs one row.  A stray quote, a quoted field
left open to the end of the file, a field over 64 KiB: each rejects that
row only, the import goes on at the next line and the summary adds up to
the data rows.  Standard input (-) and --rejects; --map naming a column the
file lacks; --list adding contacts already stored."""
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
TMP = tempfile.mkdtemp(prefix="coldseq-csvrec-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")


def cs(*args, check=None):
    return coldseq(DATA, *args, check=check)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def rows(sql, *args):
    with sqlite3.connect(DB) as c:
        return c.execute(sql, args).fetchall()


def rejects(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))[1:]


def emails(like):
    return [r[0] for r in rows("SELECT email FROM contacts WHERE email LIKE "
                               "? ORDER BY email", like)]


def imported(out):
    return json.loads(out)


cs("init", check=0)


def fourteen(bad, prefix):
    """Header, 8 good rows, bad (line 10), 5 good rows: 14 data rows."""
    lines = ["email,first_name,last_name"]
    for i in range(1, 9):
        lines.append("%s%d@example.com,F%d,L" % (prefix, i, i))
    lines.append(bad)
    for i in range(11, 16):
        lines.append("%s%d@example.com,F%d,L" % (prefix, i, i))
    return "\n".join(lines) + "\n"


@test
def text_after_closing_quote_costs_its_line():
    path = write("q.csv", fourteen('q@example.com,"R"x,Z', "qq"))
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"], doc["duplicate"]), (13, 1, 0),
       "13 stored + 1 rejected = 14 data rows")
    eq(rejects(os.path.join(TMP, "q.rejects.csv")),
       [["", "", "", "10", "text after a closing quote"]], "rejects")
    eq(len(emails("qq%")), 13, "the five rows after the bad one stored")
    eq(emails("q@%"), [], "the bad row not stored")


@test
def quote_inside_unquoted_field_stays_text():
    # not RFC 4180, but it cannot swallow later lines: kept as before
    path = write("u.csv", fourteen('u@example.com,O"Brien,Z', "uu"))
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (14, 0), "counts")
    eq(rows("SELECT first_name FROM contacts WHERE email = "
            "'u@example.com'"), [('O"Brien',)], "stored as written")


@test
def unterminated_quote_costs_its_first_line_only():
    # line 10 opens a quote never closed: the lines after it are read again
    path = write("o.csv", fourteen('o@example.com,"open,Z', "oo"))
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (13, 1), "counts")
    r = rejects(os.path.join(TMP, "o.rejects.csv"))
    eq([x[3] for x in r], ["10"], "line")
    assert "not closed by the end of the file" in r[0][4], r
    eq(len(emails("oo%")), 13, "all good rows stored")


@test
def stray_quote_closed_later_costs_one_line():
    # the quote opened on line 10 is closed on line 12 and followed by
    # text: line 10 is rejected, 11 and 12 are read again as rows
    text = fourteen('s@example.com,"stray,Z', "ss").replace(
        "ss12@example.com,F12,L", 'ss12@example.com,"F12"x,L')
    path = write("s.csv", text)
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (12, 2), "counts")
    r = rejects(os.path.join(TMP, "s.rejects.csv"))
    eq([x[3] for x in r], ["10", "12"], "lines")
    assert "ss11@example.com" in emails("ss%"), "line 11 read again"


@test
def valid_multiline_and_crlf_still_work():
    path = write("m.csv", 'email,first_name,notes\r\n'
                 'm1@example.com,A,"two\r\nlines"\r\n'
                 'm2@example.com,B,x\r\n')
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (2, 0), "counts")
    eq(rows("SELECT custom FROM contacts WHERE email = 'm2@example.com'"),
       [('{"notes":"x"}',)], "m2 stored")


@test
def field_over_64k_costs_its_row():
    path = write("big.csv", "email,notes\nb1@example.com,a\n"
                 "b2@example.com,\"" + "x" * (64 * 1024 + 1) + "\"\n"
                 "b3@example.com,c\n")
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (2, 1), "counts")
    r = rejects(os.path.join(TMP, "big.rejects.csv"))
    eq([x[2] for x in r], ["3"], "line")
    assert "longer than 65536 bytes" in r[0][3], r
    eq(emails("b_@example.com"), ["b1@example.com", "b3@example.com"],
       "stored")
    # an unclosed quote swallowing over 1 MB: one line, the rest kept
    path = write("huge.csv", "email,notes\nh1@example.com,\"" +
                 "y" * (1 << 20) + "\nh2@example.com,a\n")
    doc = imported(cs("contacts", "import", path, "--json", check=0).stdout)
    eq((doc["imported"], doc["rejected"]), (1, 1), "counts")
    eq(emails("h_@example.com"), ["h2@example.com"], "stored")


@test
def standard_input_and_rejects_option():
    text = fourteen('i@example.com,"R"x,Z', "in")
    p = subprocess.run([BIN, "--data-dir", DATA, "contacts", "import", "-",
                        "--list", "fromstdin"], input=text,
                       capture_output=True, text=True, cwd=TMP)
    eq(p.returncode, 0, p.stderr)
    assert "Imported 13, updated 0, duplicate 0, suppressed 0, rejected 1" \
        in p.stdout, p.stdout
    assert "stdin.rejects.csv" in p.stdout, p.stdout
    eq([x[3] for x in rejects(os.path.join(TMP, "stdin.rejects.csv"))],
       ["10"], "rejects beside us")
    eq(rows("SELECT count(*) FROM list_members m JOIN lists l ON l.id = "
            "m.list_id WHERE l.name = 'fromstdin'"), [(13,)], "list")
    # /dev/stdin: rejects in the current directory too, never in /dev
    text = fourteen('j@example.com,"R"x,Z', "dv")
    p = subprocess.run([BIN, "--data-dir", DATA, "contacts", "import",
                        "/dev/stdin"], input=text, capture_output=True,
                       text=True, cwd=TMP)
    eq(p.returncode, 0, p.stderr)
    assert not os.path.exists("/dev/stdin.rejects.csv")
    eq(len(rejects(os.path.join(TMP, "stdin.rejects.csv"))), 1, "rewritten")
    # --rejects for any input
    path = write("r.csv", fourteen('r@example.com,"R"x,Z', "rr"))
    out = os.path.join(TMP, "elsewhere.csv")
    doc = imported(cs("contacts", "import", path, "--rejects", out,
                      "--json", check=0).stdout)
    eq(doc["rejects_file"], out, "named")
    eq([x[3] for x in rejects(out)], ["10"], "written there")
    assert not os.path.exists(os.path.join(TMP, "r.rejects.csv"))


@test
def map_of_a_missing_column_is_an_error():
    path = write("map.csv", "email,Vorname\nmp1@example.com,A\n")
    p = cs("contacts", "import", path, "--map", "Bogus=x", check=1)
    assert 'no column "Bogus"' in p.stderr, p.stderr
    assert '"email", "Vorname"' in p.stderr, p.stderr
    eq(emails("mp1@%"), [], "nothing imported")
    cs("contacts", "import", path, "--map", "vorname=first_name", check=0)
    eq(rows("SELECT first_name FROM contacts WHERE email = "
            "'mp1@example.com'"), [("A",)], "a column in any case")


@test
def list_gets_contacts_already_stored():
    path = write("l1.csv", "email,first_name\nl1@example.com,One\n"
                 "l2@example.com,Two\n")
    cs("contacts", "import", path, check=0)
    path = write("l2.csv", "email,first_name\nl1@example.com,Uno\n"
                 "l2@example.com,Dos\nl3@example.com,Tres\n"
                 "l1@example.com,Again\n")
    p = cs("contacts", "import", path, "--list", "newlist", check=0)
    assert "Imported 1, updated 0, duplicate 1, suppressed 0, rejected 0" \
        in p.stdout, p.stdout
    assert "Already stored 2 (fields unchanged)" in p.stdout, p.stdout
    assert "Added to list newlist: 3" in p.stdout, p.stdout
    eq(rows("SELECT c.email, c.first_name FROM list_members m JOIN lists l "
            "ON l.id = m.list_id JOIN contacts c ON c.id = m.contact_id "
            "WHERE l.name = 'newlist' ORDER BY c.email"),
       [("l1@example.com", "One"), ("l2@example.com", "Two"),
        ("l3@example.com", "Tres")], "members, fields unchanged")
    r = rejects(os.path.join(TMP, "l2.rejects.csv"))
    eq([(x[0], x[2]) for x in r], [("l1@example.com", "5")],
       "only the duplicate within the file")
    # again: nothing new on the list; with update the fields change
    doc = imported(cs("contacts", "import", path, "--list", "newlist",
                      "--on-existing", "update", "--json", check=0).stdout)
    eq((doc["updated"], doc["added_to_list"]), (3, 0), "update")
    eq(rows("SELECT first_name FROM contacts WHERE email = "
            "'l2@example.com'"), [("Dos",)], "updated")


tap.main()
