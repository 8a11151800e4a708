"""stackctl.py - start, stop and steer coldseq's throwaway local mail stack.

The executables beside this file (up, down, flush, junk, token) are thin
wrappers around the main_* functions here; read their --help first.
stackconf.py holds the configuration texts, stackproc.py the /proc process
tracking; measure reports start time, memory and delivery latency.

A stack is real Dovecot (IMAP, IMAPS, LMTP, SASL, Sieve, OAuth2 passdb), real
Postfix (MX-style SMTP, STARTTLS submission, implicit-TLS submission, plus a
fake remote MX for bounce.test and defer.test) and an OAuth token
introspection test double, all on 127.0.0.1 at ports picked at start, with
every file under one directory DIR:

    DIR/env              shell-sourceable MAILSTACK_* values (the interface)
    DIR/stack.json       what up started: pids, process start times, ports
    DIR/log/             dovecot.log, postfix.log, oauth.log, *.stderr
    DIR/tls/             throwaway CA (ca.crt) and server certificate
    DIR/mail/ADDRESS/    each user's maildir (new/, cur/, .Junk/new/, ...)
    DIR/dovecot/ DIR/postfix/ DIR/oauth/   configs, sockets, queue, tokens
    DIR/auth/            only with --auth: DKIM keys, dkim.json, opendkim,
                         unbound and policyd-spf configs (README.md)

Recipe and measured pitfalls: shared/notes/MAILSTACK.md.  Processes are
tracked by session: Dovecot's master, Postfix's master and the test double
each lead a session of their own, and every process they fork stays in it,
so `down` can prove with /proc that nothing of the stack is left running.

Diagnostics go to stderr prefixed with the command name; every failure exits
non-zero and names what failed, with the tail of the relevant log.
"""
import argparse
import fcntl
import grp
import http.client
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

# Configuration texts and /proc process tracking live beside this file;
# test_stack.py and measure use the latter through this module.
from stackconf import (dkim_zone_lines, dovecot_conf, opendkim_sign_conf,
                       opendkim_verify_conf, policyd_spf_conf,
                       postfix_auth_main_cf, postfix_auth_master_cf,
                       postfix_main_cf, postfix_master_cf, sieve_script,
                       unbound_conf)
from stackproc import (all_sessions, describe, proc_stat,  # noqa: F401
                       session_members, state_sessions, stop_sessions)

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "example.test"
DEFAULT_USERS = 12
HOST = "127.0.0.1"
PORT_NAMES = ("imap", "imaps", "submission", "submissions", "smtp", "remote",
              "oauth", "submission_7bit")
AUTH_PORT_NAMES = ("dkim_sign", "dkim_verify")
DEFAULT_AUTHSERV_ID = "mail.example.test"   # Postfix's myhostname
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+"
                       r"[a-z]{2,63}$")
LOCAL_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
SELECTOR_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
                         r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
UNIX_PATH_MAX = 107
ADDR_RE = re.compile(r"^[^\s@\"\\<>()\[\],;:]+@[A-Za-z0-9.-]+$")


class StackError(Exception):
    """A failure to report: message, plus logs whose tails explain it."""

    def __init__(self, msg, logs=()):
        super().__init__(msg)
        self.logs = list(logs)


# ---------------------------------------------------------------- helpers

class Paths:
    """Every path of a stack, derived from its directory."""

    def __init__(self, d):
        self.dir = os.path.realpath(d)
        j = lambda *p: os.path.join(self.dir, *p)  # noqa: E731
        self.env = j("env")
        self.state = j("stack.json")
        self.logdir = j("log")
        self.dovecot_log = j("log", "dovecot.log")
        self.dovecot_err = j("log", "dovecot.stderr")
        self.postfix_log = j("log", "postfix.log")
        self.postfix_err = j("log", "postfix.stderr")
        self.oauth_log = j("log", "oauth.log")
        self.tls = j("tls")
        self.ca = j("tls", "ca.crt")
        self.cert = j("tls", "server.crt")
        self.key = j("tls", "server.key")
        self.dovecot = j("dovecot")
        self.dovecot_conf = j("dovecot", "dovecot.conf")
        self.users = j("dovecot", "users")
        self.oauth2_ext = j("dovecot", "oauth2.conf.ext")
        self.run = j("dovecot", "run")
        self.dstate = j("dovecot", "state")
        self.sieve = j("dovecot", "junk.sieve")
        self.svbin = j("dovecot", "junk.svbin")
        self.lmtp = j("dovecot", "run", "lmtp")
        self.auth = j("dovecot", "run", "auth-postfix")
        self.penalty = j("dovecot", "run", "anvil-auth-penalty")
        self.postfix = j("postfix")
        self.pconf = j("postfix", "conf")
        self.queue = j("postfix", "queue")
        self.pdata = j("postfix", "data")
        self.master_pid = j("postfix", "queue", "pid", "master.pid")
        self.oauth = j("oauth")
        self.tokens = j("oauth", "tokens.json")
        self.mail = j("mail")
        self.home = j("home")
        # --auth only (Authentication-Results): keys, opendkim, policyd-spf
        self.authdir = j("auth")
        self.auth_spec = j("auth", "spec.json")
        self.dkim_json = j("auth", "dkim.json")
        self.dkim_sign_conf = j("auth", "opendkim-sign.conf")
        self.dkim_verify_conf = j("auth", "opendkim-verify.conf")
        self.dkim_sign_err = j("log", "opendkim-sign.stderr")
        self.dkim_verify_err = j("log", "opendkim-verify.stderr")
        self.spf_log = j("log", "spf.log")
        self.unbound_log = j("log", "unbound.log")


