"""README.md as a walkthrough: every command of its ```sh blocks, in the
order the README gives them, run against the real local mail stack on a
fresh data directory, each must exit 0 (or the exit named below, with the
reason).  The commands and the example files the README shows (the
template, the campaign file, inboxes.csv) are read from README.md at test
time, so README and program cannot drift apart silently.

What the README writes for a real installation is mapped onto the stack by
the explicit substitution table SUBST; files the README names but does not
show are written by FILES.  Commands that cannot run in a test are listed
in SKIP with the reason, printed as they are passed, and a SKIP or EXPECT
rule that no longer matches any README command fails the test (the README
changed: update this table)."""
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

import tap
from cstool import coldseq
from mailstack import Stack
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
README = os.path.join(ROOT, "README.md")
TMP = tempfile.mkdtemp(prefix="coldseq-readme-")
DATA = os.path.join(TMP, "data")      # COLDSEQ_HOME: the default data dir
WORK = os.path.join(TMP, "work")      # the commands' working directory
S = None

# Commands that cannot run here: (regex on the command, reason).
SKIP = [
    (r"^make( |$)", "builds, installs or tests the project: this test runs "
     "inside that"),
    (r"^sudo make install", "installs into the system"),
    (r"^sudo useradd", "creates a system user"),
    (r"^sudo install -d", "creates /var/lib/coldseq as root"),
    (r"^(sudo )?systemctl ", "systemd is not running the tests"),
    (r"^journalctl ", "the systemd journal"),
    (r"^loginctl ", "systemd-logind"),
    (r"^coldseq inbox connect ", "signs in at Microsoft or Google: a real "
     "provider and a person at a browser"),
    (r"^coldseq inbox import oauth-inboxes\.csv", "stores Google and "
     "Microsoft inboxes pending that sign-in (not on loopback: the "
     "simulated run below would rightly refuse them)"),
]

# Commands whose exit is not 0 in a fresh walkthrough: (regex, exit, why).
EXPECT = [
    (r"^coldseq outbox resolve 42 ", 1, "no message is uncertain after a "
     "clean run; resolve takes only those"),
]

FILES = {
    "leads.csv": "email,first_name,last_name,company\n"
                 "ann@example.com,Ann,Lee,Acme\n"
                 "dan@example.com,Dan,Ross,Initech\n"
                 "eve@example.com,Eve,,\n",
    "apollo.csv": "Work Email,First Name,Notes\n"
                  "zed@example.com,Zed,met at the fair\n",
    "crm.tsv": "email\tfirst_name\tcompany\n"
               "ann@example.com\tAnn\tAcme GmbH\n"
               "late@example.com\tLou\tLateCo\n",
    "do-not-contact.txt": "spam@example.com\n@blocked.example\n",
    "step2.txt": "\n{{first_name|Hi}}, a short follow-up on my note.\n\n"
                 "{{sender.first_name}}\n",
    "step3.txt": "\nLast note from me, {{first_name|there}}.\n\n"
                 "{{sender.name}}\n{{sender.signature}}\n",
    "intro.tmpl": "Subject: Hello {{first_name|there}}\n\n"
                  "{{company|Your team}} came up in our search.\n\n"
                  "{{sender.name}}\n",
    "message.eml": "From: Ann Lee <ann@example.com>\r\nTo: a@example.com\r\n"
                   "Subject: Re: Quick question\r\nMessage-ID: <r1@x>\r\n"
                   "\r\nSounds good, call me.\r\n",
    "bounce1.eml": None,   # written from BOUNCE below
    "bounce2.eml": None,
}

BOUNCE = ("From: MAILER-DAEMON@example.net\r\nTo: a@example.com\r\n"
          "Subject: Undelivered Mail Returned to Sender\r\n"
          "Message-ID: <b%d@example.net>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/report; report-type=delivery-status; "
          "boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
          "Delivery failed.\r\n--B\r\nContent-Type: message/delivery-status"
          "\r\n\r\nReporting-MTA: dns; example.net\r\n\r\n"
          "Final-Recipient: rfc822; gone%d@example.com\r\nAction: failed\r\n"
          "Status: 5.1.1\r\n\r\n--B--\r\n")


def subst():
    """What the README writes for a real setup -> the local stack."""
    return [
        ("smtp.example.com:587", "127.0.0.1:%d" % S.submission_port),
        # 993 is implicit TLS; the stack's IMAP port with STARTTLS keeps
        # the README's commands as written (TLS still verified)
        ("imap.example.com:993", "127.0.0.1:%d" % S.imap_port),
        ("--email ann@example.com", "--email " + S.user(1)),
        ("bo@example.com", S.user(2)),
        ("cy@example.com", S.user(3)),
        ("app-password-2", S.password),
        ("app-password-3", S.password),
        ("me@example.org", S.user(4)),
        ("/var/lib/coldseq", os.path.join(TMP, "var-lib-coldseq")),
        ("/etc/coldseq/vault.key", os.path.join(TMP, "etc-coldseq.key")),
        ("sudo -u coldseq ", ""),
    ]


def apply(text):
    for a, b in subst():
        text = text.replace(a, b)
    return text


def strip_comment(line):
    """The line without a trailing shell comment (# outside quotes)."""
    q = None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme():
    """(commands, files): the commands of every ```sh block in order, and
    the example files the README shows: a fenced block right after a
    sentence naming `NAME.ext` and ending with ':'."""
    text = open(README, encoding="utf-8").read()
    cmds, files = [], {}
    for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M):
        lang, body = m.group(1), m.group(2)
        if lang == "sh":
            joined = re.sub(r"\\\n\s*", " ", body)
            for line in joined.splitlines():
                line = strip_comment(line).strip()
                if line:
                    cmds.append(re.sub(r"\s+", " ", line))
            continue
        before = text[:m.start()].rstrip()
        para = before[before.rfind("\n\n") + 2:]
        named = re.findall(r"`([\w.-]+\.(?:txt|yaml|csv|tmpl))`", para)
        if named and para.endswith(":"):
            files[named[-1]] = body
    return cmds, files


def rule(rules, cmd):
    for r in rules:
        if re.search(r[0], cmd):
            return r
    return None


def status():
    p = coldseq(DATA, "status", "--json", check=0)
    return json.loads(p.stdout)["service"]


def wait_for(pred, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def run_until_sigterm(cmd, env, ready, what, lines=()):
    """A command that runs until SIGTERM: start it, wait until ready()
    and until it printed a line holding each of lines, stop it, and
    require exit 0."""
    p = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=WORK, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    seen = []
    t = threading.Thread(target=lambda: seen.extend(p.stdout), daemon=True)
    t.start()
    try:
        wait_for(lambda: ready() and all(any(w in l for l in list(seen))
                                         for w in lines), what)
    finally:
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=60)[1]
        t.join(10)
    assert p.returncode == 0, "%s: exit %d\n%s\n%s" % (
        cmd, p.returncode, "".join(seen), err)


def setup():
    """WORK holds the example files, TMP/bin the binary as `coldseq`."""
    _, shown = readme()
    for name in ("step1.txt", "q1-founders.yaml", "inboxes.csv"):
        assert name in shown, "README no longer shows %s" % name
    os.makedirs(WORK)
    bindir = os.path.join(TMP, "bin")
    os.makedirs(bindir)
    os.symlink(BIN, os.path.join(bindir, "coldseq"))
    for name, body in list(FILES.items()) + list(shown.items()):
        if body is None:
            body = BOUNCE % ((1, 1) if name == "bounce1.eml" else (2, 2))
        with open(os.path.join(WORK, name), "w", encoding="utf-8") as f:
            f.write(apply(body))


