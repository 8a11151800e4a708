#!/usr/bin/env python3
"""oauth_introspect_double.py - TEST DOUBLE of an OAuth2 token introspection
endpoint (RFC 7662), for the coldseq test mail stack only.

Dovecot's oauth2 passdb POSTs `token=<bearer token>` to /introspect; this
answers {"active": true, "username": USER} when TOKEN is in the tokens file
(a JSON object token -> user that `tests/mailstack/token` rewrites), else
{"active": false}.  The file is read on every request, so a change takes
effect for the next login.  GET /introspect?token=... answers the same.

It validates nothing else (no client authentication, no expiry, no scopes):
it is not an OAuth server and must never be used as one.  It listens on
127.0.0.1 only and logs one line per request to stderr.
"""
import argparse
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tokens", required=True,
                    help="JSON file: {token: username}")
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        server_version = "coldseq-oauth-introspect-double/1"

        def answer(self, token):
            try:
                with open(args.tokens) as f:
                    tokens = json.load(f)
            except (OSError, ValueError) as e:
                self.log_message("cannot read %s: %s", args.tokens, e)
                tokens = {}
            user = tokens.get(token) if token else None
            body = {"active": True, "username": user} if user \
                else {"active": False}
            self.log_message("token %s... -> %s",
                             (token or "")[:6], user or "inactive")
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 - http.server's naming
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/introspect":
                self.send_error(404)
                return
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(
                self.rfile.read(min(n, 65536)).decode(errors="replace"))
            self.answer((form.get("token") or [""])[0])

        def do_GET(self):  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/introspect":
                self.send_error(404)
                return
            q = urllib.parse.parse_qs(url.query)
            self.answer((q.get("token") or [""])[0])

    ThreadingHTTPServer.daemon_threads = True
    try:
        srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as e:
        print("oauth_introspect_double: cannot listen on 127.0.0.1:%d: %s"
              % (args.port, e.strerror), file=sys.stderr, flush=True)
        return 1
    print("oauth_introspect_double: listening on 127.0.0.1:%d"
          % args.port, file=sys.stderr, flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
