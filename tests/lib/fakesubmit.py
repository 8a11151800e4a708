"""fakesubmit.py - FAKE SMTP-submission fronts of Gmail / Google Workspace
(smtp.gmail.com:587) and Microsoft 365 / Exchange Online
(smtp.office365.com:587), named as such.  We cannot run Google's or
Microsoft's servers; this is a proxy in front of the local stack's real
Postfix and Dovecot that adds what those providers do on top of plain
submission:

  - their greeting and EHLO capabilities (before and after STARTTLS);
  - their AUTH: PLAIN and LOGIN check the password of the fake's users
    map; XOAUTH2 checks the bearer token against the user's current token
    (users[...]["token"]; when None, the token the stack accepts for that
    user, asked from the stack's introspection endpoint, so tokens issued
    by tests/oauth/oauth_provider_double.py work);
  - their limits, counted from the fake's OWN STATE AND COUNTERS (never a
    script of canned replies): a test drives a user into a limit by
    sending.  Per user, rolling 24-hour windows of messages and recipients
    (a send leaves the window 24 h after it happened), Microsoft's 30
    messages per minute, and Microsoft's tenant-wide external-recipient
    counter shared by the users given the same tenant; concurrent
    sessions per user for Gmail;
  - their answers at those limits and for the per-user states a test sets
    (wrong password, SMTP AUTH disabled for the mailbox, a restricted
    sender, a refused token) -- see ANSWERS below;
  - saving a copy of every accepted message in the sender's Sent folder,
    as Gmail and Exchange Online do: an IMAP APPEND (\\Seen) as that user
    to the stack's "Sent" (the folder marked \\Sent, which coldseq finds).

An accepted message is relayed to the stack's real Postfix (submission
port, AUTH as the same user with the stack's password), command by
command: the stack's own answer to MAIL and RCPT is passed through (an
unknown recipient is refused as the stack refuses it), so the message
arrives in the recipient's real Dovecot mailbox.  The fake's users must
be stack users (userN@example.test).

    with FakeSubmission(stack, provider="gmail",
                        users={1: {"messages_24h": 5}}) as g:
        ... inbox add --smtp 127.0.0.1:g.port --smtp-tls starttls
                      --ca-file stack.ca_file ...
        g.sends(1)      # [{"time", "rcpts", "message_id"}, ...]
        g.refusals(1)   # [{"time", "code", "enhanced", "text", "at"}, ...]
        g.verbs(1)      # every command verb of that user's sessions

provider: "gmail" (free Gmail: 500 messages or recipients per rolling
24 h), "workspace" (Google Workspace: 2,000 messages, 10,000 recipients)
or "microsoft" (Exchange Online: 10,000 recipients per 24 h, 30 messages
a minute, tenant external recipients 500 x licences^0.7 + 9,500).  The
published figures are the defaults; each is overridable per user (tests
use small numbers).  Users: {address or stack user number: dict}, keys:

    password       AUTH PLAIN/LOGIN password (default: the stack's)
    token          the XOAUTH2 bearer token accepted (None: ask the stack)
    messages_24h   messages per rolling 24 h (None: no such limit)
    recipients_24h recipients per rolling 24 h
    per_minute     messages per rolling minute (Microsoft)
    rcpts_per_message  recipients in one message
    max_sessions   concurrent sessions (Gmail; 454 4.7.0 beyond)
    tenant         tenant name (Microsoft; shares the tenant counter)
    smtp_auth      False: SMTP AUTH disabled for the mailbox (Microsoft)
    restricted     "5.7.708" or "5.1.8": the sender is restricted
                   (Microsoft), every MAIL is refused with that answer

set(user, key=value...) changes them while the fake runs.  tenants:
{name: {"licences": N, "external_24h": N, "domains": [accepted
domains]}}; a recipient outside the tenant's accepted domains is external
(none given: every recipient is external).

clock: "real" -- a send happens at time.time(); "date" -- a send happens
at the message's Date header.  coldseq writes Date from its service
clock, which `coldseq run --clock sim:...` fast-forwards, so with "date"
the rolling windows follow the simulated clock (a simulated day frees a
day's capacity).  Every limit is therefore checked at the end of DATA,
when the send's time is known; a refused message is neither relayed nor
counted.

ANSWERS (the providers' own words; "%s" is a session id):
  gmail/workspace over messages_24h or recipients_24h (end of DATA):
      550 5.4.5 Daily user sending limit exceeded. For more information
      on Gmail sending limits go to https://support.google.com/a/answer/166852
  gmail more than max_sessions concurrent sessions (AUTH):
      454 4.7.0 Too many login attempts, please try again later.
  gmail wrong password / refused token (AUTH):
      535-5.7.8 Username and Password not accepted. ...
      (XOAUTH2: first the error challenge 334 + base64 of
      {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"},
      then, after the client's empty line, the 535)
  microsoft over messages_24h or recipients_24h (end of DATA):
      554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;
      Failed to process message due to a permanent exception with message ...
  microsoft over per_minute (end of DATA):
      432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded
  microsoft over the tenant's external recipients (end of DATA):
      550 5.7.233 ... tenant external recipient rate limit
  microsoft smtp_auth False (AUTH, any mechanism):
      535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is
      disabled for the Mailbox.
  microsoft wrong password, expired or unknown token (AUTH):
      535 5.7.3 Authentication unsuccessful
  microsoft restricted "5.7.708" / "5.1.8" (MAIL):
      550 5.7.708 Service unavailable. Access denied, traffic not accepted
      from this IP. / 550 5.1.8 Access denied, bad outbound sender

Everything is recorded per user for assertions (credentials never): sends
with their time, refusals with code, and every command verb.
"""
import base64
import binascii
import email
import email.policy
import email.utils
import imaplib
import json
import re
import secrets
import smtplib
import ssl
import threading
import time
import urllib.parse
import urllib.request

