"""loopback.py - the listening half shared by the named fakes (fakegmail,
fakesubmit): a socket on 127.0.0.1 (a free port), a TLS server context
with the local stack's own certificate (so coldseq verifies it with
--ca-file stack.ca_file), and a thread that hands each connection to the
subclass's serve(conn).  Used as a context manager: the listener stops at
exit."""
import os
import socket
import ssl
import threading


class LoopbackServer:
    def __init__(self, stack, backlog=16, conn_timeout=None):
        tls = os.path.join(stack.dir, "tls")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(tls, "server.crt"),
                                 os.path.join(tls, "server.key"))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.conn_timeout = conn_timeout
        self.thread = None

    def __enter__(self):
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        return False

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.conn_timeout:
                c.settimeout(self.conn_timeout)
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError
