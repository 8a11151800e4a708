"""mailstack.py - the local mail stack (tests/mailstack) for Python tests.

    from mailstack import Stack

    with Stack(users=4) as s:
        s.submit(1, s.user(2), b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
        [m] = s.wait_for(2, predicate=lambda m: m["Subject"] == "hi")

Stack() runs `tests/mailstack/up` into a fresh tempfile.mkdtemp() directory;
leaving the `with` block, even by an exception, runs `down` and removes the
directory.  A test file that shares one stack between its tests calls
start() at module level and stop() in a finally around tap.main().  Set
MAILSTACK_KEEP=1 (or keep=True) to keep the directory and its logs.

Attributes after start(): dir, host, imap_port, imaps_port, submission_port,
submissions_port, submission_7bit_port (as submission_port, without
8BITMIME), smtp_port, oauth_port, ca_file, password, maildir, users,
env (the whole DIR/env as a dict).  Wherever a method takes a user, it
accepts an address or a number n for user<n>@example.test.

Everything here is stdlib; failures raise with the scripts' own messages
(which include the tail of the relevant server log).

Authentication-Results (off by default; `up --auth FILE`)
---------------------------------------------------------
Stack(..., auth=AuthSpec(...)) makes the stack behave like a sender's
provider and a receiving provider, resolving against the test's own NSD
(tests/lib/dnsstack.py; nothing queries a public DNS server):

    from dnsstack import DnsServer
    from mailstack import Stack, AuthSpec, AuthDomain, auth_results

    zones = {"good.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"'],
             "badkey.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"']}
    with DnsServer(zones) as dns, Stack(users=2, auth=AuthSpec(dns, {
            "good.test": AuthDomain(users=["alice"], selector="sel1"),
            "badkey.test": AuthDomain(users=["bob"], selector="sel1",
                                      bad_key=True)})) as s:
        dns.set_zones(s.zones_with_dkim(zones))   # publish the keys
        s.submit("alice@good.test", "bob@badkey.test", msg_bytes)
        [m] = s.wait_for("bob@badkey.test")
        auth_results(m)  # [{"authserv_id": "mail.example.test",
                         #   "method": "dkim", "result": "pass",
                         #   "props": {"header.d": "good.test",
                         #             "header.s": "sel1", ...}}, ...]

- Each AuthDomain is an extra virtual domain with its users (password
  s.password, like user<n>@example.test); a domain with a selector gets a
  DKIM key generated at start (RSA, `bits`, default 2048).  bad_key=True:
  the stack signs with one key but s.dkim[d]["zone_lines"] publish
  another, so receivers write dkim=fail.
- Mail submitted on the submission ports (submission_port,
  submissions_port, submission_7bit_port: what coldseq uses) is signed by
  opendkim when its From domain has a key, then relayed to the MX-style
  port (smtp_port).  That port is the receiving side: opendkim verifies
  (AR with dkim=pass/fail/none, always exactly one) and policyd-spf checks
  the envelope sender from 127.0.0.1 (AR with spf=pass/fail/softfail/...,
  exactly one; no HELO check).  Nothing is ever rejected for a result.
  Mail sent straight to smtp_port is verified the same way, unsigned.
- The authserv-id is s.authserv_id ("mail.example.test", Postfix's
  myhostname, unless AuthSpec(authserv_id=...)).
- The DNS server must be running before the stack starts (its port is
  fixed into the resolvers' configuration); its zones may change at any
  time (set_zones restarts it on the same port; nothing is cached).
- s.dkim: {domain: {"selector", "bits", "bad_key", "signing_key" (PEM),
  "published_key" (PEM), "zone_lines"}}; s.dkim_zones(): {domain:
  zone_lines}; s.zones_with_dkim(zones): zones plus those lines (a new
  dict; a domain missing from zones gets a zone of its own).
- dkim_zone_lines(selector, pubkey_pem, domain=None) writes the TXT
  record for any key (e.g. a test's own 1024-bit key) in strings of at
  most 255 bytes.
- Logs: DIR/log/spf.log (policyd-spf), opendkim-{sign,verify}.stderr,
  unbound.log (opendkim's resolver, only when it has something to say).
"""
import email
import email.policy
import imaplib
import json
import os
import re
import shlex
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import time

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "mailstack")
DOMAIN = "example.test"
AUTHSERV_ID = "mail.example.test"