@test
def readme_walkthrough_works_as_written():
    cmds, _ = readme()
    bindir = os.path.join(TMP, "bin")
    env = dict(os.environ, COLDSEQ_HOME=DATA, PASSWORD=S.password,
               NEW_PASSWORD=S.password, GOOGLE_CLIENT_SECRET="gcs-example",
               SSL_CERT_FILE=S.ca_file,
               PATH=bindir + os.pathsep + os.environ["PATH"])
    used = set()
    ran = 0
    for cmd in cmds:
        r = rule(SKIP, cmd)
        if r:
            used.add(r[0])
            print("# skip: %s  (%s)" % (cmd, r[1]), flush=True)
            continue
        real = apply(cmd)
        print("# run: %s" % cmd, flush=True)
        if cmd == "coldseq run":
            run_until_sigterm(real, env, lambda: status()["running"],
                              "the service to run")
        elif cmd == "coldseq inbox sync --all":
            run_until_sigterm(real, env, lambda: True,
                              "both watchers to connect",
                              ["sales1: connected to",
                               "sales2: connected to"])
        elif re.match(r"^coldseq outbox (show|retry|drop) 42", cmd):
            # the README's 42: the walkthrough's own first campaign
            # message (its send-test is an outbox row too, purpose test)
            with sqlite3.connect(os.path.join(DATA, "coldseq.db")) as h:
                first = h.execute("SELECT min(id) FROM outbox WHERE "
                                  "purpose = 'campaign'").fetchone()[0]
            rows = json.loads(coldseq(DATA, "outbox", "show", str(first),
                                      "--json", check=0).stdout)
            assert rows, "no outbox row %s" % first
            p = subprocess.run(["bash", "-c",
                                real.replace(" 42", " %d" % first)],
                               cwd=WORK, env=env, capture_output=True,
                               text=True, timeout=300)
            want = rule(EXPECT, cmd)
            eq(p.returncode, want[1] if want else 0,
               "%s\nstdout: %s\nstderr: %s" % (cmd, p.stdout, p.stderr))
        else:
            want = rule(EXPECT, cmd)
            if want:
                used.add(want[0])
            p = subprocess.run(["bash", "-c", real], cwd=WORK, env=env,
                               capture_output=True, text=True, timeout=300)
            eq(p.returncode, want[1] if want else 0,
               "%s\nstdout: %s\nstderr: %s" % (cmd, p.stdout, p.stderr))
            if cmd == "coldseq run --detach":
                pid = status()["pid"]
                os.kill(pid, signal.SIGTERM)
                wait_for(lambda: not status()["running"],
                         "the detached service to stop")
        ran += 1
    for r in SKIP + EXPECT:
        assert r[0] in used, "rule %r matches no README command" % r[0]
    assert ran > 60, "only %d commands ran" % ran


@test
def readme_inbox_and_template_preview_without_signature():
    """The README's own inbox (no --signature-file) and template
    ({{sender.signature}}), on a data dir of their own: the preview from
    that inbox renders, the signature empty, not a missing field."""
    cmds, _ = readme()
    data = os.path.join(TMP, "preview")
    env = dict(os.environ, COLDSEQ_HOME=data, PASSWORD=S.password,
               SSL_CERT_FILE=S.ca_file,
               PATH=os.path.join(TMP, "bin") + os.pathsep +
               os.environ["PATH"])
    wanted = [c for c in cmds if c == "coldseq init" or
              c.startswith("echo \"$PASSWORD\" | coldseq inbox add sales1")
              or c.startswith("coldseq contacts import leads.csv")
              or c.startswith("coldseq template import step1.txt")]
    eq(len(wanted), 5, "init (twice), inbox add, contacts and template "
       "import in the README: %r" % wanted)
    for cmd in wanted:
        p = subprocess.run(["bash", "-c", apply(cmd)], cwd=WORK, env=env,
                           capture_output=True, text=True, timeout=120)
        eq(p.returncode, 0, "%s: %s" % (cmd, p.stderr))
    p = coldseq(data, "template", "preview", "step1", "--contact",
                "ann@example.com", "--from", "sales1")
    assert "missing field" not in p.stderr, p.stderr
    eq(p.returncode, 0, "preview exit (%s)" % p.stderr)
    body = p.stdout.replace("\r\n", "\n")
    # "{{sender.first_name}}\n{{sender.signature}}\nUnsubscribe:"
    assert "\nAnn\n\nUnsubscribe: " in body, body


try:
    S = Stack(users=6)
    S.start()
    setup()
    tap.main()
finally:
    if S:
        S.stop()