class AuthPaths:
    """What the --auth part of a stack needs: its spec (already checked)
    and the files under DIR/auth."""

    def __init__(self, p, spec):
        j = lambda *x: os.path.join(p.authdir, *x)  # noqa: E731
        self.spec = spec
        self.domains = sorted(spec["domains"])
        self.authserv_id = spec["authserv_id"]
        self.sign_headers = spec.get("sign_headers") or []
        self.dns_host, port = spec["dns"].rsplit(":", 1)
        self.dns_port = int(port)
        self.keytable = j("keytable")
        self.signingtable = j("signingtable")
        self.internal = j("internal-hosts")
        self.unbound = j("unbound.conf")
        self.sign_pid = j("opendkim-sign.pid")
        self.verify_pid = j("opendkim-verify.pid")
        self.spf_wrapper = j("spfpolicy.py")
        self.spf_conf = j("policyd-spf.conf")
        self.spf_log = p.spf_log


_T0 = time.monotonic()


def phase(what):
    """With MAILSTACK_TIMING=1 in the environment, print how long each phase
    of a command took (for tuning the cold start)."""
    if os.environ.get("MAILSTACK_TIMING"):
        print("  %6.3f s  %s" % (time.monotonic() - _T0, what),
              file=sys.stderr, flush=True)


def say(prog, msg):
    print("%s: %s" % (prog, msg), file=sys.stderr, flush=True)


def tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return ["(cannot read %s: %s)" % (path, e.strerror)]
    return lines[-n:] if lines else ["(empty)"]


def report(prog, err):
    say(prog, str(err))
    for path in getattr(err, "logs", ()):
        print("--- last lines of %s ---" % path, file=sys.stderr)
        for line in tail(path):
            print("    " + line, file=sys.stderr)
    sys.stderr.flush()


def write(path, text, mode=0o644, owner=None, age=0):
    """Replace path atomically.  age > 0 back-dates its mtime: Postfix
    pauses (300 ms at a time) until main.cf is 2 s old, and a Sieve script
    must be older than its compiled binary."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    if owner:
        os.chown(tmp, *owner)
    if age:
        past = time.time() - age
        os.utime(tmp, (past, past))
    os.rename(tmp, path)


def run(cmd, what, logs=(), timeout=30, **kw):
    """Run cmd to completion; raise StackError naming `what` on failure.

    stdout/stderr are captured (never inherited: a daemon that inherited our
    stdout would keep `$(up DIR)` open for ever)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
    except FileNotFoundError:
        raise StackError("%s: %s not found (is its package installed? "
                         "run make deps)" % (what, cmd[0]))
    except subprocess.TimeoutExpired:
        raise StackError("%s: `%s` did not finish in %d s"
                         % (what, " ".join(cmd), timeout), logs)
    if p.returncode != 0:
        out = p.stdout.decode(errors="replace").strip()
        raise StackError("%s: `%s` exited %d%s"
                         % (what, " ".join(cmd), p.returncode,
                            (": " + out) if out else " (printed nothing)"),
                         logs)
    return p.stdout.decode(errors="replace")


def ids(user, group=None):
    return (pwd.getpwnam(user).pw_uid,
            grp.getgrnam(group or user).gr_gid)


class Lock:
    """flock on DIR itself, so two commands never change one stack at once.

    The fd is close-on-exec, so daemons started under it never hold it."""

    def __init__(self, d, prog):
        self.fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(prog, "waiting for another mailstack command on %s" % d)
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self):
        os.close(self.fd)


# ------------------------------------------------------- process tracking

def read_state(p):
    try:
        with open(p.state) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise StackError("%s is corrupt: %s" % (p.state, e))


# ------------------------------------------------------------- configs

def pick_ports(names=PORT_NAMES):
    """Ask the kernel for free ports, one socket per name, all held open
    until every port is picked so no two names get the same port."""
    socks, ports = [], {}
    try:
        for name in names:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
            ports[name] = s.getsockname()[1]
    finally:
        for s in socks:
            s.close()
    return ports


def make_tls(p):
    os.makedirs(p.tls, mode=0o755)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    run(["openssl", "req", "-x509"] + ec +
        ["-days", "2", "-subj", "/CN=coldseq test CA (throwaway)",
         "-keyout", p.tls + "/ca.key", "-out", p.ca,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        "making the test CA")
    run(["openssl", "req"] + ec +
        ["-subj", "/CN=localhost", "-keyout", p.key,
         "-out", p.tls + "/server.csr"], "making the server key")
    write(p.tls + "/server.ext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
          "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
          "extendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", p.tls + "/server.csr",
         "-CA", p.ca, "-CAkey", p.tls + "/ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", p.tls + "/server.ext", "-out", p.cert],
        "signing the server certificate")
    os.chmod(p.key, 0o600)
    os.chmod(p.tls + "/ca.key", 0o600)
    os.chmod(p.ca, 0o644)
    os.chmod(p.cert, 0o644)


