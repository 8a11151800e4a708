#!/usr/bin/env python3
"""make demo: coldseq end to end on a throwaway local mail stack.

Starts Dovecot + Postfix on loopback (tests/mailstack), makes a temporary
data dir with 3 inboxes, imports the sample contacts and 3 templates from
demo/, creates and starts a 3-step campaign and runs the service on a
simulated clock over 10 days.  After the first simulated day one contact
replies, one sends an out-of-office with a return date, and one address
bounces (Postfix's own DSN); the service reads them and stops or delays
those sequences.  Prints status and stats, then stops everything.
"""
import datetime
import email
import email.message
import email.policy
import email.utils
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from mailstack import Stack  # noqa: E402

BIN = os.environ.get("COLDSEQ_BIN", os.path.join(ROOT, "coldseq"))
DEMO = os.path.join(ROOT, "demo")


def say(msg):
    print("\n== " + msg, flush=True)


def cs(data, *args, stdin=None, show=False):
    p = subprocess.run([BIN, "--data-dir", data] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=600)
    if show and p.stdout:
        print(p.stdout.rstrip(), flush=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("coldseq %s failed (exit %d)" % (" ".join(args),
                                                          p.returncode))
    return p


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def maildir(stack, user):
    out = []
    base = stack.maildir_of(user)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out.append(email.message_from_bytes(
                    f.read(), policy=email.policy.default))
    return out


def main():
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="coldseq-demo-")
    data = os.path.join(tmp, "data")
    stack = Stack(users=33)
    say("starting a local mail stack (Dovecot + Postfix on 127.0.0.1)")
    stack.start()
    try:
        cs(data, "init")
        for i in (1, 2, 3):
            sig = os.path.join(tmp, "sig%d.txt" % i)
            with open(sig, "w") as f:
                f.write("Sam Seller %d\nDemo Ltd" % i)
            cs(data, "inbox", "add", "sales%d" % i, "--email",
               stack.user(i), "--smtp", "127.0.0.1:%d" %
               stack.submission_port, "--smtp-tls", "starttls", "--imap",
               "127.0.0.1:%d" % stack.imaps_port, "--imap-tls", "tls",
               "--ca-file", stack.ca_file, "--display-name",
               "Sam Seller %d" % i, "--signature-file", sig,
               "--timezone", "Europe/Berlin", "--daily-cap", "8",
               "--password-stdin", stdin=stack.password + "\n")
        say("3 inboxes (cap 8 a day each), sample contacts, 3 templates")
        cs(data, "inbox", "list", show=True)
        # imported from a copy: rejected rows are written beside the file
        csv = os.path.join(tmp, "contacts.csv")
        shutil.copy(os.path.join(DEMO, "contacts.csv"), csv)
        cs(data, "contacts", "import", csv, "--list", "demo", show=True)
        cs(data, "template", "import", *[os.path.join(DEMO, t) for t in
                                          ("intro.txt", "followup.txt",
                                           "breakup.txt")], show=True)
        cs(data, "campaign", "create", os.path.join(DEMO, "campaign.yaml"),
           show=True)
        cs(data, "campaign", "start", "demo-founders", show=True)
        t0 = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0) + datetime.timedelta(seconds=5)
        day1 = t0 + datetime.timedelta(days=1)
        end = t0 + datetime.timedelta(days=10)
        say("the service, simulated clock: day 1 (%s)" % iso(t0))
        cs(data, "run", "--clock", "sim:%s,fast" % iso(t0), "--until",
           iso(day1), "-q")
        sent = [(u, m) for u in range(4, 33) for m in maildir(stack, u)]
        print("%d first steps delivered" % len(sent))

        say("meanwhile: a reply, an out-of-office, an unsubscribe request "
            "and a bounce")
        by_user = {u: m for u, m in sent}
        replier, away, leaver = sorted(by_user)[:3]
        # (nobody@bounce.test, first in the list, got step 1 on day 1:
        # Postfix answers it with a DSN to the inbox that sent it)
        first = by_user[replier]
        r = email.message.EmailMessage()
        r["From"] = stack.user(replier)
        r["To"] = first["From"]
        r["Subject"] = "Re: " + str(first["Subject"])
        r["Message-ID"] = email.utils.make_msgid(domain="example.test")
        r["In-Reply-To"] = first["Message-ID"]
        r["References"] = first["Message-ID"]
        r["Date"] = email.utils.formatdate()
        r.set_content("Happy to talk. Thursday 10:00?\n")
        stack.submit(replier, email.utils.parseaddr(first["From"])[1],
                     r.as_bytes())
        print("%s replied" % stack.user(replier))
        msg = by_user[away]
        back = (day1 + datetime.timedelta(days=4)).date()
        o = email.message.EmailMessage()
        o["From"] = stack.user(away)
        o["To"] = msg["From"]
        o["Subject"] = "Automatic reply: " + str(msg["Subject"])
        o["Auto-Submitted"] = "auto-replied"
        o["Message-ID"] = email.utils.make_msgid(domain="example.test")
        o["In-Reply-To"] = msg["Message-ID"]
        o["Date"] = email.utils.formatdate()
        o.set_content("I am out of the office and back on %s.\n" %
                      back.strftime("%d %B %Y"))
        stack.submit(away, email.utils.parseaddr(msg["From"])[1],
                     o.as_bytes())
        print("%s is out of office until %s" % (stack.user(away), back))
        # a new mail, not a reply (no In-Reply-To): coldseq ties it to the
        # last message this inbox sent that address
        msg = by_user[leaver]
        unsub = email.message.EmailMessage()
        unsub["From"] = stack.user(leaver)
        unsub["To"] = msg["From"]
        unsub["Subject"] = "remove me"
        unsub["Message-ID"] = email.utils.make_msgid(domain="example.test")
        unsub["Date"] = email.utils.formatdate()
        unsub.set_content("Please remove me from your list.\n")
        stack.submit(leaver, email.utils.parseaddr(msg["From"])[1],
                     unsub.as_bytes())
        print("%s asked to be removed" % stack.user(leaver))
        stack.flush()
        # the mail arrives in real time while the simulated clock would
        # race ahead: wait for all four before the clock runs again
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = [m for i in (1, 2, 3) for m in maildir(stack, i)]
            dsn = [m for m in got if "MAILER-DAEMON" in str(m["From"])]
            ids = {str(m["Message-ID"]) for m in got}
            if dsn and r["Message-ID"] in ids and o["Message-ID"] in ids \
                    and unsub["Message-ID"] in ids:
                break
            stack.flush()
            time.sleep(0.2)
        else:
            raise SystemExit("the reply, out-of-office, unsubscribe "
                             "request or DSN did not arrive")
        print("nobody@bounce.test bounced (Postfix's DSN to the inbox)")

        say("the service, simulated clock: days 2 to 10")
        cs(data, "run", "--clock", "sim:%s,fast" % iso(day1), "--until",
           iso(end), "-q")

        say("coldseq status")
        cs(data, "status", show=True)
        say("coldseq stats")
        cs(data, "stats", show=True)
        say("what each contact received (steps by subject)")
        for u in range(4, 33):
            ms = maildir(stack, u)
            ours = [m for m in ms if str(m["From"]).find("Sam Seller") >= 0]
            print("  %-24s %d message(s)%s" % (
                stack.user(u), len(ours),
                "  (replied)" if u == replier else
                "  (out of office until %s)" % back if u == away else
                "  (unsubscribed)" if u == leaver else ""))
        print("\ndemo took %.0f s of real time" % (time.monotonic() - t_start))
    finally:
        stack.stop()
        if os.environ.get("DEMO_KEEP"):
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
