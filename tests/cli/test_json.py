"""--json prints exactly one JSON document on stdout, for every command
(issue 18).

The commands are enumerated from the program itself (`coldseq help` and
`coldseq help GROUP`), so a command added later is covered without
editing this file: it runs with the arguments ARGS gives it, or with none
(a usage error, which must be a JSON document too).  Every command runs in
a realistic data directory (an inbox on the local stack, contacts,
templates, a started campaign that sent its first step, an event) and in
an empty initialised one, and with an unknown option.  The rule checked,
as `coldseq --help` documents it: stdout parses as exactly one JSON
document; a failure (exit 1 or 2) without a document of the command's own
is {"error": sentence, "exit": status}; a command whose --help documents
no JSON shape ("--json prints") refuses --json that way with exit 2."""
import email.message
import email.utils
import json
import os
import re
import shutil
import tempfile

import tap
from cstool import BIN, coldseq
from mailstack import Stack
from tap import eq, test

TMP = tempfile.mkdtemp(prefix="coldseq-json-")
REAL = os.path.join(TMP, "real")
EMPTY = os.path.join(TMP, "empty")
S = None


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def commands():
    """(group or None, name) of every command, from `coldseq help`."""
    out = coldseq(None, "help", check=0).stdout
    actions = re.search(r"\nActions:\n(.*?)\n\n", out, re.S).group(1)
    groups = re.search(r"\nGroups:\n(.*?)\n\n", out, re.S).group(1)
    cmds = [(None, l.split()[0]) for l in actions.splitlines()
            if l.split()[0] != "help"]
    for g in (l.split()[0] for l in groups.splitlines()):
        gh = coldseq(None, "help", g, check=0).stdout
        body = re.search(r"\nCommands:\n(.*?)\n\n", gh, re.S).group(1)
        cmds += [(g, l.split()[0]) for l in body.splitlines()]
    return cmds


def words(cmd):
    return [cmd[1]] if cmd[0] is None else [cmd[0], cmd[1]]


def has_shape(cmd):
    return "--json prints" in coldseq(None, *words(cmd), "--help",
                                      check=0).stdout


def one_document(data, cmd, args, stdin=None):
    p = coldseq(data, *words(cmd), *args, "--json", stdin=stdin,
                timeout=120)
    what = "%s %s: exit %d\nstdout: %r\nstderr: %s" % (
        " ".join(words(cmd)), " ".join(args), p.returncode, p.stdout,
        p.stderr[-1500:])
    assert p.returncode in (0, 1, 2), what
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        raise AssertionError("not one JSON document (%s): %s" % (e, what))
    if isinstance(doc, dict) and "error" in doc and "exit" in doc:
        eq(doc["exit"], p.returncode, "exit in the error document: " + what)
        assert p.returncode != 0, what
        assert doc["error"], what
    elif p.returncode == 2:
        raise AssertionError("a usage error without {error}: " + what)
    if not has_shape(cmd):
        eq(p.returncode, 2, "no JSON shape documented, so refused: " + what)
    return p.returncode, doc