def install_sieve(p, addresses, prog):
    """Write the global junk script and compile it (lmtp runs as mail and
    may not write the binary itself).  The script gets an mtime in the past
    so the fresh binary is never taken for outdated."""
    write(p.sieve, sieve_script(addresses), age=2)
    tmp = p.svbin + ".new"
    run(["sievec", "-c", p.dovecot_conf, p.sieve, tmp],
        "%s: compiling %s" % (prog, p.sieve))
    os.chmod(tmp, 0o644)   # sievec as root writes 0600; lmtp runs as mail
    os.rename(tmp, p.svbin)


def make_postfix_dirs(p):
    """The queue tree as postfix-files wants it, made by hand: `postfix
    check` would do the same in about 2 s."""
    postfix = ids("postfix")
    postdrop = grp.getgrnam("postdrop").gr_gid
    os.makedirs(p.pconf, mode=0o755)
    os.makedirs(p.queue, mode=0o755)
    os.makedirs(p.pdata, mode=0o700)
    os.chown(p.pdata, *postfix)
    for d in ("active", "bounce", "corrupt", "defer", "deferred", "flush",
              "hold", "incoming", "private", "saved", "trace"):
        os.mkdir(os.path.join(p.queue, d), 0o700)
        os.chown(os.path.join(p.queue, d), *postfix)
    for d, mode in (("maildrop", 0o730), ("public", 0o710)):
        os.mkdir(os.path.join(p.queue, d))
        os.chmod(os.path.join(p.queue, d), mode)
        os.chown(os.path.join(p.queue, d), postfix[0], postdrop)
    os.mkdir(os.path.join(p.queue, "pid"), 0o755)


# --------------------------------------------------------------- checks

def wait_until(cond, timeout, what, logs=()):
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() > deadline:
            raise StackError("%s: not ready after %.0f s" % (what, timeout),
                             logs)
        time.sleep(0.01)