def _stackconf():
    """tests/mailstack/stackconf.py as a namespace (compiled here, so no
    bytecode lands beside the scripts)."""
    path = os.path.join(SCRIPTS, "stackconf.py")
    ns = {"__name__": "stackconf", "__file__": path}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)
    return ns


dkim_zone_lines = _stackconf()["dkim_zone_lines"]


class AuthDomain:
    """An extra virtual domain of an auth stack: its users (local parts),
    and for a signing domain its DKIM selector, key size and whether the
    published key is a different one (bad_key)."""

    def __init__(self, users=(), selector=None, bits=2048, bad_key=False):
        self.users = list(users)
        self.selector = selector
        self.bits = bits
        self.bad_key = bad_key

    def to_json(self):
        return {"users": self.users, "selector": self.selector,
                "bits": self.bits, "bad_key": self.bad_key}


class AuthSpec:
    """What `up --auth` needs: the DNS server (a dnsstack.DnsServer, its
    port, or "127.0.0.1:PORT"), the domains ({name: AuthDomain or a dict
    of AuthDomain's arguments}), the authserv-id, and optionally the header
    fields the signer signs (opendkim's SignHeaders; default: its own
    list)."""

    def __init__(self, dns, domains, authserv_id=AUTHSERV_ID,
                 sign_headers=None):
        self.dns = dns
        self.domains = {d: v if isinstance(v, AuthDomain) else AuthDomain(**v)
                        for d, v in domains.items()}
        self.authserv_id = authserv_id
        self.sign_headers = list(sign_headers or [])

    def dns_servers(self):
        d = self.dns
        if isinstance(d, int):
            return "127.0.0.1:%d" % d
        if isinstance(d, str):
            return d
        return d.servers            # dnsstack.DnsServer, started

    def to_json(self):
        return {"dns": self.dns_servers(), "authserv_id": self.authserv_id,
                "sign_headers": self.sign_headers,
                "domains": {d: v.to_json() for d, v in self.domains.items()}}


def _strip_comments(value):
    """An RFC 8601 header value without its (nested) comments; quoted
    strings are kept whole."""
    out, depth, quoted, esc = [], 0, False, False
    for ch in value:
        if esc:
            esc = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            esc = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            out.append(ch)
            if ch == '"':
                quoted = False
            continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            if ch == '"':
                quoted = True
            out.append(ch)
    return "".join(out)


def _split_outside_quotes(text, sep):
    parts, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def auth_results(msg, authserv_id=None):
    """The results in msg's Authentication-Results header fields (RFC
    8601), top first: a list of dicts {"authserv_id", "method", "result",
    "reason" (or None), "props": {"header.d": ..., "smtp.mailfrom": ...}}.
    Comments are dropped; names are lowercased, values kept.  With
    authserv_id, only fields of that id."""
    out = []
    for value in msg.get_all("Authentication-Results") or []:
        text = " ".join(str(value).split())
        parts = _split_outside_quotes(_strip_comments(text), ";")
        sid = parts[0].split()[0] if parts[0].split() else ""
        if authserv_id is not None and sid.lower() != authserv_id.lower():
            continue
        for part in parts[1:]:
            tokens = re.findall(r'[^\s=]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s]+)',
                                part)
            if not tokens:
                continue          # "none" (no result at all)
            res = {"authserv_id": sid, "method": None, "result": None,
                   "reason": None, "props": {}}
            for i, tok in enumerate(tokens):
                k, v = (x.strip() for x in tok.split("=", 1))
                if len(v) >= 2 and v[0] == v[-1] == '"':
                    v = re.sub(r"\\(.)", r"\1", v[1:-1])
                k = k.lower()
                if i == 0:
                    res["method"], res["result"] = k.split("/")[0], v.lower()
                elif k == "reason":
                    res["reason"] = v
                else:
                    res["props"][k] = v
            out.append(res)
    return out


class StackFailed(RuntimeError):
    """A stack script failed; the message holds its stderr."""