def ARGS():
    """Realistic arguments per command; commands run in this order (the
    ones that change or remove things last); others with none."""
    inbox = ["--email", S.user(4), "--smtp",
             "127.0.0.1:%d" % S.submission_port, "--smtp-tls", "starttls",
             "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
             "--ca-file", S.ca_file, "--password-stdin"]
    pw = S.password + "\n"
    return [
        ((None, "status"), [], None),
        ((None, "stats"), [], None),
        ((None, "replies"), [], None),
        ((None, "classify"), [EML], None),
        ((None, "init"), [], None),
        (("inbox", "list"), [], None),
        (("inbox", "show"), ["user1"], None),
        (("inbox", "test"), ["user1"], None),
        (("inbox", "sync"), ["user1", "--once"], None),
        (("inbox", "sync"), ["--all", "--once"], None),
        (("inbox", "sync"), ["user1"], None),
        (("config", "get"), ["general.timezone"], None),
        (("config", "list"), [], None),
        (("vault", "status"), [], None),
        (("contacts", "list"), [], None),
        (("contacts", "show"), [S.user(2)], None),
        (("template", "list"), [], None),
        (("template", "show"), ["s1"], None),
        (("template", "preview"), ["s1", "--contact", S.user(2), "--from",
                                   "user1"], None),
        (("template", "preview"), ["s2", "--contact", S.user(2)], None),
        (("campaign", "list"), [], None),
        (("campaign", "show"), ["c"], None),
        (("campaign", "preview"), ["c", "--days", "3"], None),
        (("campaign", "explain"), ["c", "--contact", S.user(2)], None),
        (("campaign", "explain"), ["c", "--contact", S.user(3)], None),
        (("outbox", "uncertain"), [], None),
        (("outbox", "check"), [], None),
        (("outbox", "show"), ["1"], None),
        (("warmup", "status"), [], None),
        ((None, "send-test"), ["--from", "user1", "--to", S.user(2),
                               "--subject", "Hi", "--body", "Hello"], None),
        (("inbox", "add"), ["user9"] + inbox, pw),
        (("inbox", "set"), ["user9", "--daily-cap", "30"], None),
        (("inbox", "pause"), ["user9"], None),
        (("inbox", "resume"), ["user9"], None),
        (("inbox", "import"), [INBOX_CSV], None),
        (("inbox", "connect"), ["--pending"], None),
        (("config", "set"), ["general.timezone", "UTC"], None),
        (("config", "unset"), ["general.timezone"], None),
        (("contacts", "import"), [CONTACTS_CSV, "--list", "l2"], None),
        (("contacts", "suppress"), ["x@nowhere.test"], None),
        (("contacts", "unsuppress"), ["x@nowhere.test"], None),
        (("template", "import"), [T3], None),
        (("campaign", "create"), [C2], None),
        (("campaign", "enroll"), ["c2", "--contact", S.user(5)], None),
        (("campaign", "start"), ["c2"], None),
        (("campaign", "pause"), ["c2"], None),
        (("campaign", "resume"), ["c2"], None),
        (("outbox", "resolve"), ["1", "--sent"], None),
        (("outbox", "drop"), ["1"], None),
        (("outbox", "retry"), ["1"], None),
        (("warmup", "enable"), ["user9"], None),
        (("warmup", "disable"), ["user9"], None),
        ((None, "run"), ["--clock", "sim:now,fast", "--until", "+1m"], None),
        (("contacts", "forget"), [S.user(5)], None),
        (("inbox", "remove"), ["user9"], None),
        (("vault", "rekey"), [], None),
        (("vault", "rotate"), [], None),
    ]


def setup():
    global EML, INBOX_CSV, CONTACTS_CSV, T3, C2
    coldseq(REAL, "init", check=0)
    coldseq(EMPTY, "init", check=0)
    # doctor asks DNS: never the system's resolver from a test (port 9
    # on loopback: nothing answers, the questions fail at once)
    for d in (REAL, EMPTY):
        coldseq(d, "config", "set", "dns.servers", "127.0.0.1:9", check=0)
    coldseq(REAL, "inbox", "add", "user1", "--email", S.user(1), "--smtp",
            "127.0.0.1:%d" % S.submission_port, "--smtp-tls", "starttls",
            "--imap", "127.0.0.1:%d" % S.imaps_port, "--imap-tls", "tls",
            "--ca-file", S.ca_file, "--daily-cap", "20",
            "--password-stdin", stdin=S.password + "\n", check=0)
    coldseq(REAL, "contacts", "import", write("c.csv", "email,first_name\n"
            + "".join("%s,P%d\n" % (S.user(u), u) for u in (2, 3))),
            "--list", "l", check=0)
    coldseq(REAL, "template", "import",
            write("s1.txt", "Subject: Hello {{first_name}}\n\nOne.\n"),
            write("s2.txt", "\nTwo.\n"), check=0)
    coldseq(REAL, "campaign", "create", write("c.yaml", (
        "name: c\nlist: l\ninboxes: [user1]\ntimezone: UTC\n"
        "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
        "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n"
        "  - template: s2\n    delay: 5 days\n")), check=0)
    coldseq(REAL, "campaign", "start", "c", check=0)
    coldseq(REAL, "run", "--clock", "sim:now,fast", "--until", "+1d",
            check=0)
    got = S.wait_for(2, predicate=lambda m: str(m["Subject"]).startswith(
        "Hello"), timeout=30)[0]
    r = email.message.EmailMessage()
    r["From"] = S.user(2)
    r["To"] = S.user(1)
    r["Subject"] = "Re: " + str(got["Subject"])
    r["Message-ID"] = email.utils.make_msgid(domain="example.test")
    r["In-Reply-To"] = got["Message-ID"]
    r["Date"] = email.utils.formatdate()
    r.set_content("Tell me more.\n")
    S.submit(2, S.user(1), r.as_bytes())
    S.wait_for(1, predicate=lambda m: m["Message-ID"] == r["Message-ID"],
               timeout=30)
    EML = write("r.eml", r.as_string())
    INBOX_CSV = write("i.csv", "name,email,smtp,imap,password\n"
                      "user8,%s,127.0.0.1:%d,127.0.0.1:%d,pw\n" % (
                          S.user(5), S.submission_port, S.imaps_port))
    CONTACTS_CSV = write("c2.csv", "email\n%s\n%s\n" % (S.user(5),
                                                       S.user(2)))
    T3 = write("t3.txt", "Subject: Third\n\nThree.\n")
    C2 = write("c2.yaml", (
        "name: c2\nlist: l2\ninboxes: [user1]\ntimezone: UTC\n"
        "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
        "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: t3\n"))


