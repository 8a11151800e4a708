"""fakesmtp.py - a FAKE SMTP server for fault injection in tests.

It plays faults a real server will not produce on demand (421 at the
greeting, a dropped connection after the final dot, a reply slower than the
client's timeout, a slow answer to the final dot, an over-long or binary reply line, a certificate for the
wrong host).  Everything a real server can do is tested against the real
Postfix of tests/mailstack instead.

    with FakeSMTP("drop_after_dot") as f:
        ... connect to 127.0.0.1:f.port with f.ca_file as the trusted CA ...

It speaks implicit TLS (like port 465) with a certificate from its own
throwaway CA, accepts any AUTH PLAIN/LOGIN, and records the commands it
received in f.commands.  rcpt_replies={address: reply line} answers RCPT
for that recipient with the line instead (a recipient the server always
defers or refuses), whatever the scenario.  ehlo=("8BITMIME", ...) adds
keywords to the EHLO reply (by default it offers only AUTH and
ENHANCEDSTATUSCODES).

"xoauth2_challenge" also offers AUTH XOAUTH2 and answers it with the
error challenge of RFC 7628 3.2.2 (334 and the base64 of the JSON
challenge=, Google's by default); the client's answer to it (an empty
line, "") lands in commands, and auth_final (Gmail's 535 5.7.8 by
default) is the final reply.  auth_reply= (any scenario) answers every
AUTH with that line at once; mail_reply= answers MAIL with it: a provider
answer the real Postfix does not give (454 4.7.0, 535 5.7.139, 550 5.4.5).
"""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

SCENARIOS = ("ok", "greet421", "mail421", "rcpt452", "drop_after_dot",
             "slow_reply", "slow_dot", "long_reply", "binary_reply",
             "wrong_host", "xoauth2_challenge")

GOOGLE_CHALLENGE = {"status": "401", "schemes": "Bearer",
                    "scope": "https://mail.google.com/"}
GOOGLE_AUTH_FINAL = ("535-5.7.8 Username and Password not accepted. For "
                     "more information, go to\r\n535 5.7.8  "
                     "https://support.google.com/mail/?p=BadCredentials "
                     "x1-20020a05600c000000b00000000000000sm1 - gsmtp")


def _make_certs(d, host_san):
    def run(*a):
        subprocess.run(a, cwd=d, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
        "/CN=coldseq fake smtp CA", "-keyout", "ca.key", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
        "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=fake",
        "-keyout", "srv.key", "-out", "srv.csr")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % host_san)
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt",
        "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
        "srv.ext", "-out", "srv.crt")


class FakeSMTP:
    def __init__(self, scenario, slow_seconds=6, rcpt_replies=None, ehlo=(),
                 challenge=None, auth_final=GOOGLE_AUTH_FINAL,
                 auth_reply=None, mail_reply=None):
        if scenario not in SCENARIOS:
            raise ValueError("unknown scenario %s" % scenario)
        self.scenario = scenario
        self.rcpt_replies = {k.lower(): v for k, v in
                             (rcpt_replies or {}).items()}
        self.slow = slow_seconds
        self.ehlo = list(ehlo)
        self.challenge = challenge or GOOGLE_CHALLENGE
        self.auth_final = auth_final
        self.auth_reply = auth_reply
        self.mail_reply = mail_reply
        self.commands = []
        self.messages = []
        self.dir = tempfile.mkdtemp(prefix="coldseq-fake-")
        san = ("DNS:wrong.example" if scenario == "wrong_host"
               else "IP:127.0.0.1,DNS:localhost")
        _make_certs(self.dir, san)
        self.ca_file = os.path.join(self.dir, "ca.crt")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(self.dir, "srv.crt"),
                                 os.path.join(self.dir, "srv.key"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _serve(self):
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                raw.settimeout(30)
                conn = self.ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            try:
                self._session(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def _session(self, c):
        f = c.makefile("rb")

        def send(line):
            c.sendall(line if isinstance(line, bytes) else
                      line.encode() + b"\r\n")

        if self.scenario == "greet421":
            send("421 4.3.2 Service not available, closing transmission "
                 "channel")
            return
        send("220 fake.example ESMTP coldseq fake server")
        while True:
            line = f.readline(100000)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            self.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                send("250-fake.example")
                send("250-AUTH PLAIN LOGIN" +
                     (" XOAUTH2" if self.scenario == "xoauth2_challenge"
                      else ""))
                for kw in self.ehlo:
                    send("250-" + kw)
                send("250 ENHANCEDSTATUSCODES")
            elif verb == "AUTH":
                parts = cmd.split(" ")
                if self.auth_reply:
                    send(self.auth_reply)
                    continue
                if parts[1].upper() == "XOAUTH2":
                    if len(parts) < 3:
                        send("334 ")
                        self.commands.append(
                            f.readline().decode("latin-1").rstrip("\r\n"))
                    send("334 " + base64.b64encode(json.dumps(
                        self.challenge).encode()).decode())
                    self.commands.append(
                        f.readline().decode("latin-1").rstrip("\r\n"))
                    send(self.auth_final)
                    continue
                if parts[1].upper() == "LOGIN":
                    send("334 VXNlcm5hbWU6")
                    f.readline()
                    send("334 UGFzc3dvcmQ6")
                    f.readline()
                elif len(parts) < 3:
                    send("334 ")
                    f.readline()
                send("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                if self.mail_reply:
                    send(self.mail_reply)
                    continue
                if self.scenario == "mail421":
                    send("421 4.7.0 Try again later, closing connection. "
                         "(MAIL)")
                    return
                if self.scenario == "slow_reply":
                    time.sleep(self.slow)
                send("250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = cmd.partition("<")[2].partition(">")[0].lower()
                if addr in self.rcpt_replies:
                    send(self.rcpt_replies[addr])
                elif self.scenario == "rcpt452":
                    send("452 4.5.3 Your message has too many recipients.")
                elif self.scenario == "long_reply":
                    send("550 5.1.1 " + "x" * 20000 + " no such user")
                elif self.scenario == "binary_reply":
                    send(b"550 5.1.1 bad\x01\x02\xff\x00user\x1b[31m red\r\n")
                else:
                    send("250 2.1.5 Ok")
            elif verb == "DATA":
                send("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    dl = f.readline(100000)
                    if not dl or dl in (b".\r\n", b".\n"):
                        break
                    body.append(dl)
                self.messages.append(b"".join(body))
                if self.scenario == "drop_after_dot":
                    c.shutdown(socket.SHUT_RDWR)
                    return
                if self.scenario == "slow_dot":  # slow, not too slow
                    time.sleep(self.slow)
                send("250 2.0.0 Ok: queued as FAKE1")
            elif verb == "RSET":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")
