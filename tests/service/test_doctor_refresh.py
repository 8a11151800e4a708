"""The doctor's verdicts kept fresh by the service, shown by `status` and
at `campaign start` (issue 22).

A real NSD on loopback (tests/lib/dnsstack.py) serves a passing sending
domain (good.test) and a failing one (bad.test: no SPF record).  `coldseq
run --no-watch` with doctor.refresh 3s must store both inboxes' verdicts
by itself (no `doctor` run by the test), log "doctor: 2 inboxes checked:
1 fail, 0 warn", and, once the zone publishes bad.test's SPF record, flip
bad's verdict to pass at the next refresh.  `status` (text and --json)
shows the verdicts; `campaign start` warns about the failing inbox only,
and about inboxes never checked.  A verdict older than 48 hours is shown
as stale.  The doctor child never outlives the service: a SIGTERM stops
it with the service, and after a kill -9 of the service the kernel kills
it (--parent-watch); to keep a child running for those two tests, the
resolver is pointed at a UDP socket that never answers.

No campaign here enrolls a contact, so the service sends nothing and
needs no mail server; the inboxes' hosts are names in the test zones."""
import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import tap
from cstool import coldseq
from dnsstack import DnsServer
from tap import eq, test

BIN = os.environ["COLDSEQ_BIN"]
TMP = tempfile.mkdtemp(prefix="coldseq-docref-")
DATA = os.path.join(TMP, "data")
DB = os.path.join(DATA, "coldseq.db")
LOG = os.path.join(TMP, "run.log")
LISTS = os.path.join(TMP, "lists.conf")
DNS = None
KEY = None
HOUR = 3600 * 1000


def cs(*args, data=DATA, check=None):
    return coldseq(data, *args, check=check, timeout=120)