from loopback import LoopbackServer

DAY = 86400.0
MINUTE = 60.0

PROVIDERS = {
    "gmail": {
        "host": "smtp.gmail.com",
        "ehlo_plain": ["SIZE 35882577", "8BITMIME", "STARTTLS",
                       "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING",
                       "SMTPUTF8"],
        "ehlo_tls": ["SIZE 35882577", "8BITMIME",
                     "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN "
                     "OAUTHBEARER XOAUTH", "ENHANCEDSTATUSCODES",
                     "PIPELINING", "CHUNKING", "SMTPUTF8"],
        "limits": {"messages_24h": 500, "recipients_24h": 500,
                   "per_minute": None, "rcpts_per_message": 100,
                   "max_sessions": 10},
    },
    "workspace": {
        "host": "smtp.gmail.com",
        "limits": {"messages_24h": 2000, "recipients_24h": 10000,
                   "per_minute": None, "rcpts_per_message": 100,
                   "max_sessions": 10},
    },
    "microsoft": {
        "host": "smtp.office365.com",
        "ehlo_plain": ["SIZE 157286400", "PIPELINING", "DSN",
                       "ENHANCEDSTATUSCODES", "STARTTLS", "8BITMIME",
                       "BINARYMIME", "CHUNKING", "SMTPUTF8"],
        "ehlo_tls": ["SIZE 157286400", "PIPELINING", "DSN",
                     "ENHANCEDSTATUSCODES", "AUTH LOGIN XOAUTH2", "8BITMIME",
                     "BINARYMIME", "CHUNKING", "SMTPUTF8"],
        "limits": {"messages_24h": None, "recipients_24h": 10000,
                   "per_minute": 30, "rcpts_per_message": 500,
                   "max_sessions": None},
    },
}
for _k in ("ehlo_plain", "ehlo_tls"):
    PROVIDERS["workspace"][_k] = PROVIDERS["gmail"][_k]

GMAIL_LIMIT = ("550 5.4.5 Daily user sending limit exceeded. For more "
               "information on Gmail sending limits go to "
               "https://support.google.com/a/answer/166852 %s - gsmtp")
GMAIL_SESSIONS = ("454 4.7.0 Too many login attempts, please try again "
                  "later. %s - gsmtp")
GMAIL_BADAUTH = ("535-5.7.8 Username and Password not accepted. For more "
                 "information, go to\r\n535 5.7.8  https://support.google."
                 "com/mail/?p=BadCredentials %s - gsmtp")
GMAIL_OAUTH_CHALLENGE = base64.b64encode(
    b'{"status":"401","schemes":"Bearer",'
    b'"scope":"https://mail.google.com/"}').decode()
MS_QUOTA = ("554 5.2.0 STOREDRV.Submission.Exception:"
            "SubmissionQuotaExceededException; Failed to process message "
            "due to a permanent exception with message [BeginDiagnosticData]"
            "Cannot submit message. 0.35250:0A00C084 [Hostname=%s]")