def _script(name, *args):
    p = subprocess.run([os.path.join(SCRIPTS, name)] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise StackFailed("tests/mailstack/%s %s exited %d:\n%s"
                          % (name, " ".join(map(str, args)), p.returncode,
                             p.stderr.decode(errors="replace").rstrip()))
    return p


def read_env(path):
    """DIR/env as a dict of strings."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = " ".join(shlex.split(v))
    return env


class Stack:
    """One running mail stack; see the module comment."""

    def __init__(self, users=None, keep=None, auth=None):
        self.users_wanted = users
        self.auth = auth
        self.authserv_id = None
        self.dkim = {}
        self.keep = bool(os.environ.get("MAILSTACK_KEEP")) if keep is None \
            else keep
        self.dir = None
        self.env = {}

    # -------------------------------------------------------- lifecycle

    def start(self):
        """Run up into a new directory; returns self."""
        self.dir = tempfile.mkdtemp(prefix="mailstack.")
        args = [self.dir]
        if self.users_wanted is not None:
            args += ["--users", self.users_wanted]
        try:
            if self.auth is not None:
                fd, spec = tempfile.mkstemp(prefix="mailstack-auth.",
                                            suffix=".json")
                with os.fdopen(fd, "w") as f:
                    json.dump(self.auth.to_json(), f)
                args += ["--auth", spec]
            try:
                _script("up", *args)
            finally:
                if self.auth is not None:
                    os.unlink(spec)
        except BaseException:
            if not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise
        e = self.env = read_env(os.path.join(self.dir, "env"))
        self.host = e["MAILSTACK_HOST"]
        self.imap_port = int(e["MAILSTACK_IMAP_PORT"])
        self.imaps_port = int(e["MAILSTACK_IMAPS_PORT"])
        self.submission_port = int(e["MAILSTACK_SUBMISSION_PORT"])
        self.submissions_port = int(e["MAILSTACK_SUBMISSIONS_PORT"])
        self.submission_7bit_port = int(e["MAILSTACK_SUBMISSION_7BIT_PORT"])
        self.smtp_port = int(e["MAILSTACK_SMTP_PORT"])
        self.oauth_port = int(e["MAILSTACK_OAUTH_PORT"])
        self.ca_file = e["MAILSTACK_CA_FILE"]
        self.password = e["MAILSTACK_PASSWORD"]
        self.maildir = e["MAILSTACK_MAILDIR"]
        self.users = int(e["MAILSTACK_USERS"])
        if "MAILSTACK_AUTHSERV_ID" in e:
            self.authserv_id = e["MAILSTACK_AUTHSERV_ID"]
            with open(e["MAILSTACK_DKIM_JSON"]) as f:
                self.dkim = json.load(f)
        return self

    def stop(self):
        """Run down, then remove the directory (unless keep).  Safe to call
        twice."""
        if self.dir is None:
            return
        d, self.dir = self.dir, None
        try:
            _script("down", d)
        finally:
            if not self.keep:
                shutil.rmtree(d, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except Exception:
            if exc_type is None:
                raise          # else the test's own exception matters more
        return False

    # ------------------------------------------------------------- auth

    def dkim_zones(self):
        """{domain: zone lines publishing its DKIM key} for every signing
        domain of an auth stack (the wrong key for a bad_key domain)."""
        return {d: list(v["zone_lines"]) for d, v in self.dkim.items()}

    def zones_with_dkim(self, zones):
        """A copy of zones (dnsstack's {zone: [lines]}) with each signing
        domain's DKIM record added to its zone (a zone of its own if zones
        has none for it)."""
        out = {z: list(lines) for z, lines in zones.items()}
        for d, lines in self.dkim_zones().items():
            out.setdefault(d, []).extend(lines)
        return out

    # ------------------------------------------------------------ users

    def user(self, n):
        """Address of user n (1-based)."""
        return "user%d@%s" % (n, DOMAIN)

    def _addr(self, u):
        return self.user(u) if isinstance(u, int) else u

    def maildir_of(self, user, folder="INBOX"):
        """Path of a user's maildir folder (new/ cur/ tmp/ inside)."""
        path = os.path.join(self.maildir, self._addr(user).lower())
        return path if folder == "INBOX" else os.path.join(path, "." + folder)

    def message_ids(self, user, folder="INBOX"):
        """Message-IDs in a user's maildir folder (new/ and cur/), read
        from the files: what a human would find there."""
        out = set()
        base = self.maildir_of(user, folder)
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    for line in f:
                        if line in (b"\n", b"\r\n"):
                            break
                        if line.lower().startswith(b"message-id:"):
                            out.add(line.split(b":", 1)[1].strip().decode())
        return out

    # -------------------------------------------------------------- TLS

    def ssl_context(self):
        """A client context that trusts only the stack's CA, with host name
        verification on (connect to self.host, which the certificate
        names)."""
        return ssl.create_default_context(cafile=self.ca_file)

    # ------------------------------------------------------------- IMAP

    def imap(self, user, port="implicit", password=None):
        """An imaplib client logged in as user over IMAPS ("implicit") or
        IMAP+STARTTLS ("starttls").  Use it in a with block (logs out)."""
        ctx = self.ssl_context()
        if port == "implicit":
            c = imaplib.IMAP4_SSL(self.host, self.imaps_port,
                                  ssl_context=ctx, timeout=10)
        elif port == "starttls":
            c = imaplib.IMAP4(self.host, self.imap_port, timeout=10)
            c.starttls(ssl_context=ctx)
        else:
            raise ValueError("port must be 'implicit' or 'starttls'")
        try:
            c.login(self._addr(user), password or self.password)
        except BaseException:
            c.shutdown()
            raise
        return c

    def wait_for(self, user, folder="INBOX", predicate=None, timeout=10,
                 count=1):
        """Poll folder over IMAP (read-only, BODY.PEEK) until at least
        `count` messages satisfy predicate(msg) (all do if None).  Returns
        every matching message, oldest first, as email.message.EmailMessage
        (a Message, parsed with email.policy.default).  Raises
        AssertionError naming what the folder holds on timeout."""
        deadline = time.monotonic() + timeout
        seen = {}
        name = '"%s"' % folder.replace("\\", "\\\\").replace('"', '\\"')
        with self.imap(user) as c:
            while True:
                typ, data = c.select(name, readonly=True)
                if typ != "OK":
                    raise AssertionError("SELECT %s for %s: %r"
                                         % (folder, self._addr(user), data))
                typ, data = c.uid("SEARCH", None, "ALL")
                new = [u for u in data[0].split() if int(u) not in seen]
                if new:
                    typ, data = c.uid("FETCH", b",".join(new),
                                      "(BODY.PEEK[])")
                    for item in data:
                        if not isinstance(item, tuple):
                            continue
                        m = re.search(rb"UID (\d+)", item[0])
                        seen[int(m.group(1))] = email.message_from_bytes(
                            item[1], policy=email.policy.default)
                msgs = [seen[u] for u in sorted(seen)]
                hits = [m for m in msgs if predicate is None or predicate(m)]
                if len(hits) >= count:
                    return hits
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "%s/%s: %d of %d wanted messages after %g s; the "
                        "folder holds %d: %r"
                        % (self._addr(user), folder, len(hits), count,
                           timeout, len(msgs),
                           [str(m["Subject"]) for m in msgs]))
                time.sleep(0.05)

    # ------------------------------------------------------------- SMTP

    def smtp(self, user=None, port="starttls", password=None):
        """An smtplib client on the submission port ("starttls"), the
        implicit-TLS submission port ("implicit") or the MX-style port
        ("mx", no TLS, no AUTH).  Logged in as user if given."""
        ctx = self.ssl_context()
        if port == "implicit":
            c = smtplib.SMTP_SSL(self.host, self.submissions_port,
                                 context=ctx, timeout=10)
        elif port in ("starttls", "mx"):
            c = smtplib.SMTP(self.host, self.submission_port
                             if port == "starttls" else self.smtp_port,
                             timeout=10)
            if port == "starttls":
                c.starttls(context=ctx)
        else:
            raise ValueError("port must be 'starttls', 'implicit' or 'mx'")
        c.ehlo()
        if user is not None:
            c.login(self._addr(user), password or self.password)
        return c

    def submit(self, from_user, to, msg_bytes, port="starttls"):
        """Submit msg_bytes with AUTH as from_user (also the envelope
        sender) to `to` (an address or a list).  Returns smtplib's dict of
        refused recipients; raises smtplib errors as they come."""
        rcpts = [to] if isinstance(to, str) else list(to)
        with self.smtp(from_user, port) as c:
            return c.sendmail(self._addr(from_user), rcpts, msg_bytes)

    # ---------------------------------------------------------- control

    def flush(self):
        """Make Postfix retry its queue now."""
        _script("flush", self.dir)

    def junk(self, *addrs):
        """Set the senders filed into Junk (replaces the list)."""
        _script("junk", self.dir, *addrs)

    def token(self, tok, user):
        """Make bearer token tok valid for user."""
        _script("token", self.dir, tok, self._addr(user))

    def revoke(self, tok):
        """Withdraw bearer token tok."""
        _script("token", self.dir, "--revoke", tok)

    def log(self, name):
        """Text of DIR/log/<name>.log ("dovecot", "postfix", "oauth")."""
        with open(os.path.join(self.dir, "log", name + ".log"),
                  errors="replace") as f:
            return f.read()
