"""fakegmail.py - a FAKE Gmail IMAP front, named as such: a TLS proxy in
front of the local stack's real Dovecot that adds what only Gmail has,
its IMAP extension X-GM-EXT-1 (folders are labels).  We cannot run Gmail,
and Dovecot has no labels; everything else (LOGIN, LIST, SELECT, SEARCH,
FETCH, IDLE, MOVE, ...) is Dovecot's own answer, passed through unchanged.

What it plays:
  - X-GM-EXT-1 is added to every CAPABILITY the server announces;
  - UID STORE set -X-GM-LABELS[.SILENT] (\\Inbox), in INBOX: the message
    leaves the Inbox label and stays in All Mail.  Played as a UID MOVE to
    the folder given as all_mail (the test creates it);
  - UID STORE set +/-X-GM-LABELS[.SILENT] (\\Important): played as the
    keyword $Important;
  - any other label, or several in one command: BAD (not played).

Every client command (credentials never) is recorded in self.commands as
(verb, rest) after the tag, e.g. ("UID STORE", "7 -X-GM-LABELS.SILENT
(\\Inbox)"), so a test can tell which commands the client chose.

    with FakeGmail(stack, all_mail="AllMail") as g:
        ... point an inbox's IMAP at 127.0.0.1:g.port ...
"""
import re
import socket
import ssl
import threading

from loopback import LoopbackServer

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n$")
_STORE = re.compile(
    rb"^(\S+) UID STORE (\S+) ([+-])X-GM-LABELS(\.SILENT)? \((.*)\)\r?\n$",
    re.I)
_LABEL = re.compile(rb'"((?:[^"\\]|\\.)*)"|([^\s"()]+)')


def _labels(raw):
    out = []
    for m in _LABEL.finditer(raw):
        if m.group(1) is not None:
            out.append(re.sub(rb"\\(.)", rb"\1", m.group(1)).decode())
        else:
            out.append(m.group(2).decode())
    return out


class _Conn:
    def __init__(self, fake, client):
        self.fake = fake
        self.client = client
        up = socket.create_connection((fake.stack.host,
                                       fake.stack.imaps_port), timeout=30)
        ctx = ssl.create_default_context(cafile=fake.stack.ca_file)
        self.server = ctx.wrap_socket(up, server_hostname=fake.stack.host)
        self.cin = client.makefile("rb")
        self.sin = self.server.makefile("rb")
        self.lock = threading.Lock()  # writes to the client
        self.selected = None
        self.auth_next = False

    def to_client(self, data):
        with self.lock:
            self.client.sendall(data)

    def run(self):
        t = threading.Thread(target=self.server_to_client, daemon=True)
        t.start()
        try:
            self.client_to_server()
        except (OSError, ValueError):
            pass
        finally:
            for s in (self.server, self.client):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            t.join(5)
            for s in (self.server, self.client):
                s.close()

    def copy_literal(self, src, dst, line):
        m = _LITERAL.search(line)
        if m:
            n = int(m.group(1))
            data = src.read(n)
            dst(data)
            return len(data) == n
        return False

    def record(self, line):
        if self.auth_next:  # the SASL response: credentials
            self.auth_next = False
            return
        parts = line.rstrip(b"\r\n").split(b" ", 3)
        if len(parts) < 2:
            return
        verb = parts[1].upper().decode("ascii", "replace")
        rest = parts[2:]
        if verb == "UID" and rest:
            verb = "UID " + rest[0].upper().decode("ascii", "replace")
            rest = rest[1:]
        if verb in ("LOGIN", "AUTHENTICATE"):
            self.auth_next = verb == "AUTHENTICATE" and len(rest) == 1
            rest = []
        if verb in ("SELECT", "EXAMINE") and rest:
            self.selected = rest[0].strip(b'"').decode("utf-8", "replace")
        with self.fake.lock:
            self.fake.commands.append(
                (verb, b" ".join(rest).decode("utf-8", "replace")))
            if verb == "UID STORE":  # UIDs mean something per folder
                self.fake.store_folders.append(self.selected or "")

    def client_to_server(self):
        while True:
            line = self.cin.readline()
            if not line:
                return
            self.record(line)
            m = _STORE.match(line)
            if m:
                self.server.sendall(self.play_labels(m))
                continue
            self.server.sendall(line)
            while self.copy_literal(self.cin, self.server.sendall, line):
                line = self.cin.readline()  # the rest of the command
                if not line:
                    return
                self.server.sendall(line)

    def play_labels(self, m):
        tag, uids, sign, silent, raw = m.groups()
        labels = _labels(raw)
        silent = b".SILENT" if silent else b""
        if labels == ["\\Inbox"] and sign == b"-" and \
                (self.selected or "").upper() == "INBOX":
            return b"%s UID MOVE %s \"%s\"\r\n" % (
                tag, uids, self.fake.all_mail.encode())
        if labels == ["\\Important"]:
            return b"%s UID STORE %s %sFLAGS%s ($Important)\r\n" % (
                tag, uids, sign, silent)
        # not played: let the server refuse a command it cannot know
        return b"%s X-FAKEGMAIL-UNPLAYED\r\n" % tag

    def server_to_client(self):
        try:
            while True:
                line = self.sin.readline()
                if not line:
                    return
                if line.startswith(b"* CAPABILITY ") or \
                        b"[CAPABILITY " in line:
                    line = re.sub(rb"(\* CAPABILITY [^\r\n]*?|\[CAPABILITY "
                                  rb"[^\]]*)(?=\]|\r?\n)",
                                  rb"\1 X-GM-EXT-1", line, count=1)
                self.to_client(line)
                while self.copy_literal(self.sin, self.to_client, line):
                    line = self.sin.readline()
                    if not line:
                        return
                    self.to_client(line)
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeGmail(LoopbackServer):
    def __init__(self, stack, all_mail="AllMail"):
        self.stack = stack
        self.all_mail = all_mail
        self.commands = []
        self.store_folders = []  # the selected folder of each UID STORE
        self.lock = threading.Lock()
        LoopbackServer.__init__(self, stack)

    def serve(self, c):
        try:
            c = self.ctx.wrap_socket(c, server_side=True)
            _Conn(self, c).run()
        except (OSError, ssl.SSLError):
            c.close()

    def labels_commands(self):
        """The client's X-GM-LABELS stores as (uids, sign, [labels],
        folder): the folder selected when it was sent, since a UID names a
        message only within its folder."""
        out = []
        with self.lock:
            cmds = list(self.commands)
            folders = list(self.store_folders)
        stores = [rest for verb, rest in cmds if verb == "UID STORE"]
        for rest, folder in zip(stores, folders):
            m = re.match(r"(\S+) ([+-])X-GM-LABELS(?:\.SILENT)? \((.*)\)$",
                         rest, re.I)
            if m:
                out.append((m.group(1), m.group(2),
                            _labels(m.group(3).encode()), folder))
        return out