def introspect(port, token):
    """Ask the introspection test double about token; None if it does not
    answer yet."""
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=2)
        c.request("POST", "/introspect", "token=" + token,
                  {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return body if r.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def read_line(f, what):
    line = f.readline(2048)
    if not line:
        raise StackError("%s: connection closed without a reply" % what)
    return line.decode(errors="replace").rstrip("\r\n")


def smtp_reply(f, what):
    lines = []
    while True:
        line = read_line(f, what)
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def check_listeners(p, ports, ctx):
    """Talk to every listener once, at protocol level: greeting, TLS with
    the test CA and host name check, and the submission port's AUTH offer
    (which proves Postfix reaches Dovecot's auth socket)."""
    plog = [p.postfix_log]
    dlog = [p.dovecot_log]

    def probe(port, tls, logs, dialogue):
        deadline = time.monotonic() + 10
        while True:
            try:
                raw = socket.create_connection((HOST, port), timeout=5)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise StackError("port %d: %s" % (port, e.strerror), logs)
                time.sleep(0.01)
        s = raw
        try:
            if tls:
                s = ctx.wrap_socket(raw, server_hostname=HOST)
            dialogue(s)
        except (OSError, ssl.SSLError) as e:
            raise StackError("port %d: %s" % (port, e), logs)
        finally:
            s.close()

    def imap(starttls):
        def d(s):
            f = s.makefile("rb")
            g = read_line(f, "IMAP greeting")
            if not g.startswith("* OK"):
                raise StackError("IMAP greeting: %r" % g, dlog)
            if starttls:
                s.sendall(b"a STARTTLS\r\n")
                r = read_line(f, "IMAP STARTTLS")
                if not r.startswith("a OK"):
                    raise StackError("IMAP STARTTLS: %r" % r, dlog)
                t = ctx.wrap_socket(s, server_hostname=HOST)
                t.sendall(b"b LOGOUT\r\n")
                t.recv(100)
                t.close()
            else:
                s.sendall(b"a LOGOUT\r\n")
        return d

    def smtp(port_name, starttls, want_auth, want_8bitmime=None):
        def d(s):
            what = "SMTP %s port" % port_name
            f = s.makefile("rb")
            g = smtp_reply(f, what)
            if not g[0].startswith("220"):
                raise StackError("%s greeting: %r" % (what, g), plog)
            if starttls:
                s.sendall(b"EHLO up.example.test\r\n")
                smtp_reply(f, what)
                s.sendall(b"STARTTLS\r\n")
                r = smtp_reply(f, what)
                if not r[-1].startswith("220"):
                    raise StackError("%s STARTTLS: %r" % (what, r), plog)
                s = ctx.wrap_socket(s, server_hostname=HOST)
                f = s.makefile("rb")
            s.sendall(b"EHLO up.example.test\r\n")
            r = smtp_reply(f, what)
            if want_auth and not any("XOAUTH2" in x for x in r):
                raise StackError("%s offers no AUTH XOAUTH2 (Postfix cannot "
                                 "reach Dovecot's auth socket?): %r"
                                 % (what, r), plog + dlog)
            if want_8bitmime is not None and \
                    any("8BITMIME" in x for x in r) != want_8bitmime:
                raise StackError("%s %s 8BITMIME: %r" % (
                    what, "does not offer" if want_8bitmime else "offers",
                    r), plog)
            s.sendall(b"QUIT\r\n")
            smtp_reply(f, what)
        return d

    probe(ports["imap"], False, dlog, imap(True))
    probe(ports["imaps"], True, dlog, imap(False))
    probe(ports["smtp"], False, plog, smtp("smtp", False, False))
    probe(ports["remote"], False, plog, smtp("fake-remote", False, False))
    probe(ports["submission"], False, plog,
          smtp("submission", True, True, True))
    probe(ports["submission_7bit"], False, plog,
          smtp("submission-7bit", True, True, False))
    probe(ports["submissions"], True, plog, smtp("submissions", False, True))


# ------------------------------------------------- --auth (A-R headers)

def load_auth_spec(path):
    """Read and check the JSON file of `up --auth FILE`; returns the spec
    with defaults filled in, or raises StackError naming what is wrong."""
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError as e:
        raise StackError("--auth %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise StackError("--auth %s is not JSON: %s" % (path, e))
    if not isinstance(spec, dict):
        raise StackError("--auth %s: the top level must be an object" % path)
    unknown = set(spec) - {"dns", "authserv_id", "sign_headers", "domains"}
    if unknown:
        raise StackError("--auth: unknown keys %s"
                         % ", ".join(sorted(unknown)))
    dns = spec.get("dns")
    m = re.match(r"^(127\.\d+\.\d+\.\d+):(\d+)$", str(dns or ""))
    if not m or not 0 < int(m.group(2)) < 65536:
        raise StackError("--auth: \"dns\" must be a loopback HOST:PORT (the "
                         "test's DNS server), got %r" % (dns,))
    spec.setdefault("authserv_id", DEFAULT_AUTHSERV_ID)
    if not DOMAIN_RE.match(str(spec["authserv_id"])):
        raise StackError("--auth: authserv_id %r is not a host name"
                         % (spec["authserv_id"],))
    hdrs = spec.setdefault("sign_headers", [])
    if not isinstance(hdrs, list) or not all(
            isinstance(h, str) and re.match(r"^[A-Za-z0-9-]+$", h)
            for h in hdrs):
        raise StackError("--auth: sign_headers must be a list of header "
                         "field names")
    domains = spec.get("domains")
    if not isinstance(domains, dict) or not domains:
        raise StackError("--auth: \"domains\" must be a non-empty object")
    for d, v in domains.items():
        if d != d.lower() or not DOMAIN_RE.match(d) or d == DOMAIN:
            raise StackError("--auth: %r is not a lowercase domain other "
                             "than %s" % (d, DOMAIN))
        if not isinstance(v, dict) or set(v) - {"users", "selector", "bits",
                                                "bad_key"}:
            raise StackError("--auth: domain %s: an object with users, "
                             "selector, bits, bad_key" % d)
        users = v.setdefault("users", [])
        if not isinstance(users, list) or not all(
                isinstance(u, str) and LOCAL_RE.match(u) for u in users):
            raise StackError("--auth: domain %s: users must be lowercase "
                             "local parts" % d)
        sel = v.setdefault("selector", None)
        if sel is not None and not SELECTOR_RE.match(str(sel)):
            raise StackError("--auth: domain %s: bad selector %r" % (d, sel))
        bits = v.setdefault("bits", 2048)
        if bits not in (512, 768, 1024, 1536, 2048, 3072, 4096):
            raise StackError("--auth: domain %s: bits must be one of 512, "
                             "768, 1024, 1536, 2048, 3072, 4096" % d)
        v["bad_key"] = bool(v.get("bad_key", False))
        if v["bad_key"] and sel is None:
            raise StackError("--auth: domain %s: bad_key needs a selector"
                             % d)
    return spec


def make_dkim_keys(p, a):
    """An RSA key pair per signing domain (and a second, published one for
    a bad_key domain), all generated in parallel; writes the KeyTable, the
    SigningTable and DIR/auth/dkim.json (public keys and zone lines)."""
    jobs = []
    for d in a.domains:
        v = a.spec["domains"][d]
        if v["selector"] is None:
            continue
        for which in ("sign", "other") if v["bad_key"] else ("sign",):
            key = os.path.join(p.authdir, "%s.%s.key" % (d, which))
            cmd = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                   "rsa_keygen_bits:%d" % v["bits"], "-out", key]
            jobs.append((d, which, key, subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT)))
    pubs = {}
    for d, which, key, proc in jobs:
        out = proc.communicate(timeout=120)[0]
        if proc.returncode != 0:
            raise StackError("making the DKIM key of %s: openssl exited %d: "
                             "%s" % (d, proc.returncode,
                                     out.decode(errors="replace").strip()))
        os.chmod(key, 0o600)
        pubs[d, which] = run(["openssl", "pkey", "-in", key, "-pubout"],
                             "reading the DKIM public key of %s" % d)
    keytable, signing, info = [], [], {}
    for d in a.domains:
        v = a.spec["domains"][d]
        if v["selector"] is None:
            continue
        name = d.replace(".", "_")
        key = os.path.join(p.authdir, "%s.sign.key" % d)
        keytable.append("%s %s:%s:%s\n" % (name, d, v["selector"], key))
        signing.append("*@%s %s\n" % (d, name))
        published = pubs[d, "other" if v["bad_key"] else "sign"]
        info[d] = {"selector": v["selector"], "bits": v["bits"],
                   "bad_key": v["bad_key"],
                   "signing_key": pubs[d, "sign"],
                   "published_key": published,
                   "zone_lines": dkim_zone_lines(v["selector"], published,
                                                 domain=d)}
    write(a.keytable, "".join(keytable))
    write(a.signingtable, "".join(signing))
    write(p.dkim_json, json.dumps(info, indent=1) + "\n")


def start_auth(p, a, ports, state, prog):
    """Keys, configs and the two opendkim daemons (signer, verifier); the
    SPF policy server is spawned by Postfix.  Returns once both milters
    accept connections."""
    os.makedirs(p.authdir, mode=0o755)
    write(p.auth_spec, json.dumps(a.spec, indent=1) + "\n")
    make_dkim_keys(p, a)
    # a dataset of internal hosts that matches no client of the stack
    write(a.internal, "192.0.2.255\n")
    write(a.unbound, unbound_conf(a.dns_host, a.dns_port, p.unbound_log))
    write(p.dkim_sign_conf, opendkim_sign_conf(a, ports["dkim_sign"]))
    write(p.dkim_verify_conf, opendkim_verify_conf(a, ports["dkim_verify"]))
    write(a.spf_conf, policyd_spf_conf(a))
    shutil.copyfile(os.path.join(HERE, "spfpolicy.py"), a.spf_wrapper)
    os.chmod(a.spf_wrapper, 0o644)
    # the policy server runs as nobody and appends here
    open(a.spf_log, "a").close()
    nobody = pwd.getpwnam("nobody")
    os.chown(a.spf_log, nobody.pw_uid, nobody.pw_gid)
    phase("--auth: DKIM keys and configs")
    daemons = []
    for name, conf, err in (("dkim_sign", p.dkim_sign_conf, p.dkim_sign_err),
                            ("dkim_verify", p.dkim_verify_conf,
                             p.dkim_verify_err)):
        proc = start_daemon(["opendkim", "-f", "-x", conf], err,
                            "starting opendkim (%s)" % name)
        record(state, name, proc.pid)
        save_state(p, state)
        daemons.append((name, proc, err))
    for name, proc, err in daemons:
        def ready():
            if proc.poll() is not None:
                raise StackError("opendkim (%s) exited with status %d at "
                                 "start" % (name, proc.returncode), [err])
            try:
                socket.create_connection((HOST, ports[name]), 1).close()
                return True
            except OSError:
                return False
        wait_until(ready, 10, "opendkim (%s) on port %d"
                   % (name, ports[name]), [err])
    phase("--auth: opendkim signer and verifier listen")


# ------------------------------------------------------------------- up

def check_dir(p, prog):
    if not os.path.lexists(p.dir):
        try:
            os.mkdir(p.dir, 0o755)
        except OSError as e:
            raise StackError("cannot make %s: %s" % (p.dir, e.strerror))
    if not os.path.isdir(p.dir):
        raise StackError("%s is not a directory" % p.dir)
    state = read_state(p)
    if state is not None:
        sessions = all_sessions(p, state)
        left = session_members(sessions)
        if left:
            raise StackError("a stack is already running in %s (%d "
                             "processes, led by %s); run "
                             "`tests/mailstack/down %s` first, or use "
                             "another directory"
                             % (p.dir, len(left),
                                describe(sorted(sessions)), p.dir))
        raise StackError("%s holds a stopped stack; use a new or empty "
                         "directory" % p.dir)
    if os.listdir(p.dir):
        raise StackError("%s is not empty; use a new or empty directory"
                         % p.dir)
    longest = os.path.join(p.run, "token-login", "tokenlogin")
    if len(longest) + 8 > UNIX_PATH_MAX:
        raise StackError("%s is too long: Dovecot's unix sockets under it "
                         "would pass the %d-byte limit; use a shorter path "
                         "(e.g. mktemp -d)" % (p.dir, UNIX_PATH_MAX))
    # Postfix and Dovecot run parts of themselves as other users.
    d = os.path.dirname(p.dir)
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            raise StackError("%s is not traversable by other users (mode "
                             "%o); Postfix and Dovecot could not reach the "
                             "stack" % (d, os.stat(d).st_mode & 0o777))
        d = os.path.dirname(d)


def start_daemon(cmd, stderr_path, what):
    """Start a long-running process in a session of its own, stdio off our
    terminal and pipes (MAILSTACK.md 9)."""
    err = open(stderr_path, "ab")
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    except FileNotFoundError:
        raise StackError("%s: %s not found (is its package installed? run "
                         "make deps)" % (what, cmd[0]))
    finally:
        err.close()


def record(state, name, pid):
    st = proc_stat(pid)
    if not st:
        return False
    state["processes"][name] = {"pid": pid, "start": st[3]}
    return True


def save_state(p, state):
    write(p.state, json.dumps(state, indent=2) + "\n")


def start_stack(p, users, prog, auth=None):
    """Build and start everything; fills and returns the state dict.  On
    failure raises StackError with the state recorded so far in
    err.state so the caller can stop what was started.  auth: a checked
    --auth spec (load_auth_spec) or None."""
    t0 = time.monotonic()
    ports = pick_ports(PORT_NAMES + (AUTH_PORT_NAMES if auth else ()))
    password = secrets.token_urlsafe(12)
    state = {"version": 1, "users": users, "ports": ports,
             "password": password, "processes": {}}
    if auth:
        state["auth"] = True
    try:
        _start_stack(p, users, ports, password, state, prog, auth)
    except StackError as e:
        e.state = state
        raise
    state["up_seconds"] = round(time.monotonic() - t0, 3)
    save_state(p, state)
    return state


def _start_stack(p, users, ports, password, state, prog, auth=None):
    mail = ids("mail")
    os.chmod(p.dir, 0o755)
    for d in (p.logdir, p.dovecot, p.run, p.dstate, p.oauth):
        os.makedirs(d, mode=0o755, exist_ok=True)
    for d in (p.mail, p.home):
        os.mkdir(d, 0o700)
        os.chown(d, *mail)
    save_state(p, state)

    # OAuth introspection test double first: Dovecot asks it on login.
    write(p.tokens, "{}\n")
    dbl = start_daemon([sys.executable,
                        os.path.join(HERE, "oauth_introspect_double.py"),
                        "--port", str(ports["oauth"]), "--tokens", p.tokens],
                       p.oauth_log, "starting the OAuth test double")
    record(state, "oauth_double", dbl.pid)
    save_state(p, state)

    phase("OAuth test double started")
    make_tls(p)
    a = AuthPaths(p, auth) if auth else None
    addrs = ["user%d@%s" % (n, DOMAIN) for n in range(1, users + 1)]
    if a:
        addrs += ["%s@%s" % (u, d) for d in a.domains
                  for u in auth["domains"][d]["users"]]
    write(p.users, "".join("%s:{PLAIN}%s::::::\n" % (x, password)
                           for x in addrs),
          mode=0o640, owner=(0, grp.getgrnam("dovecot").gr_gid))
    write(p.oauth2_ext,
          "introspection_mode = post\n"
          "introspection_url = http://127.0.0.1:%d/introspect\n"
          "username_attribute = username\n"
          "active_attribute = active\nactive_value = true\n"
          % ports["oauth"], mode=0o600)
    write(p.dovecot_conf, dovecot_conf(p, ports), mode=0o644)
    install_sieve(p, [], prog)

    phase("CA, certificate, Dovecot config, Sieve compiled")
    dov = start_daemon(["dovecot", "-F", "-c", p.dovecot_conf],
                       p.dovecot_err, "starting Dovecot")
    record(state, "dovecot", dov.pid)
    save_state(p, state)
    dlogs = [p.dovecot_err, p.dovecot_log]

    def dovecot_ready():
        if dov.poll() is not None:
            raise StackError("Dovecot exited with status %d at start"
                             % dov.returncode, dlogs)
        return all(os.path.exists(x) for x in (p.penalty, p.lmtp, p.auth))
    wait_until(dovecot_ready, 10, "Dovecot's sockets", dlogs)
    # Before the first login: no per-IP auth penalty (MAILSTACK.md 2.5).
    os.unlink(p.penalty)

    phase("Dovecot's sockets exist")
    if a:
        start_auth(p, a, ports, state, prog)
    make_postfix_dirs(p)
    main_cf, master_cf = postfix_main_cf(p, ports), postfix_master_cf(ports)
    if a:
        main_cf = postfix_auth_main_cf(main_cf, a, ports)
        master_cf = postfix_auth_master_cf(master_cf, a, ports)
    write(os.path.join(p.pconf, "main.cf"), main_cf, age=10)
    write(os.path.join(p.pconf, "master.cf"), master_cf, age=10)
    write(os.path.join(p.pconf, "vmailbox"),
          "".join("%s ok\n" % x for x in addrs), age=10)
    write(os.path.join(p.pconf, "transport"),
          "bounce.test smtp:[127.0.0.1]:%d\n"
          "defer.test smtp:[127.0.0.1]:%d\n"
          % (ports["remote"], ports["remote"]), age=10)
    write(os.path.join(p.pconf, "remote_rcpt_access"),
          "bounce.test 550 5.1.1 No such user here\n"
          "defer.test 450 4.2.1 Mailbox busy, try again later\n", age=10)
    plogs = [p.postfix_err, p.postfix_log]
    # quick-start: the queue tree is made above, skip `postfix check`.
    open(os.path.join(p.queue, "quick-start"), "w").close()
    with open(p.postfix_err, "ab") as err:
        rc = subprocess.call(["postfix", "-c", p.pconf, "start"],
                             stdin=subprocess.DEVNULL, stdout=err,
                             stderr=err)
    pid = None
    try:
        with open(p.master_pid) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        pass
    if pid and record(state, "postfix", pid):
        save_state(p, state)
    if rc != 0:
        # postfix prints nothing when stderr is not a terminal; the reason
        # is in its log.
        raise StackError("Postfix did not start (`postfix -c %s start` "
                         "exited %d)" % (p.pconf, rc), plogs)
    if not pid or "postfix" not in state["processes"]:
        raise StackError("Postfix started but its master is not running "
                         "(pid file %s)" % p.master_pid, plogs)

    phase("postfix start returned")
    ctx = ssl.create_default_context(cafile=p.ca)

    def double_ready():
        if dbl.poll() is not None:
            raise StackError("the OAuth test double exited with status %d"
                             % dbl.returncode, [p.oauth_log])
        return introspect(ports["oauth"], "no-such-token") == {
            "active": False}
    wait_until(double_ready, 10, "the OAuth test double on port %d"
               % ports["oauth"], [p.oauth_log])
    check_listeners(p, ports, ctx)

    phase("every listener answered")
    env = [("MAILSTACK_DIR", p.dir),
           ("MAILSTACK_HOST", HOST),
           ("MAILSTACK_IMAP_PORT", ports["imap"]),
           ("MAILSTACK_IMAPS_PORT", ports["imaps"]),
           ("MAILSTACK_SUBMISSION_PORT", ports["submission"]),
           ("MAILSTACK_SUBMISSIONS_PORT", ports["submissions"]),
           ("MAILSTACK_SUBMISSION_7BIT_PORT", ports["submission_7bit"]),
           ("MAILSTACK_SMTP_PORT", ports["smtp"]),
           ("MAILSTACK_CA_FILE", p.ca),
           ("MAILSTACK_USERS", users),
           ("MAILSTACK_PASSWORD", password),
           ("MAILSTACK_MAILDIR", p.mail),
           ("MAILSTACK_OAUTH_PORT", ports["oauth"])]
    if a:
        env += [("MAILSTACK_AUTHSERV_ID", a.authserv_id),
                ("MAILSTACK_AUTH_DNS", auth["dns"]),
                ("MAILSTACK_AUTH_DOMAINS", " ".join(a.domains)),
                ("MAILSTACK_DKIM_JSON", p.dkim_json)]
    write(p.env, "# coldseq test mail stack; source it (set -a to export)\n"
          + "".join("%s=%s\n" % (k, shlex.quote(str(v))) for k, v in env))


def in_use_failure(p):
    for path in (p.dovecot_err, p.dovecot_log, p.postfix_log, p.postfix_err,
                 p.oauth_log, p.dkim_sign_err, p.dkim_verify_err):
        try:
            with open(path, errors="replace") as f:
                if "Address already in use" in f.read():
                    return True
        except OSError:
            pass
    return False


def wipe(d):
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def main_up(argv):
    ap = argparse.ArgumentParser(
        prog="up",
        description="Start a throwaway mail stack (Dovecot, Postfix, OAuth "
        "introspection test double) on 127.0.0.1 with every file under DIR; "
        "return once every listener answers.  Writes DIR/env "
        "(MAILSTACK_* values, shell-sourceable).  Users are "
        "user1@example.test .. userN@example.test, all with "
        "MAILSTACK_PASSWORD.  Stop it with `down DIR`.",
        epilog="Test domains: bounce.test is accepted then bounced (DSN to "
        "the sender), defer.test is deferred (4.2.1, delay DSN after ~2 s), "
        "unknown users of example.test are refused at RCPT (550 5.1.1), "
        "other domains are refused (nothing leaves the machine).  Logs are "
        "in DIR/log/.")
    ap.add_argument("dir", metavar="DIR",
                    help="new or empty directory (e.g. from mktemp -d); "
                    "made if missing")
    ap.add_argument("--users", type=int, default=DEFAULT_USERS, metavar="N",
                    help="number of users (default %d)" % DEFAULT_USERS)
    ap.add_argument("--auth", metavar="FILE",
                    help="also write Authentication-Results (RFC 8601) on "
                    "received mail: FILE is JSON {\"dns\": \"127.0.0.1:PORT\" "
                    "(the test's DNS server), \"domains\": {DOMAIN: "
                    "{\"users\": [LOCAL...], \"selector\": SEL or null, "
                    "\"bits\": 2048, \"bad_key\": false}}, \"authserv_id\": "
                    "\"%s\", \"sign_headers\": [...]}.  Submitted mail is "
                    "DKIM-signed (opendkim) and relayed to the MX-style "
                    "port, which verifies DKIM (opendkim) and SPF "
                    "(policyd-spf) against that DNS server and never "
                    "rejects.  The public keys and their zone lines are in "
                    "DIR/auth/dkim.json (MAILSTACK_DKIM_JSON)."
                    % DEFAULT_AUTHSERV_ID)
    args = ap.parse_args(argv)
    prog = "up"
    if args.users < 1 or args.users > 10000:
        report(prog, StackError("--users must be between 1 and 10000"))
        return 2
    auth = None
    if args.auth is not None:
        try:
            auth = load_auth_spec(args.auth)
        except StackError as e:
            report(prog, e)
            return 2
    if os.geteuid() != 0:
        report(prog, StackError("must run as root (Postfix and Dovecot "
                                "switch users)"))
        return 1
    p = Paths(args.dir)
    lock = None
    try:
        check_dir(p, prog)
        lock = Lock(p.dir, prog)
        check_dir(p, prog)   # again, under the lock
    except StackError as e:
        report(prog, e)
        return 1
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for attempt in range(3):
            try:
                t0 = time.monotonic()
                start_stack(p, args.users, prog, auth)
                took = time.monotonic() - t0
                print("up: stack running in %s (%d users, %.2f s); "
                      "source %s" % (p.dir, args.users, took, p.env),
                      file=sys.stderr, flush=True)
                return 0
            except (Exception, KeyboardInterrupt) as e:
                st = getattr(e, "state", None) or read_state(p) or {}
                # Short grace: a Dovecot stopped while still starting waits
                # 5 s for its anvil child otherwise.
                left = stop_sessions(all_sessions(p, st), timeout=2)
                if isinstance(e, StackError) and in_use_failure(p) \
                        and attempt < 2 and not left:
                    say(prog, "a picked port was taken meanwhile; "
                        "retrying with new ports")
                    wipe(p.dir)
                    continue
                if isinstance(e, KeyboardInterrupt):
                    e = StackError("interrupted")
                elif not isinstance(e, StackError):
                    e = StackError("%s: %s" % (type(e).__name__, e))
                report(prog, e)
                if left:
                    say(prog, "could not stop %s" % describe(left))
                else:
                    say(prog, "stopped what had started; files kept in %s"
                        % p.dir)
                if st:
                    st["stopped"] = True
                    save_state(p, st)
                return 1
    finally:
        signal.signal(signal.SIGTERM, old)
        if lock:
            lock.release()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


# ----------------------------------------------------------------- down

def open_stack(dirname, prog):
    """Paths and state of an existing stack, or StackError."""
    p = Paths(dirname)
    if not os.path.isdir(p.dir):
        raise StackError("%s is not a directory" % p.dir)
    state = read_state(p)
    if state is None:
        raise StackError("%s holds no stack (no %s)" % (p.dir, p.state))
    return p, state


def main_down(argv):
    ap = argparse.ArgumentParser(
        prog="down",
        description="Stop the stack that `up DIR` started: SIGTERM to the "
        "processes it recorded (Postfix master, Dovecot master, OAuth test "
        "double), then wait until no process of their sessions is left "
        "(checked in /proc); SIGKILL what is still there after 10 s.  Files "
        "stay in DIR.  Exits 0 if the stack was already stopped.")
    ap.add_argument("dir", metavar="DIR")
    args = ap.parse_args(argv)
    prog = "down"
    try:
        p, state = open_stack(args.dir, prog)
        lock = Lock(p.dir, prog)
    except StackError as e:
        report(prog, e)
        return 1
    try:
        sessions = all_sessions(p, state)
        if not session_members(sessions):
            say(prog, "no process of the stack in %s is running" % p.dir)
            return 0
        t0 = time.monotonic()
        left = stop_sessions(sessions)
        state["stopped"] = True
        save_state(p, state)
        if left:
            report(prog, StackError("could not stop %s" % describe(left)))
            return 1
        say(prog, "stopped the stack in %s (%.2f s)"
            % (p.dir, time.monotonic() - t0))
        return 0
    finally:
        lock.release()


# ---------------------------------------------------- flush, junk, token

def running_stack(dirname, prog):
    p, state = open_stack(dirname, prog)
    if not session_members(all_sessions(p, state)):
        raise StackError("the stack in %s is not running" % p.dir)
    return p, state


def main_flush(argv):
    ap = argparse.ArgumentParser(
        prog="flush",
        description="Make the stack's Postfix retry every queued message now "
        "(postqueue -f), ignoring its backoff.")
    ap.add_argument("dir", metavar="DIR")
    args = ap.parse_args(argv)
    try:
        p, _ = running_stack(args.dir, "flush")
        run(["postqueue", "-c", p.pconf, "-f"], "flush: postqueue -f",
            [p.postfix_log])
    except StackError as e:
        report("flush", e)
        return 1
    return 0


def main_junk(argv):
    ap = argparse.ArgumentParser(
        prog="junk",
        description="Set the senders whose mail is filed into the "
        "recipient's Junk folder (header From or envelope sender, "
        "case-insensitive).  Replaces the list; with no ADDRESS it empties "
        "it.  Mail with the header `X-Stack-Junk: yes` always goes to Junk.  "
        "Takes effect for the next delivery.")
    ap.add_argument("dir", metavar="DIR")
    ap.add_argument("addresses", metavar="ADDRESS", nargs="*")
    args = ap.parse_args(argv)
    prog = "junk"
    for a in args.addresses:
        if not ADDR_RE.match(a):
            report(prog, StackError("not a plain mail address: %r" % a))
            return 2
    try:
        p, _ = running_stack(args.dir, prog)
        lock = Lock(p.dir, prog)
        try:
            install_sieve(p, args.addresses, prog)
        finally:
            lock.release()
    except StackError as e:
        report(prog, e)
        return 1
    return 0


def main_token(argv):
    ap = argparse.ArgumentParser(
        prog="token",
        description="Make the bearer token TOKEN valid for USER (XOAUTH2 and "
        "OAUTHBEARER over IMAP and submission), or with --revoke withdraw "
        "it.  USER is an address of the stack (userN@example.test).  "
        "Takes effect for the next login.",
        usage="token DIR TOKEN USER\n       token DIR --revoke TOKEN")
    ap.add_argument("dir", metavar="DIR")
    ap.add_argument("--revoke", action="store_true",
                    help="withdraw TOKEN (no error if it was not valid)")
    ap.add_argument("token", metavar="TOKEN")
    ap.add_argument("user", metavar="USER", nargs="?")
    args = ap.parse_args(argv)
    prog = "token"
    if args.revoke == (args.user is not None):
        ap.error("give either TOKEN USER or --revoke TOKEN")
    if not args.token or any(c.isspace() or not c.isprintable()
                             for c in args.token):
        report(prog, StackError("TOKEN must be printable, without spaces"))
        return 2
    try:
        p, state = running_stack(args.dir, prog)
        if args.user is not None:
            user = args.user.lower()
            m = re.match(r"^user(\d+)@example\.test$", user)
            if not m or not 1 <= int(m.group(1)) <= state["users"]:
                raise StackError("%s is not a user of this stack "
                                 "(user1..user%d@example.test)"
                                 % (args.user, state["users"]))
        lock = Lock(p.dir, prog)
        try:
            with open(p.tokens) as f:
                tokens = json.load(f)
            if args.revoke:
                tokens.pop(args.token, None)
            else:
                tokens[args.token] = user
            write(p.tokens, json.dumps(tokens, indent=1) + "\n")
        except (OSError, ValueError) as e:
            raise StackError("%s: %s" % (p.tokens, e))
        finally:
            lock.release()
    except StackError as e:
        report(prog, e)
        return 1
    return 0


def main(fn):
    """Entry point of the wrapper scripts."""
    sys.dont_write_bytecode = True
    sys.exit(fn(sys.argv[1:]))