MS_THREADS = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"
MS_TENANT = ("550 5.7.233 Your message can't be sent because your tenant "
             "has exceeded its daily limit for sending email to external "
             "recipients (tenant external recipient rate limit).")
MS_AUTH_DISABLED = ("535 5.7.139 Authentication unsuccessful, "
                    "SmtpClientAuthentication is disabled for the Mailbox. "
                    "Visit https://aka.ms/smtp_auth_disabled for more "
                    "information. [%s]")
MS_BADAUTH = "535 5.7.3 Authentication unsuccessful [%s]"
MS_RESTRICTED = {
    "5.7.708": "550 5.7.708 Service unavailable. Access denied, traffic not "
               "accepted from this IP. [%s]",
    "5.1.8": "550 5.1.8 Access denied, bad outbound sender [%s]",
}

_ENH = re.compile(r"^(\d{3})[ -](\d\.\d{1,3}\.\d{1,3})?")
_MAX_LINE = 4096


def _code(reply):
    m = _ENH.match(reply)
    return (int(m.group(1)), m.group(2)) if m else (0, None)


class _Refused(Exception):
    """A reply the fake gives instead of going on."""


class _Session:
    """One client connection: plain until STARTTLS, then TLS."""

    def __init__(self, fake, sock):
        self.fake = fake
        self.sock = sock
        self.f = sock.makefile("rb")
        self.id = secrets.token_hex(6)
        self.tls = False
        self.user = None          # authenticated address
        self.counted = False      # counts as one of user's sessions
        self.up = None            # upstream smtplib client (stack Postfix)
        self.mail_from = None
        self.rcpts = []
        self.pre_verbs = []       # verbs before AUTH names the user

    # ------------------------------------------------------------ I/O

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def readline(self):
        line = self.f.readline(_MAX_LINE)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def host(self):
        return PROVIDERS[self.fake.provider]["host"]

    def gmail(self):
        return self.fake.provider in ("gmail", "workspace")

    def say(self, gmail_text, ms_text):
        self.send(gmail_text if self.gmail() else ms_text)

    def verb(self, verb):
        if self.user is None:
            self.pre_verbs.append(verb)
        else:
            self.fake._verb(self.user, verb)

    def refuse(self, reply, at, when=None):
        """Answer reply and record it as a refusal of the user's (when:
        the refused send's time by the fake's clock, if known)."""
        self.send(reply)
        if self.user is not None:
            self.fake._refusal(self.user, reply, at, when)

    # ------------------------------------------------------------ run

    def run(self):
        try:
            if self.gmail():
                self.send("220 smtp.gmail.com ESMTP %s - gsmtp" % self.id)
            else:
                self.send("220 FAKE%s.outlook.office365.com Microsoft ESMTP "
                          "MAIL Service ready at %s"
                          % (self.id[:6].upper(),
                             email.utils.formatdate(usegmt=True)))
            while True:
                line = self.readline()
                verb = line.split(" ", 1)[0].upper()
                self.verb(verb)
                handler = getattr(self, "cmd_" + verb.lower(), None)
                if verb in ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                            "RCPT", "DATA", "BDAT", "RSET", "NOOP",
                            "QUIT") and handler:
                    if handler(line) == "quit":
                        return
                else:
                    self.say("502 5.5.1 Unrecognized command. %s - gsmtp"
                             % self.id,
                             "500 5.3.3 Unrecognized command")
        except (EOFError, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            self.close()

    def close(self):
        if self.counted:
            self.fake._session_end(self.user)
            self.counted = False
        if self.up is not None:
            try:
                self.up.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.up = None
        try:
            self.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------- commands

    def cmd_ehlo(self, line):
        kws = PROVIDERS[self.fake.provider]["ehlo_tls" if self.tls
                                            else "ehlo_plain"]
        first = ("smtp.gmail.com at your service, [127.0.0.1]"
                 if self.gmail() else
                 "FAKE.outlook.office365.com Hello [127.0.0.1]")
        lines = [first] + kws
        for n, kw in enumerate(lines):
            self.send("250%s%s" % (" " if n == len(lines) - 1 else "-", kw))

    def cmd_helo(self, line):
        self.send("250 %s" % self.host())

    def cmd_noop(self, line):
        self.send("250 2.0.0 OK")

    def cmd_quit(self, line):
        self.say("221 2.0.0 closing connection %s - gsmtp" % self.id,
                 "221 2.0.0 Service closing transmission channel")
        return "quit"

    def cmd_starttls(self, line):
        if self.tls:
            self.send("503 5.5.1 TLS already active")
            return None
        self.send("220 2.0.0 Ready to start TLS" if self.gmail() else
                  "220 2.0.0 SMTP server ready")
        self.sock = self.fake.ctx.wrap_socket(self.sock, server_side=True)
        self.f = self.sock.makefile("rb")
        self.tls = True
        return None

    def cmd_rset(self, line):
        self.reset()
        self.say("250 2.1.5 Flushed %s - gsmtp" % self.id,
                 "250 2.0.0 Resetting")

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        if self.up is not None:
            try:
                self.up.rset()
            except (smtplib.SMTPException, OSError):
                self.up = None

    # ----------------------------------------------------------- AUTH

    def cmd_auth(self, line):
        parts = line.split(" ")
        if not self.tls:
            self.say("530 5.7.0 Must issue a STARTTLS command first. %s "
                     "- gsmtp" % self.id,
                     "504 5.7.4 Unrecognized authentication type")
            return
        if self.user is not None:
            self.send("503 5.5.1 Already authenticated")
            return
        mech = parts[1].upper() if len(parts) > 1 else ""
        offered = [m for kw in PROVIDERS[self.fake.provider]["ehlo_tls"]
                   if kw.startswith("AUTH ") for m in kw.split()[1:]]
        if mech not in offered or mech in ("PLAIN-CLIENTTOKEN",
                                           "OAUTHBEARER", "XOAUTH"):
            self.say("504 5.7.4 Unrecognized authentication type. %s - "
                     "gsmtp" % self.id,
                     "504 5.7.4 Unrecognized authentication type")
            return
        initial = parts[2] if len(parts) > 2 else None
        try:
            if mech == "PLAIN":
                raw = self.b64(initial if initial is not None
                               else self.challenge(""))
                f = raw.split(b"\0")
                if len(f) != 3:
                    raise _Refused("501 5.5.2 Cannot Decode response")
                addr, how = f[1].decode("utf-8", "replace"), \
                    ("password", f[2].decode("utf-8", "replace"))
            elif mech == "LOGIN":
                u = initial if initial is not None else \
                    self.challenge("VXNlcm5hbWU6")
                addr = self.b64(u).decode("utf-8", "replace")
                how = ("password", self.b64(self.challenge(
                    "UGFzc3dvcmQ6")).decode("utf-8", "replace"))
            else:  # XOAUTH2
                raw = self.b64(initial if initial is not None
                               else self.challenge(""))
                m = re.match(rb"^user=([^\x01]*)\x01auth=Bearer ([^\x01]*)"
                             rb"\x01\x01$", raw)
                if not m:
                    raise _Refused("501 5.5.2 Cannot Decode response")
                addr = m.group(1).decode("utf-8", "replace")
                how = ("token", m.group(2).decode("utf-8", "replace"))
        except _Refused as e:
            self.send(str(e))
            return
        self.login(addr.lower(), how)

    def b64(self, s):
        if s == "*":
            raise _Refused("501 5.0.0 Authentication cancelled")
        try:
            return base64.b64decode(s, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("501 5.5.2 Cannot Decode response")

    def challenge(self, text):
        self.send("334 " + text)
        return self.readline()

    def login(self, addr, how):
        fake = self.fake
        u = fake._user(addr)
        gm = self.gmail()
        if u is None:
            ok = False
        elif how[0] == "password":
            ok = how[1] == u["password"]
        else:
            ok = fake._token_ok(addr, u, how[1])
        if u is not None and not gm and not u["smtp_auth"]:
            self.user = addr
            self.flush_verbs()
            self.refuse(MS_AUTH_DISABLED % self.id, "AUTH")
            self.user = None
            return
        if not ok:
            if u is not None:
                self.user = addr
                self.flush_verbs()
            if gm and how[0] == "token":
                # RFC 7628: the error as a challenge; the client answers
                # with an empty line, then the final reply
                self.send("334 " + GMAIL_OAUTH_CHALLENGE)
                self.readline()
            self.refuse((GMAIL_BADAUTH if gm else MS_BADAUTH) % self.id,
                        "AUTH")
            self.user = None
            return
        self.user = addr
        self.flush_verbs()
        if not fake._session_start(addr):
            self.refuse(GMAIL_SESSIONS % self.id, "AUTH")
            self.user = None
            return
        self.counted = True
        self.say("235 2.7.0 Accepted", "235 2.7.0 Authentication successful")

    def flush_verbs(self):
        for v in self.pre_verbs:
            self.fake._verb(self.user, v)
        self.pre_verbs = []

    # ------------------------------------------------------ transaction

    def cmd_mail(self, line):
        if self.user is None:
            self.say("530-5.7.0 Authentication Required. For more "
                     "information, go to\r\n530 5.7.0  https://support."
                     "google.com/mail/?p=WantAuthError %s - gsmtp" % self.id,
                     "530 5.7.57 Client not authenticated to send mail.")
            return
        if self.mail_from is not None:
            self.send("503 5.5.1 Sender already specified")
            return
        m = re.match(r"^MAIL FROM:\s*<([^>]*)>", line, re.I)
        if not m:
            self.send("501 5.5.4 Syntax error in parameters")
            return
        u = self.fake._user(self.user)
        if not self.gmail() and u["restricted"]:
            self.refuse(MS_RESTRICTED[u["restricted"]] % self.id, "MAIL")
            return
        try:
            if self.up is None:
                self.up = self.fake.stack.smtp(self.user)
            code, msg = self.up.mail(m.group(1))
        except (smtplib.SMTPException, OSError) as e:
            self.up = None
            self.send("451 4.3.0 fake: the stack's Postfix failed: %s" % e)
            return
        if code >= 300:
            self.send("%d %s" % (code, msg.decode("utf-8", "replace")))
            return
        self.mail_from = m.group(1)
        self.say("250 2.1.0 OK %s - gsmtp" % self.id, "250 2.1.0 Sender OK")

    def cmd_rcpt(self, line):
        if self.mail_from is None:
            self.send("503 5.5.1 Need MAIL first")
            return
        m = re.match(r"^RCPT TO:\s*<([^>]*)>", line, re.I)
        if not m:
            self.send("501 5.5.4 Syntax error in parameters")
            return
        u = self.fake._user(self.user)
        if len(self.rcpts) >= u["rcpts_per_message"]:
            self.say("452 4.5.3 Your message has too many recipients. %s - "
                     "gsmtp" % self.id,
                     "452 4.5.3 Too many recipients")
            return
        try:
            code, msg = self.up.rcpt(m.group(1))
        except (smtplib.SMTPException, OSError) as e:
            self.up = None
            self.send("451 4.3.0 fake: the stack's Postfix failed: %s" % e)
            return
        if code >= 300:  # the stack's own refusal, passed through
            self.send("%d %s" % (code, msg.decode("utf-8", "replace")))
            return
        self.rcpts.append(m.group(1))
        self.say("250 2.1.5 OK %s - gsmtp" % self.id,
                 "250 2.1.5 Recipient OK")

    def cmd_data(self, line):
        if self.mail_from is None or not self.rcpts:
            self.send("503 5.5.1 Valid RCPT command must precede DATA")
            return
        self.say("354 Go ahead %s - gsmtp" % self.id,
                 "354 Start mail input; end with <CRLF>.<CRLF>")
        body = []
        while True:
            raw = self.f.readline(1 << 20)
            if not raw:
                raise EOFError
            if raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            body.append(raw)
        self.deliver(b"".join(body))

    def cmd_bdat(self, line):
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            self.send("501 5.5.4 Syntax error in parameters")
            return
        n = int(parts[1])
        chunk = self.f.read(n)
        if len(chunk) != n:
            raise EOFError
        self.chunks = getattr(self, "chunks", b"") + chunk
        if self.mail_from is None or not self.rcpts:
            self.chunks = b""
            self.send("503 5.5.1 Valid RCPT command must precede BDAT")
            return
        if len(parts) > 2 and parts[2].upper() == "LAST":
            data, self.chunks = self.chunks, b""
            self.deliver(data)
        else:
            self.send("250 2.0.0 %d octets received" % n)

    def deliver(self, data):
        """End of DATA: the limits, then relay, Sent copy, 250."""
        fake = self.fake
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        when = fake._time_of(msg)
        rcpts = list(self.rcpts)
        reply = fake._admit(self.user, rcpts, when, self.id)
        if reply is not None:
            self.refuse(reply, "DATA", when)
            self.reset()
            return
        try:
            code, text = self.up.data(data)
        except (smtplib.SMTPException, OSError) as e:
            self.up = None
            code, text = 451, ("fake: the stack's Postfix failed: %s"
                               % e).encode()
        if code >= 300:
            self.send("%d %s" % (code, text.decode("utf-8", "replace")))
            self.mail_from, self.rcpts = None, []
            return
        fake._append_sent(self.user, data, when)
        fake._accepted(self.user, rcpts, when, msg.get("Message-ID"))
        self.mail_from, self.rcpts = None, []
        self.say("250 2.0.0 OK  %d %s - gsmtp" % (int(when), self.id),
                 "250 2.0.0 OK <%s@FAKE.outlook.office365.com> "
                 "[Hostname=FAKE.outlook.office365.com]" % self.id)


class FakeSubmission(LoopbackServer):
    """The FAKE submission front of one provider; see the module comment."""

    def __init__(self, stack, provider="gmail", users=None, clock="real",
                 tenants=None):
        if provider not in PROVIDERS:
            raise ValueError("provider must be gmail, workspace or microsoft")
        if clock not in ("real", "date"):
            raise ValueError("clock must be real or date")
        self.stack = stack
        self.provider = provider
        self.clock = clock
        self.lock = threading.Lock()
        self.users = {}
        self.state = {}   # addr -> {"sends", "refusals", "verbs", "live"}
        self.tenants = {}
        self.tenant_sends = {}  # tenant -> [(time, n external)]
        self.sessions = []
        for name, t in (tenants or {}).items():
            lic = t.get("licences", 1)
            self.tenants[name] = {
                "external_24h": t.get("external_24h",
                                      int(500 * lic ** 0.7 + 9500)),
                "domains": {d.lower() for d in t.get("domains", ())}}
            self.tenant_sends[name] = []
        for u, settings in (users or {}).items():
            self.add_user(u, **settings)
        LoopbackServer.__init__(self, stack, backlog=32, conn_timeout=120)
        self.ca_file = stack.ca_file

    def serve(self, c):
        _Session(self, c).run()

    # ------------------------------------------------------------ users

    def _addr(self, u):
        return (self.stack.user(u) if isinstance(u, int) else u).lower()

    def add_user(self, u, **settings):
        """Add (or reset the settings of) user u: see the module comment
        for the keys."""
        base = dict(PROVIDERS[self.provider]["limits"])
        base.update({"password": self.stack.password, "token": None,
                     "tenant": None, "smtp_auth": True, "restricted": None})
        for k in settings:
            if k not in base:
                raise ValueError("unknown user setting %s" % k)
        base.update(settings)
        if base["restricted"] not in (None, "5.7.708", "5.1.8"):
            raise ValueError("restricted must be 5.7.708 or 5.1.8")
        addr = self._addr(u)
        with self.lock:
            self.users[addr] = base
            self.state.setdefault(addr, {"sends": [], "refusals": [],
                                         "verbs": [], "live": 0})
        return addr

    def set(self, u, **settings):
        """Change some settings of user u (a known user) at once."""
        addr = self._addr(u)
        with self.lock:
            for k, v in settings.items():
                if k not in self.users[addr]:
                    raise ValueError("unknown user setting %s" % k)
                self.users[addr][k] = v

    def _user(self, addr):
        with self.lock:
            u = self.users.get(addr.lower())
            return dict(u) if u else None

    def _token_ok(self, addr, u, token):
        if u["token"] is not None:
            return secrets.compare_digest(u["token"], token)
        # the token the stack accepts for this user (its introspection
        # endpoint, as Dovecot asks it)
        try:
            body = urllib.parse.urlencode({"token": token}).encode()
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/introspect" % self.stack.oauth_port,
                    data=body, timeout=10) as r:
                doc = json.loads(r.read())
        except (OSError, ValueError):
            return False
        return bool(doc.get("active")) and \
            str(doc.get("username", "")).lower() == addr

    # --------------------------------------------------------- counters

    def _now(self):
        return time.time()

    def _time_of(self, msg):
        if self.clock == "date" and msg.get("Date"):
            try:
                return email.utils.parsedate_to_datetime(
                    msg["Date"]).timestamp()
            except (TypeError, ValueError):
                pass
        return self._now()

    def _session_start(self, addr):
        with self.lock:
            st, u = self.state[addr], self.users[addr]
            if u["max_sessions"] is not None and \
                    st["live"] >= u["max_sessions"]:
                return False
            st["live"] += 1
            return True

    def _session_end(self, addr):
        with self.lock:
            self.state[addr]["live"] -= 1

    def _window(self, sends, when, span):
        return [s for s in sends if when - span < s["time"] <= when]

    def _external(self, tenant, rcpts):
        doms = self.tenants[tenant]["domains"]
        return sum(1 for r in rcpts
                   if r.rpartition("@")[2].lower() not in doms)

    def _admit(self, addr, rcpts, when, sid):
        """The reply refusing a send of len(rcpts) recipients at `when`,
        or None when every limit allows it."""
        with self.lock:
            u, st = self.users[addr], self.state[addr]
            day = self._window(st["sends"], when, DAY)
            over = (u["messages_24h"] is not None and
                    len(day) + 1 > u["messages_24h"]) or \
                (u["recipients_24h"] is not None and
                 sum(len(s["rcpts"]) for s in day) + len(rcpts) >
                 u["recipients_24h"])
            if self.provider in ("gmail", "workspace"):
                return GMAIL_LIMIT % sid if over else None
            if u["per_minute"] is not None and \
                    len(self._window(st["sends"], when, MINUTE)) + 1 > \
                    u["per_minute"]:
                return MS_THREADS
            if over:
                return MS_QUOTA % "FAKE.outlook.office365.com"
            t = u["tenant"]
            if t is not None:
                used = sum(n for tm, n in self.tenant_sends[t]
                           if when - DAY < tm <= when)
                if used + self._external(t, rcpts) > \
                        self.tenants[t]["external_24h"]:
                    return MS_TENANT
            return None

    def _accepted(self, addr, rcpts, when, message_id):
        with self.lock:
            self.state[addr]["sends"].append(
                {"time": when, "rcpts": rcpts,
                 "message_id": (message_id or "").strip()})
            t = self.users[addr]["tenant"]
            if t is not None:
                self.tenant_sends[t].append((when,
                                             self._external(t, rcpts)))

    def _refusal(self, addr, reply, at, when=None):
        code, enh = _code(reply)
        if when is None and self.clock == "real":
            when = self._now()
        with self.lock:
            st = self.state.get(addr)
            if st is not None:
                st["refusals"].append({"time": self._now(), "when": when,
                                       "code": code, "enhanced": enh,
                                       "text": reply, "at": at})

    def _verb(self, addr, verb):
        with self.lock:
            st = self.state.get(addr)
            if st is not None:
                st["verbs"].append(verb)

    def _append_sent(self, addr, data, when):
        """The provider's own copy in Sent (as that user, on the stack)."""
        with self.stack.imap(addr) as c:
            typ, resp = c.append('"Sent"', "(\\Seen)",
                                 imaplib.Time2Internaldate(when), data)
            if typ != "OK":
                raise OSError("APPEND to Sent for %s: %r" % (addr, resp))

    # ------------------------------------------------------ assertions

    def sends(self, u):
        """Accepted sends of user u, oldest first: dicts with time (epoch
        seconds, by the fake's clock), rcpts and message_id."""
        with self.lock:
            return [dict(s) for s in self.state[self._addr(u)]["sends"]]

    def refusals(self, u):
        """Refusals given to user u: dicts with time (real), when (the
        refused send's time by the fake's clock: at DATA, or any refusal
        with clock "real"; else None), code, enhanced, text and at (AUTH,
        MAIL or DATA)."""
        with self.lock:
            return [dict(r) for r in self.state[self._addr(u)]["refusals"]]

    def verbs(self, u):
        """Every command verb of user u's sessions (from their start)."""
        with self.lock:
            return list(self.state[self._addr(u)]["verbs"])

    def in_window(self, u, when=None, span=DAY):
        """Sends of user u in the rolling window of span seconds ending at
        when (default: now by the fake's clock, or the last send's time
        for clock "date")."""
        with self.lock:
            sends = self.state[self._addr(u)]["sends"]
            if when is None:
                when = self._now() if self.clock == "real" or not sends \
                    else sends[-1]["time"]
            return len(self._window(sends, when, span))

    def frees_at(self, u):
        """When user u's 24-hour message window next frees a send (the
        oldest send in the window + 24 h), by the fake's clock; None when
        it holds none."""
        with self.lock:
            sends = self.state[self._addr(u)]["sends"]
            if not sends:
                return None
            last = sends[-1]["time"]
            day = self._window(sends, last, DAY)
            return day[0]["time"] + DAY if day else None
