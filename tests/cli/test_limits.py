"""Provider limits through the real binary (issue 21): `inbox add|set
--limit NAME=N | --hard-cap | --trial | --tenant`, `tenant set|list|show`,
and each limit's rolling counter in `inbox show` and `status`.

Sends are written straight into the test database with sqlite3 (the
sending path that records them is covered by tests/unit/test_limits.c);
here the CLI's reading and writing side is under test."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-limits-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")
DAY = 86400000
SERVERS = ["--smtp", "127.0.0.1:2525", "--imap", "127.0.0.1:1993"]


def cs(*args, stdin=None, check=None):
    return coldseq(DATA, *args, stdin=stdin, check=check, timeout=60)


def js(*args):
    return json.loads(cs(*args, "--json", check=0).stdout)


def sql(q, *args):
    con = sqlite3.connect(DB)
    try:
        rows = con.execute(q, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def send(inbox, rcpt, t, n=[0]):
    n[0] += 1
    iid = sql("SELECT id FROM inboxes WHERE name = ?", inbox)[0][0]
    sql("INSERT INTO messages(message_id, inbox_id, inbox_email, recipient, "
        "purpose, created_at, local_day, outcome, updated_at) VALUES (?, ?, "
        "'x@a.test', ?, 'campaign', ?, '2026-01-01', 'sent', ?)",
        "<l%d@limits>" % n[0], iid, rcpt, t, t)


def limits(doc):
    return {l["name"]: l for l in doc["limits"]}


@test
def limit_options_override_the_table():
    cs("inbox", "add", "g1", "--email", "g1@contoso.test", "--provider",
       "google", *SERVERS, "--limit", "messages_24h=300", "--limit",
       "external_24h=0", check=0)
    i = js("inbox", "show", "g1")
    eq(i["limit_overrides"], "messages_24h=300 external_24h=0")
    eq(i["hard_cap"], 300, "hard_cap: the messages_24h override")
    got = {n: l["max"] for n, l in limits(i).items()}
    # external_24h=0 turns it off; the others are Workspace's
    eq(got, {"messages_24h": 300, "recipients_24h": 10000,
             "unique_external_24h": 2000})
    # trial: Workspace's lower figures where not overridden
    cs("inbox", "set", "g1", "--trial", "--limit", "messages_24h=default",
       check=0)
    i = js("inbox", "show", "g1")
    eq((i["trial"], i["limit_overrides"]), (True, "external_24h=0"))
    got = {n: l["max"] for n, l in limits(i).items()}
    eq((got["messages_24h"], got["unique_external_24h"]), (500, 500))
    cs("inbox", "set", "g1", "--no-trial", check=0)
    eq(limits(js("inbox", "show", "g1"))["messages_24h"]["max"], 2000)
    # --hard-cap is --limit messages_24h=N; 0 is the provider's
    cs("inbox", "set", "g1", "--hard-cap", "120", check=0)
    eq(js("inbox", "show", "g1")["limit_overrides"],
       "messages_24h=120 external_24h=0")
    cs("inbox", "set", "g1", "--hard-cap", "0", check=0)
    eq(js("inbox", "show", "g1")["limit_overrides"], "external_24h=0")
    # a Gmail address: the consumer limits
    cs("inbox", "add", "gm", "--email", "someone@gmail.com", "--provider",
       "google", *SERVERS, check=0)
    got = {n: l["max"] for n, l in limits(js("inbox", "show", "gm")).items()}
    eq(got, {"messages_24h": 500, "recipients_24h": 500})


@test
def unknown_or_bad_limits_are_refused_storing_nothing():
    before = js("inbox", "show", "g1")["limit_overrides"]
    p = cs("inbox", "set", "g1", "--limit", "messages_per_day=3", check=2)
    assert "messages_per_day" in p.stderr, p.stderr
    assert "unique_external_24h" in p.stderr, p.stderr  # the names listed
    p = cs("inbox", "set", "g1", "--limit", "messages_24h=lots", check=2)
    assert "NAME=N" in p.stderr, p.stderr
    p = cs("inbox", "set", "g1", "--limit", "messages_24h", check=2)
    assert "NAME=N" in p.stderr, p.stderr
    p = cs("inbox", "set", "g1", "--trial", "--no-trial", check=2)
    assert "contradict" in p.stderr, p.stderr
    eq(js("inbox", "show", "g1")["limit_overrides"], before)


@test
def rolling_counter_and_when_it_frees():
    cs("inbox", "add", "r1", "--email", "r1@a.test", *SERVERS, "--limit",
       "messages_24h=3", check=0)
    now = int(time.time() * 1000)
    t0 = now - 20 * 3600000  # 20 hours ago: still in the window
    send("r1", "x@b.test", now - 30 * 3600000)  # 30 hours ago: out
    send("r1", "x@b.test", t0)
    send("r1", "y@b.test", t0 + 60000)
    send("r1", "z@b.test", t0 + 120000)
    l = limits(js("inbox", "show", "r1"))["messages_24h"]
    eq((l["used"], l["max"], l["window_s"], l["scope"]),
       (3, 3, 86400, "mailbox"))
    # full: the oldest in the window frees it 24 hours after it went
    want = time.strftime("%Y-%m-%dT%H:%M:%S",
                         time.gmtime((t0 + DAY) // 1000))
    assert l["frees_at"].startswith(want), (l["frees_at"], want)
    doc = js("status")
    r1 = {i["name"]: i for i in doc["inboxes"]}["r1"]
    eq(r1["hard_cap"], 3)
    eq(limits(r1)["messages_24h"]["used"], 3)
    eq(r1["cap_until"], l["frees_at"], "status: full until it frees")
    text = cs("status", check=0).stdout
    assert "limits: messages_24h 3/3 (24-hour) full until" in text, text
    text = cs("inbox", "show", "r1", check=0).stdout
    assert "messages_24h 3/3 (24-hour) full until" in text, text


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def explain_names_the_full_limit_and_when_it_frees():
    # r1 (rolling_counter_and_when_it_frees) is full: 3/3
    cs("contacts", "import", write("c.csv", "email\nwho@c.test\n"),
       "--list", "l", check=0)
    cs("template", "import", write("s1.txt", "Subject: One\n\nOne.\n"),
       check=0)
    cs("campaign", "create", write("c.yaml", (
        "name: c\nlist: l\ninboxes: [r1]\ntimezone: UTC\n"
        "window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "
        "\"00:00\", to: \"24:00\"}\nsteps:\n  - template: s1\n")),
       check=0)
    cs("campaign", "start", "c", check=0)
    text = cs("campaign", "explain", "c", "--contact", "who@c.test",
              check=0).stdout
    assert ("note:     inbox r1 is at the provider's 24-hour limit "
            "(messages_24h 3/3) until ") in text, text
    assert "holds:    no inbox of the campaign may send now" in text, text
    # the limit off: nothing holds it any more
    cs("inbox", "set", "r1", "--limit", "messages_24h=0", check=0)
    text = cs("campaign", "explain", "c", "--contact", "who@c.test",
              check=0).stdout
    assert "provider's" not in text, text
    assert "no inbox of the campaign may send now" not in text, text
    cs("inbox", "set", "r1", "--limit", "messages_24h=3", check=0)
    cs("campaign", "pause", "c", check=0)


@test
def send_test_refused_at_a_full_limit_naming_it():
    cs("inbox", "add", "st", "--email", "st@a.test", *SERVERS, "--limit",
       "messages_24h=1", "--password-stdin", stdin="pw\n", check=0)
    send("st", "x@b.test", int(time.time() * 1000) - 3600000)
    p = cs("send-test", "--from", "st", "--to", "y@b.test", "--subject",
           "s", "--body", "b")
    assert p.returncode != 0, p.stdout
    assert ("at the provider's 24-hour limit (messages_24h 1/1) until"
            in p.stderr), p.stderr
    assert "nothing was sent" in p.stderr, p.stderr
    # nothing recorded: still the one message
    eq(sql("SELECT count(*) FROM messages m JOIN inboxes i ON "
           "i.id = m.inbox_id WHERE i.name = 'st'")[0][0], 1)


@test
def tenant_counter_shared_by_its_inboxes():
    for name, email in (("m1", "m1@contoso.test"), ("m2", "m2@fabrikam.test")):
        cs("inbox", "add", name, "--email", email, "--provider", "microsoft",
           *SERVERS, "--tenant", "Contoso", check=0)
    p = cs("tenant", "set", "contoso", check=2)
    assert "--licences" in p.stderr, p.stderr
    t = js("tenant", "set", "contoso", "--licences", "40")
    eq((t["licences"], t["external_max"], t["inboxes"]), (40, 16113, 2))
    now = int(time.time() * 1000)
    send("m1", "a@out.test", now - 3000)
    send("m1", "b@fabrikam.test", now - 2000)  # the tenant's own domain
    send("m2", "c@out.test", now - 1000)
    t = js("tenant", "show", "contoso")
    eq((t["external_used"], t["external_max"], t["frees_at"]),
       (2, 16113, None))
    js("tenant", "set", "contoso", "--external-limit", "2")
    lst = js("tenant", "list")
    eq([(x["name"], x["external_used"], x["external_max"]) for x in lst],
       [("Contoso", 2, 2)])
    assert lst[0]["frees_at"] is not None, lst
    # each inbox sees the shared counter
    for name in ("m1", "m2"):
        l = limits(js("inbox", "show", name))["tenant_external_24h"]
        eq((l["used"], l["max"], l["scope"]), (2, 2, "tenant"), name)
    eq(limits(js("inbox", "show", "m1"))["messages_1m"]["max"], 30)
    doc = js("status")
    eq([(x["name"], x["external_used"]) for x in doc["tenants"]],
       [("Contoso", 2)])
    cs("inbox", "set", "m2", "--no-tenant", check=0)
    eq(js("inbox", "show", "m2")["tenant"], None)
    eq(js("tenant", "show", "contoso")["inboxes"], 1)
    p = cs("tenant", "show", "nosuch", check=1)
    assert "no tenant 'nosuch'" in p.stderr, p.stderr


@test
def import_takes_limits_trial_and_tenant_and_keys_are_checked():
    path = os.path.join(TMP, "limits.csv")
    with open(path, "w") as f:
        f.write("name,email,provider,smtp,imap,password,limits,trial,"
                "tenant\n"
                "w1,w1@acme.test,google,127.0.0.1:2525,127.0.0.1:1993,pw,"
                "messages_24h=40;external_24h=0,yes,acme-eu\n"
                "w2,w2@acme.test,google,127.0.0.1:2525,127.0.0.1:1993,pw,"
                "bogus_24h=1,,\n"
                "w3,w3@acme.test,google,127.0.0.1:2525,127.0.0.1:1993,pw,"
                ",maybe,\n")
    p = cs("inbox", "import", path, check=None)
    assert "limits.csv:3" in p.stderr and "bogus_24h" in p.stderr, p.stderr
    assert "limits.csv:4" in p.stderr and "trial" in p.stderr, p.stderr
    i = js("inbox", "show", "w1")
    eq((i["limit_overrides"], i["trial"], i["tenant"]),
       ("messages_24h=40 external_24h=0", True, "acme-eu"))
    got = {n: l["max"] for n, l in limits(i).items()}
    eq((got["messages_24h"], got["unique_external_24h"]), (40, 500))
    eq(sql("SELECT count(*) FROM inboxes WHERE name IN ('w2', 'w3')"),
       [(0,)], "bad rows stored")
    # a tenant key is what --tenant takes: no control bytes, no spaces
    for bad in ("ab\x01c", "a b", "x;y", "x" * 65):
        p = cs("tenant", "set", bad, "--licences", "3", check=2)
        assert "tenant key" in p.stderr, p.stderr
    eq(sql("SELECT count(*) FROM tenants WHERE name NOT GLOB "
           "'[A-Za-z0-9]*'"), [(0,)], "a bad key stored")


try:
    subprocess.run([BIN, "--data-dir", DATA, "init"], check=True,
                   capture_output=True)
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
