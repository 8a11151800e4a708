"""esp_match through real DNS (sequencer/seq_mx.c on net_dns): a
contact's provider comes from its domain's MX, asked of a real NSD on
loopback whose zones point MX at Google's and Microsoft's host names
(only names in a local zone), and the contact's first step goes from the
inbox on that provider.  Checked with `campaign preview` (the scheduler
on a private-loop resolver, synchronously) and the resolver's answers."""
import json
import os
import shutil
import subprocess
import tempfile

import tap
from cstool import coldseq
from dnsstack import DnsServer
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-dnsesp-")
DATA = os.path.join(TMP, "data")

ZONES = {
    "gco.test": ["@ MX 10 aspmx.l.google.com.",
                 "@ MX 20 alt1.aspmx.l.google.com."],
    "mso.test": ["@ MX 0 gco-test.mail.protection.outlook.com."],
    # the lowest preference decides
    "mix.test": ["@ MX 20 aspmx.l.google.com.",
                 "@ MX 5 mix-test.mail.protection.outlook.com."],
    "oth.test": ["@ MX 10 mx.oth.test.", "mx A 192.0.2.1"],
    # no MX at all: other
    "nomx.test": ["@ A 192.0.2.2"],
}
# contact domain -> the inboxes (g*, m*, o*) esp_match must pick
WANT = {"gco.test": "g", "mso.test": "m", "mix.test": "m", "oth.test": "o",
        "nomx.test": "o", "refused.example": "o"}


def cs(*args, check=None, stdin=None):
    return coldseq(DATA, *args, check=check, stdin=stdin, timeout=120)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def setup(servers):
    cs("init", check=0)
    cs("config", "set", "dns.servers", servers, check=0)
    # three inboxes per provider: one scheduling pass can take every
    # contact (a contact of a provider waits while its inboxes keep their
    # pacing gap)
    for name, prov in [(p[0] + str(i), p) for p in ("google", "microsoft",
                                                    "other")
                       for i in range(3)]:
        prov = "generic" if prov == "other" else prov
        cs("inbox", "add", name, "--email", "%s@sender.test" % name,
           "--smtp", "127.0.0.1:2525", "--imap", "127.0.0.1:1993",
           "--smtp-tls", "starttls", "--imap-tls", "tls", "--provider",
           prov, "--auth", "password", "--daily-cap", "50",
           "--password-stdin", stdin="pw\n", check=0)
    rows = "".join("p%d@%s,P\n" % (i, d) for d in sorted(WANT)
                   for i in range(1))
    cs("contacts", "import", "--list", "l",
       write("c.csv", "email,first_name\n" + rows), check=0)
    cs("template", "import", write("a.txt", "Subject: Hi\n\nHello.\n"),
       check=0)
    cs("campaign", "create", write("e.yaml", """name: e
list: l
inboxes: all
timezone: UTC
esp_match: true
new_contacts_per_day: 50
window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "23:59"}
steps:
  - template: a
"""), check=0)
    cs("campaign", "start", "e", check=0)


@test
def contacts_land_on_the_inbox_of_their_mx_provider():
    p = cs("campaign", "preview", "e", "--days", "2", "--json", check=0)
    got = {r["contact"]: r["inbox"] for r in json.loads(p.stdout)}
    eq(len(got), len(WANT), "contacts previewed")
    for contact, inbox in sorted(got.items()):
        eq(inbox[0], WANT[contact.split("@")[1]], contact)


@test
def the_resolver_saw_what_esp_match_read():
    d = json.loads(cs("dns", "query", "mix.test", "MX", "--json",
                      check=0).stdout)["answers"][0]
    eq(sorted((r["pref"], r["text"]) for r in d["records"]),
       [(5, "mix-test.mail.protection.outlook.com"),
        (20, "aspmx.l.google.com")])


dns = DnsServer(ZONES)
try:
    dns.start()
    setup(dns.servers)
    tap.main()
finally:
    dns.close()
    shutil.rmtree(TMP, ignore_errors=True)