@test
def every_command_prints_one_document_in_a_realistic_dir():
    cmds = commands()
    assert len(cmds) > 40, cmds
    table = ARGS()
    for cmd, args, stdin in table:
        assert cmd in cmds, "ARGS names %r, which is no command" % (cmd,)
    covered = {c for c, _, _ in table}
    for cmd, args, stdin in table + [(c, [], None) for c in cmds
                                     if c not in covered]:
        one_document(REAL, cmd, args, stdin)


@test
def the_documented_shapes_on_real_data():
    # what used to print text or JSON Lines
    rc, doc = one_document(REAL, ("inbox", "sync"), ["user1", "--once"])
    eq(rc, 0, "sync: %r" % doc)
    rc, doc = one_document(REAL, (None, "replies"), ["--kind", "reply"])
    eq(rc, 0, "replies")
    assert isinstance(doc, list) and doc, doc
    rc, doc = one_document(REAL, ("template", "preview"),
                           ["s1", "--contact", S.user(3), "--from", "user1"])
    eq(rc, 0, "template preview")
    eq(doc["subject"], "Hello P3", "preview subject")
    assert "\nSubject: Hello P3" in doc["message"].replace("\r", ""), doc
    rc, doc = one_document(REAL, ("campaign", "explain"),
                           ["c", "--contact", S.user(3)])
    eq(rc, 0, "campaign explain")
    eq((doc["campaign"], doc["contact"]), ("c", S.user(3)), "explain keys")
    assert "state" in doc["lines"] or "due" in doc["lines"], doc
    rc, doc = one_document(REAL, (None, "classify"), [EML])
    eq([d["kind"] for d in doc], ["reply"], "classify")
    rc, doc = one_document(REAL, ("inbox", "sync"), ["--all", "--once"])
    assert "user1" in [d["inbox"] for d in doc], doc


@test
def every_command_prints_one_document_in_an_empty_dir():
    for cmd in commands():
        if cmd in ((None, "init"),):
            continue
        one_document(EMPTY, cmd, [])
    for cmd, want in (((None, "replies"), []), (("inbox", "list"), []),
                      (("contacts", "list"), []),
                      (("campaign", "list"), []),
                      (("template", "list"), []),
                      (("outbox", "uncertain"), []),
                      (("outbox", "check"), [])):
        rc, doc = one_document(EMPTY, cmd, [])
        eq((rc, doc), (0, want), " ".join(words(cmd)))


@test
def failures_and_usage_errors_are_one_error_document():
    cmds = commands()
    for cmd in cmds:
        rc, doc = one_document(REAL, cmd, ["--no-such-option"])
        eq(rc, 2, "%s --no-such-option" % " ".join(words(cmd)))
        assert "no-such-option" in doc["error"], doc
    rc, doc = one_document(REAL, ("campaign", "show"), ["nope"])
    eq(rc, 1, "unknown campaign")
    assert "nope" in doc["error"], doc
    nodir = os.path.join(TMP, "never-initialised")
    rc, doc = one_document(nodir, ("inbox", "list"), [])
    eq(rc, 1, "no data dir")
    assert "init" in doc["error"], doc
    p = coldseq(REAL, "inbox", "lsit", "--json")
    eq(p.returncode, 2, "a misspelt command")
    assert "error" in json.loads(p.stdout), p.stdout


try:
    S = Stack(users=6)
    S.start()
    setup()
    tap.main()
finally:
    if S:
        S.stop()
    shutil.rmtree(TMP, ignore_errors=True)
