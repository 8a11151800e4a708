"""Templates through the real binary: import (names, versions, syntax errors
with file:line:column and a caret, all or nothing), list, show, and preview
(fallbacks, missing fields, sender fields, spintax stable per contact and
step, List-Unsubscribe and {{unsubscribe_url}} from the same token)."""
import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import tempfile

import tap
from cstool import coldseq
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-tmpl-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def versions():
    with sqlite3.connect(DB) as c:
        return c.execute("SELECT t.name, v.version FROM templates t JOIN "
                         "template_versions v ON v.template_id = t.id "
                         "ORDER BY 1, 2").fetchall()


def parse(raw):
    return email.message_from_string(raw, policy=email.policy.default)


def part(msg, kind):
    for p in msg.walk():
        if p.get_content_type() == kind:
            return p.get_content().replace("\r\n", "\n")
    return None


cs("init", check=0)
cs("contacts", "import", write("c.csv",
   "email,first_name,last_name,company,timezone,Deal Size\n"
   "ann@example.com,Ann,Lee,A&B Corp,Asia/Tokyo,big\n"
   "bob@example.com,,,,,\n"), check=0)

STEP1 = """Subject: {Quick question|A thought} for {{company|your team}}

{Hi|Hello|Hey} {{first_name|there}},

{{#if company}}How is {{company}}?{{else}}How are things?{{/if}}
Deal: {{deal size|unknown}}

{{sender.first_name}}
{{sender.signature}}
Unsubscribe: {{unsubscribe_url}}
--- html ---
<style>p { margin: 0 }</style>
<p>{Hi|Hello} {{first_name|there}} at {{company|your team}}</p>
"""


@test
def import_names_versions_and_unchanged():
    p = cs("template", "import", write("step1.txt", STEP1), check=0)
    eq(p.stdout, "Imported step1 version 1 (text + html)\n", "first")
    p = cs("template", "import", os.path.join(TMP, "step1.txt"), check=0)
    eq(p.stdout, "Unchanged step1 version 1 (text + html)\n", "same file")
    write("step1.txt", STEP1.replace("How is", "How's"))
    doc = json.loads(cs("template", "import", os.path.join(TMP, "step1.txt"),
                        "--json", check=0).stdout)
    eq((doc[0]["name"], doc[0]["version"], doc[0]["unchanged"]),
       ("step1", 2, False), "new version")
    p = cs("template", "show", "step1@1", check=0)
    eq(p.stdout, STEP1, "version 1 kept as imported")
    p = cs("template", "import", write("fu.tmpl", "\nJust following up, "
                                       "{{first_name|there}}.\n"),
           "--name", "Follow-Up", check=0)
    assert "(no Subject: follow-up steps only)" in p.stdout, p.stdout
    eq(versions(), [("Follow-Up", 1), ("step1", 1), ("step1", 2)], "stored")
    lst = json.loads(cs("template", "list", "--json", check=0).stdout)
    eq([(t["name"], t["version"], t["versions"], t["subject"], t["html"])
        for t in lst],
       [("Follow-Up", 1, 1, False, False), ("step1", 2, 2, True, True)],
       "list")


@test
def syntax_errors_name_file_line_column_and_store_nothing():
    cases = [
        ("unclosed.txt", "Subject: Hi\n\nHello {{first_name,\nBye\n",
         "unclosed.txt:3:7: unclosed '{{'",
         "    Hello {{first_name,\n          ^"),
        ("helper.txt", "Subject: Hi\n\n{{#each items}}x\n",
         "helper.txt:3:3: unknown helper '#each'",
         "    {{#each items}}x\n      ^"),
        ("spin.txt", "Subject: Hi\n\nok\n{Hi|Hello there,\n",
         "spin.txt:4:1: unbalanced spintax", "    {Hi|Hello there,\n    ^"),
        ("colon.txt", "Subject: Hi\nHello there\n\nbody\n",
         "colon.txt:2:1: a header line without a colon",
         "    Hello there\n    ^"),
    ]
    good = write("good.txt", "Subject: ok\n\nfine\n")
    for name, text, first, caret in cases:
        path = write(name, text)
        p = cs("template", "import", good, path, check=1)
        assert first in p.stderr, (name, p.stderr)
        assert caret in p.stderr, (name, p.stderr)
    eq([n for n, _ in versions() if n == "good"], [], "nothing stored")