def jcs(*args, data=DATA):
    return json.loads(cs(*args, "--json", data=data, check=0).stdout)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_for(pred, what, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def verdicts(db=DB):
    """{inbox name: (verdict, failing, checked_at)} as stored."""
    con = sqlite3.connect(db, timeout=30)
    try:
        return {n: (v, f, t) for n, v, f, t in con.execute(
            "SELECT i.name, d.verdict, d.failing, d.checked_at FROM "
            "doctor_verdicts d JOIN inboxes i ON i.id = d.inbox_id")}
    finally:
        con.close()


def rsa_key():
    key = subprocess.run(["openssl", "genrsa", "2048"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"],
                         input=key, check=True, capture_output=True).stdout
    return base64.b64encode(der).decode()


def txt(text):
    return " ".join('"%s"' % text[i:i + 250]
                    for i in range(0, len(text), 250))


def domain_zone(dn, octet, spf=True):
    """A sending domain set up right (as tests/dns/test_doctor.py's
    clean.test), without its SPF record when spf is False."""
    ip = "192.0.2.%d" % octet
    lines = ["smtp A %s" % ip, "imap A %s" % ip,
             "@ MX 10 imap.%s." % dn,
             "default._domainkey TXT %s" % txt("v=DKIM1; k=rsa; p=" + KEY),
             "_dmarc TXT %s" % txt("v=DMARC1; p=quarantine; "
                                   "rua=mailto:dmarc@%s" % dn),
             '_mta-sts TXT "v=STSv1; id=20260101"',
             '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@%s"' % dn]
    if spf:
        lines.append('@ TXT "v=spf1 ip4:%s -all"' % ip)
    return lines


def zones(bad_spf):
    return {
        "good.test": domain_zone("good.test", 10),
        "bad.test": domain_zone("bad.test", 11, spf=bad_spf),
        "2.0.192.in-addr.arpa": ["10 PTR smtp.good.test.",
                                 "11 PTR smtp.bad.test."],
        "bl.test": ["2.0.0.127 A 127.0.0.2", '2.0.0.127 TXT "test entry"'],
        "dbl.test": ["dbltest.test A 127.0.1.2"],
    }


def setup_data(data):
    cs("init", data=data, check=0)
    cs("config", "set", "dns.servers", DNS.servers, data=data, check=0)
    cs("config", "set", "dns.timeout", "2s", data=data, check=0)
    cs("config", "set", "doctor.blocklists", LISTS, data=data, check=0)
    cs("config", "set", "unsubscribe.url_template",
       "https://good.test/u/{token}", data=data, check=0)
    for name in ("good", "bad"):
        cs("inbox", "add", name, "--email", "%s@%s.test" % (name, name),
           "--smtp", "smtp.%s.test:587" % name, "--imap",
           "imap.%s.test:993" % name, data=data, check=0)
    cs("template", "import", write("t.txt", "Subject: Hi\n\nHello.\n"),
       data=data, check=0)


class Service:
    """`coldseq run --no-watch` on data, logging to its own file."""

    def __init__(self, data, log):
        self.data, self.log = data, log
        self.p = subprocess.Popen(
            [BIN, "--data-dir", data, "--log-file", log, "run",
             "--no-watch"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(log) and "coldseq running" in
                 self.text(), "the service to run", 30)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(timeout=60)


def doctor_column(text):
    """{inbox: its DOCTOR word} from status's text table."""
    lines = text.splitlines()
    head = [l for l in lines if l.startswith("INBOX ")][0]
    at = head.index("DOCTOR")
    return {l.split()[0]: l[at:at + 7].strip() for l in lines
            if l[:1].isalpha() and not l.startswith(("INBOX", "service",
                                                     "data", "outbox",
                                                     "held", "CAMPAIGN"))
            and len(l) > at}


def doctor_children(ppid):
    """Pids of live `doctor --parent-watch ppid` processes (a zombie,
    which runs nothing any more, is not one)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"doctor" in argv and b"--parent-watch" in argv and \
                argv[argv.index(b"--parent-watch") + 1] == \
                str(ppid).encode() and state not in ("Z", "X"):
            out.append(int(pid))
    return out


def setup():
    global DNS, KEY
    KEY = rsa_key()
    with open(LISTS, "w") as f:
        f.write("bl.test ip 127.0.0.2 127.0.0.2=a spam source\n"
                "dbl.test domain dbltest.test 127.0.1.2=spam domain\n")
    DNS = DnsServer(zones(bad_spf=False)).start()
    setup_data(DATA)
    cs("config", "set", "doctor.refresh", "3s", check=0)


SVC = None


@test
def the_service_stores_verdicts_without_a_doctor_run():
    global SVC
    eq(verdicts(), {}, "nothing checked before the service")
    eq([i["doctor"] for i in jcs("status")["inboxes"]], [None, None],
       "status before any check")
    text = cs("status", check=0).stdout
    eq(doctor_column(text), {"bad": "-", "good": "-"}, text)
    t0 = int(time.time() * 1000)
    SVC = Service(DATA, LOG)
    got = wait_for(lambda: (lambda v: v if len(v) == 2 else None)(
        verdicts()), "both verdicts stored by the service", 90)
    eq({n: (v, f) for n, (v, f, t) in got.items()},
       {"good": ("pass", ""), "bad": ("fail", "spf.missing")},
       "the verdicts the service's check stored")
    for n, (v, f, t) in got.items():
        assert t0 <= t <= int(time.time() * 1000), (n, t0, t)
    wait_for(lambda: "doctor: 2 inboxes checked: 1 fail, 0 warn" in
             SVC.text(), "the check's summary in the log", 30)


@test
def status_shows_each_inbox_verdict():
    doc = jcs("status")
    ins = {i["name"]: i["doctor"] for i in doc["inboxes"]}
    eq((ins["bad"]["verdict"], ins["bad"]["failing"], ins["bad"]["stale"]),
       ("fail", ["spf.missing"], False), "bad in status --json")
    eq((ins["good"]["verdict"], ins["good"]["failing"],
        ins["good"]["stale"]), ("pass", [], False), "good")
    assert ins["good"]["checked_at"].endswith("Z"), ins["good"]
    text = cs("status", check=0).stdout
    eq(doctor_column(text), {"bad": "fail", "good": "pass"}, text)


@test
def campaign_start_warns_for_the_failing_inbox_only():
    cs("campaign", "create", write("c1.yaml", "name: c1\ninboxes: [good, "
                                   "bad]\nsteps:\n  - template: t\n"),
       check=0)
    p = cs("campaign", "start", "c1", check=0)
    warn = [l for l in p.stderr.splitlines() if "warning" in l]
    eq(len(warn), 1, p.stderr)
    assert "inbox bad fails" in warn[0] and "spf.missing" in warn[0] and \
        "run 'coldseq doctor bad'" in warn[0], warn
    assert "good" not in p.stderr, p.stderr
    eq(jcs("campaign", "show", "c1")["status"], "active", "started")
    # a campaign of the passing inbox alone: no warning at all
    cs("campaign", "create", write("c2.yaml", "name: c2\ninboxes: [good]\n"
                                   "steps:\n  - template: t\n"), check=0)
    p = cs("campaign", "start", "c2", "--json", check=0)
    eq(json.loads(p.stdout)["warnings"], [], "c2 --json")
    eq(p.stderr, "", "c2 stderr")


@test
def fixing_the_zone_flips_the_verdict_at_the_next_refresh():
    before = verdicts()["bad"][2]
    DNS.set_zones(zones(bad_spf=True))
    got = wait_for(lambda: (lambda v: v if v["bad"][2] > before and
                            v["bad"][0] == "pass" else None)(verdicts()),
                   "bad's verdict to flip to pass", 60)
    eq(got["bad"][:2], ("pass", ""), "bad after the fix")
    ins = {i["name"]: i["doctor"] for i in jcs("status")["inboxes"]}
    eq((ins["bad"]["verdict"], ins["bad"]["failing"]), ("pass", []),
       "status after the fix")
    assert "doctor: 2 inboxes checked: 0 fail, 0 warn" in SVC.text(), \
        SVC.text()[-3000:]
    SVC.stop()
    eq(SVC.p.returncode, 0, "the service stopped cleanly")
    assert "coldseq stopped" in SVC.text()


@test
def never_checked_and_stale_verdicts():
    data = os.path.join(TMP, "data2")
    setup_data(data)
    cs("campaign", "create", write("c3.yaml", "name: c3\ninboxes: [all]\n"
                                   "steps:\n  - template: t\n"),
       data=data, check=0)
    p = cs("campaign", "start", "c3", "--json", data=data, check=0)
    warn = [l for l in p.stderr.splitlines() if "warning" in l]
    eq(len(warn), 1, p.stderr)
    assert "inboxes bad, good were never checked" in warn[0] and \
        "run 'coldseq doctor'" in warn[0], warn
    w = json.loads(p.stdout)["warnings"]
    eq(sorted((x["inbox"], x["doctor"]) for x in w),
       [("bad", "unchecked"), ("good", "unchecked")], "--json warnings")
    # a fail three days old: stale in status, still warned about
    db2 = os.path.join(data, "coldseq.db")
    old = int(time.time() * 1000) - 72 * HOUR
    con = sqlite3.connect(db2)
    ids = dict(con.execute("SELECT name, id FROM inboxes"))
    con.execute("INSERT INTO doctor_verdicts(inbox_id, verdict, failing, "
                "checked_at) VALUES (?, 'fail', 'spf.missing,dmarc.missing',"
                " ?)", (ids["bad"], old))
    con.execute("INSERT INTO doctor_verdicts(inbox_id, verdict, failing, "
                "checked_at) VALUES (?, 'pass', '', ?)",
                (ids["good"], old + 47 * HOUR))
    con.commit()
    con.close()
    ins = {i["name"]: i["doctor"] for i in jcs("status", data=data)[
        "inboxes"]}
    eq((ins["bad"]["verdict"], ins["bad"]["stale"], ins["bad"]["failing"]),
       ("fail", True, ["spf.missing", "dmarc.missing"]), "stale fail")
    eq((ins["good"]["verdict"], ins["good"]["stale"]), ("pass", False),
       "a pass 25 hours old is not stale")
    text = cs("status", data=data, check=0).stdout
    eq(doctor_column(text), {"bad": "fail?", "good": "pass"}, text)
    cs("campaign", "create", write("c4.yaml", "name: c4\ninboxes: [bad]\n"
                                   "steps:\n  - template: t\n"),
       data=data, check=0)
    p = cs("campaign", "start", "c4", data=data, check=0)
    assert "inbox bad fails" in p.stderr and \
        "spf.missing,dmarc.missing" in p.stderr and \
        "over 48 hours ago" in p.stderr, p.stderr


def silent_resolver(data):
    """Point data's resolver at a UDP socket that never answers, so that
    a doctor child waits (dns.timeout 60s each question)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    cs("config", "set", "dns.servers", "127.0.0.1:%d" % s.getsockname()[1],
       data=data, check=0)
    cs("config", "set", "dns.timeout", "60s", data=data, check=0)
    cs("config", "set", "doctor.refresh", "1s", data=data, check=0)
    return s


@test
def a_stop_ends_the_check_in_progress():
    data = os.path.join(TMP, "data3")
    setup_data(data)
    sock = silent_resolver(data)
    svc = None
    try:
        svc = Service(data, os.path.join(TMP, "run3.log"))
        kids = wait_for(lambda: doctor_children(svc.p.pid),
                        "a doctor child", 30)
        eq(len(kids), 1, "one child at a time")
        time.sleep(2)  # several refresh periods: still only the one
        eq(doctor_children(svc.p.pid), kids, "still one child")
        t = time.monotonic()
        svc.stop()
        assert time.monotonic() - t < 30, "the stop waited for the check"
        eq(svc.p.returncode, 0, "clean stop")
        wait_for(lambda: not doctor_children(svc.p.pid),
                 "the child to end with the service", 10)
        assert "doctor: stopping the check in progress" in svc.text(), \
            svc.text()
        eq(verdicts(os.path.join(data, "coldseq.db")), {},
           "a stopped check stored nothing")
    finally:
        sock.close()
        if svc:  # only when it failed: nothing left running
            svc.stop()
            for pid in doctor_children(svc.p.pid):
                os.kill(pid, signal.SIGKILL)


@test
def a_killed_service_leaves_no_doctor_behind():
    data = os.path.join(TMP, "data4")
    setup_data(data)
    sock = silent_resolver(data)
    svc = None
    try:
        svc = Service(data, os.path.join(TMP, "run4.log"))
        kids = wait_for(lambda: doctor_children(svc.p.pid),
                        "a doctor child", 30)
        svc.p.kill()  # SIGKILL: no stop, no cleanup in the service
        svc.p.wait(timeout=30)
        wait_for(lambda: not doctor_children(svc.p.pid),
                 "the orphaned child %s to die" % kids, 10)
    finally:
        sock.close()
        for pid in doctor_children(svc.p.pid) if svc else []:
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    try:
        setup()
        tap.main()
    finally:
        if SVC:
            SVC.stop()
        if DNS:
            DNS.close()
        if not os.environ.get("DNSSTACK_KEEP"):
            import shutil
            shutil.rmtree(TMP, ignore_errors=True)