@test
def preview_renders_fallbacks_and_exact_text():
    p = cs("template", "preview", "step1", "--contact", "BOB@Example.com",
           check=0)
    msg = parse(p.stdout)
    eq(msg["To"], "bob@example.com", "to")
    eq(msg["From"], "Sam Sender <sender@example.com>", "placeholder sender")
    assert msg["Subject"] in ("Quick question for your team",
                              "A thought for your team"), msg["Subject"]
    text = part(msg, "text/plain")
    token = re.search(r"unsubscribe%20([A-Za-z0-9_-]{22})",
                      msg["List-Unsubscribe"]).group(1)
    greet = text.split(" ")[0]
    assert greet in ("Hi", "Hello", "Hey"), text
    eq(text, "%s there,\n\nHow are things?\nDeal: unknown\n\nSam\nSam Sender\n"
       "Example Ltd\nUnsubscribe: mailto:sender@example.com?subject="
       "unsubscribe%%20%s\n" % (greet, token), "text body")
    html = part(msg, "text/html")
    assert re.fullmatch(r"<style>p \{ margin: 0 \}</style>\n<p>(Hi|Hello) "
                        r"there at your team</p>\n", html), html
    # the same contact and step always get the same words
    again = parse(cs("template", "preview", "step1", "--contact",
                     "bob@example.com", check=0).stdout)
    eq((again["Subject"], part(again, "text/plain")),
       (msg["Subject"], text), "deterministic")


@test
def preview_escapes_html_and_uses_inbox_sender():
    cs("inbox", "add", "sales1", "--email", "kim@sender.example", "--smtp",
       "smtp.sender.example:587", "--imap", "imap.sender.example:993",
       "--display-name", "Kim Park", "--signature-file",
       write("sig.txt", "Kim Park\nSender Co"), check=0)
    cs("config", "set", "unsubscribe.url_template",
       "https://u.example/unsub?t={token}", check=0)
    p = cs("template", "preview", "step1", "--contact", "ann@example.com",
           "--from", "sales1", check=0)
    msg = parse(p.stdout)
    eq(msg["From"], "Kim Park <kim@sender.example>", "from")
    text = part(msg, "text/plain")
    url = re.search(r"<(https://u\.example/unsub\?t=[A-Za-z0-9_-]{22})>",
                    msg["List-Unsubscribe"]).group(1)
    assert text.endswith("How's A&B Corp?\nDeal: big\n\nKim\nKim Park\n"
                         "Sender Co\nUnsubscribe: %s\n" % url), text
    assert "at A&amp;B Corp</p>" in part(msg, "text/html")


@test
def preview_missing_field_fails():
    cs("template", "import", write("needs.txt",
       "Subject: For {{company}}\n\nHi {{first_name|there}}\n"), check=0)
    p = cs("template", "preview", "needs", "--contact", "bob@example.com",
           check=1)
    assert "missing field company (needs:1:14" in p.stderr, p.stderr
    eq(p.stdout, "", "nothing printed")
    cs("template", "preview", "needs", "--contact", "ann@example.com",
       check=0)


@test
def follow_up_without_subject():
    p = cs("template", "preview", "follow-up", "--contact", "ann@example.com",
           check=0)
    msg = parse(p.stdout)
    assert msg["Subject"].startswith("Re: "), msg["Subject"]
    eq(part(msg, "text/plain"), "Just following up, Ann.\n", "body")
    p = cs("template", "preview", "Follow-Up", "--contact", "ann@example.com",
           "--step", "1", check=1)
    assert "has no Subject" in p.stderr, p.stderr
    p = cs("template", "preview", "nosuch", "--contact", "ann@example.com",
           check=1)
    assert "no template named 'nosuch'" in p.stderr, p.stderr


tap.main()
