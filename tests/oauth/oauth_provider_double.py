"""oauth_provider_double.py - TEST DOUBLE of an OAuth2 provider (Microsoft
identity platform and Google style endpoints) for coldseq's tests only.

    from oauth_provider_double import OAuthProviderDouble
    with OAuthProviderDouble(stack) as p:
        coldseq config set oauth.microsoft.token_url p.url("/{tenant}/token")
        ...
        p.approve(user_code, "user1@example.test")    # the user signs in

It implements, on 127.0.0.1 only (plain http: coldseq allows that for a
loopback host only):

  POST /{tenant}/devicecode    device authorization (RFC 8628)
  POST /{tenant}/token         device_code, authorization_code (PKCE S256
  POST /google/token           checked), refresh_token grants (RFC 6749)
  GET  /google/auth            authorization endpoint: "signs in" the
                               login_hint user at once and answers 302 to
                               redirect_uri with code and state (or with
                               error=access_denied when told to refuse)

a refresh grant can be held back (refresh_delay seconds, or until
release_refresh()) to play a slow token endpoint, and access tokens can be
dropped at once (drop), with expiry and revocation: device codes and authorization codes expire
and are single-use, refresh tokens can be revoked (revoke(user): the
user withdrew consent) and then answer invalid_grant, and every access
token it issues is made valid in the mail stack with stack.token() (so
Dovecot IMAP and, through Dovecot SASL, Postfix submission accept it for
XOAUTH2) and withdrawn with stack.revoke() when it expires (after
`live_s`, which may be shorter than the expires_in it announces, to play
a provider that drops a token early) or is revoked.

`unusable` plays a mailbox that refuses tokens the provider grants (SMTP
AUTH disabled for it, the app missing a scope): while it is true the
access tokens it issues are not made valid in the stack, so the servers
refuse even a fresh one.  `refresh_attempts(user)` counts the refresh
grants asked for, granted or not.

It is not an OAuth server: no consent screen, no real client
authentication beyond comparing client_id (and Google's client_secret),
no scopes enforced.  Everything it ever issued is kept in `issued` so a
test can grep for leaks, and every grant in `grants`.
"""
import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class OAuthProviderDouble:
    def __init__(self, stack, ms_client="ms-client-id",
                 google_client="google-client-id",
                 google_secret="google-client-secret", expires_in=3600,
                 live_s=None, rotate=False, interval=1, slow_down_once=False):
        self.stack = stack
        self.ms_client = ms_client
        self.google_client = google_client
        self.google_secret = google_secret
        self.expires_in = expires_in      # announced to the client
        self.live_s = live_s              # real life in the stack (None:
        self.rotate = rotate              # expires_in); rotate refresh
        self.interval = interval          # tokens on each refresh
        self.slow_down_once = slow_down_once
        self.refuse_next_auth = False
        self.unusable = False             # issue tokens the stack refuses
        self.refresh_delay = 0            # hold refresh answers (seconds)
        self.released = threading.Event()  # ... or until release_refresh
        self.refreshing = 0               # refresh requests held now
        self.lock = threading.Lock()
        self.devices = {}     # device_code -> dict
        self.codes = {}       # auth code -> dict
        self.refresh = {}     # refresh token -> dict(user, client, live)
        self.access = {}      # access token -> dict(user, expires)
        self.issued = []      # every secret string handed out
        self.grants = []      # (grant_type, user or None, outcome)
        self.refreshed_at = []  # time.monotonic() of each good refresh
        self.tenants = []     # tenants seen in paths
        self.server = None
        self.thread = None
        self.reaper = None
        self.stopping = threading.Event()

    # ---------------------------------------------------------- lifecycle

    def start(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "coldseq-oauth-provider-double/1"

            def log_message(self, fmt, *args):  # quiet: tests grep output
                pass

            def send_json(self, code, doc, headers=()):
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def form(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(n, 65536)).decode()
                return {k: v[0] for k, v in
                        urllib.parse.parse_qs(raw).items()}

            def do_POST(self):  # noqa: N802 - http.server's naming
                path = urllib.parse.urlsplit(self.path).path
                parts = path.strip("/").split("/")
                f = self.form()
                if len(parts) == 2 and parts[1] == "devicecode":
                    double.tenants.append(parts[0])
                    code, doc = double.device_start(f)
                elif len(parts) == 2 and parts[1] == "token":
                    if parts[0] != "google":
                        double.tenants.append(parts[0])
                    if f.get("grant_type") == "refresh_token" and \
                            double.refresh_delay > 0:
                        self.held_refresh(parts[0], f)
                        return
                    code, doc = double.token(parts[0], f)
                else:
                    code, doc = 404, {"error": "not_found"}
                self.send_json(code, doc)

            def held_refresh(self, where, f):
                """A slow token endpoint: the answer waits refresh_delay
                seconds (or for release_refresh), and the request counts
                in `refreshing` until it is answered."""
                with double.lock:
                    double.refreshing += 1
                try:
                    double.released.wait(double.refresh_delay)
                    code, doc = double.token(where, f)
                    self.send_json(code, doc)
                finally:
                    with double.lock:
                        double.refreshing -= 1

            def do_GET(self):  # noqa: N802
                u = urllib.parse.urlsplit(self.path)
                if u.path != "/google/auth":
                    self.send_json(404, {"error": "not_found"})
                    return
                q = {k: v[0] for k, v in
                     urllib.parse.parse_qs(u.query).items()}
                loc = double.authorize(q)
                if loc is None:
                    self.send_json(400, {"error": "invalid_request"})
                    return
                self.send_response(302)
                self.send_header("Location", loc)
                self.send_header("Content-Length", "0")
                self.end_headers()

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        self.reaper = threading.Thread(target=self._reap, daemon=True)
        self.reaper.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    # ------------------------------------------------------------ tokens

    def _new(self, prefix, n=24):
        s = prefix + secrets.token_urlsafe(n)
        self.issued.append(s)
        return s

    def _issue(self, user, client, refresh=None):
        """An access token (valid in the stack) and, when refresh is None,
        a new refresh token.  Caller holds the lock."""
        access = self._new("at-")
        live = self.live_s if self.live_s is not None else self.expires_in
        self.access[access] = {"user": user, "dies": time.time() + live}
        if not self.unusable:
            self.stack.token(access, user)
        doc = {"access_token": access, "token_type": "Bearer",
               "expires_in": self.expires_in}
        if refresh is None or self.rotate:
            rt = self._new("rt-")
            self.refresh[rt] = {"user": user, "client": client,
                                "live": True}
            if refresh is not None:  # rotated: the old one is spent
                self.refresh[refresh]["live"] = False
            doc["refresh_token"] = rt
        return doc

    def _reap(self):
        """Withdraw access tokens from the stack when they die."""
        while not self.stopping.wait(0.1):
            now = time.time()
            with self.lock:
                dead = [t for t, a in self.access.items()
                        if a["dies"] <= now and not a.get("gone")]
                for t in dead:
                    self.access[t]["gone"] = True
            for t in dead:
                self.stack.revoke(t)

    def revoke(self, user):
        """The user withdrew consent: every refresh and access token of
        user stops working at once."""
        with self.lock:
            for r in self.refresh.values():
                if r["user"] == user:
                    r["live"] = False
            dead = [t for t, a in self.access.items()
                    if a["user"] == user and not a.get("gone")]
            for t in dead:
                self.access[t]["gone"] = True
                self.access[t]["dies"] = 0
        for t in dead:
            self.stack.revoke(t)

    def release_refresh(self):
        """Answer the held refresh grants now, and the next ones at once."""
        self.refresh_delay = 0
        self.released.set()

    def drop(self, tokens):
        """The provider drops these access tokens early: they stop working
        in the stack at once."""
        with self.lock:
            for t in tokens:
                self.access[t]["gone"] = True
                self.access[t]["dies"] = 0
        for t in tokens:
            self.stack.revoke(t)

    def tokens_of(self, user):
        """The access tokens issued to user (live or not)."""
        with self.lock:
            return [t for t, a in self.access.items() if a["user"] == user]

    def refresh_attempts(self, user):
        """Refresh grants asked for user's refresh tokens, whatever the
        answer."""
        return sum(1 for g, u, _ in self.grants
                   if g == "refresh_token" and u == user)

    def refreshes(self, user=None):
        return sum(1 for g, u, ok in self.grants
                   if g == "refresh_token" and ok == "ok" and
                   (user is None or u == user))

    # ------------------------------------------------------- device code

    def device_start(self, f):
        if f.get("client_id") != self.ms_client:
            return 400, {"error": "invalid_client"}
        with self.lock:
            dc = self._new("dc-")
            uc = "%04d-%04d" % (secrets.randbelow(10000),
                                secrets.randbelow(10000))
            self.devices[dc] = {"user_code": uc, "user": None,
                                "expires": time.time() + 300,
                                "polls": 0, "used": False,
                                "declined": False}
        return 200, {"device_code": dc, "user_code": uc,
                     "verification_uri": self.url("/device"),
                     "expires_in": 300, "interval": self.interval,
                     "message": "To sign in, open %s and enter the code %s"
                     % (self.url("/device"), uc)}

    def approve(self, user_code, user, decline=False):
        """The user entered user_code and signed in as user (or said no)."""
        with self.lock:
            for d in self.devices.values():
                if d["user_code"] == user_code:
                    d["user"] = user
                    d["declined"] = decline
                    return
        raise KeyError("no device code %s" % user_code)

    # --------------------------------------------------- authorization

    def authorize(self, q):
        if q.get("client_id") != self.google_client or \
                q.get("response_type") != "code" or \
                q.get("code_challenge_method") != "S256" or \
                not q.get("code_challenge") or not q.get("state") or \
                not q.get("redirect_uri", "").startswith("http://127.0.0.1:"):
            return None
        redirect = q["redirect_uri"]
        if self.refuse_next_auth:
            self.refuse_next_auth = False
            return redirect + "?" + urllib.parse.urlencode(
                {"error": "access_denied", "state": q["state"]})
        with self.lock:
            code = self._new("ac-")
            self.codes[code] = {"user": q.get("login_hint"),
                                "challenge": q["code_challenge"],
                                "redirect": redirect,
                                "expires": time.time() + 120,
                                "used": False}
        return redirect + "?" + urllib.parse.urlencode(
            {"code": code, "state": q["state"], "scope": q.get("scope")})

    # ------------------------------------------------------------ token

    def token(self, where, f):
        grant = f.get("grant_type")
        google = where == "google"
        client = self.google_client if google else self.ms_client
        if f.get("client_id") != client or \
                (google and f.get("client_secret") != self.google_secret):
            self.grants.append((grant, None, "invalid_client"))
            return 401, {"error": "invalid_client",
                         "error_description": "unknown client"}
        with self.lock:
            if grant == DEVICE_GRANT:
                return self._device_grant(f)
            if grant == "authorization_code":
                return self._code_grant(f, client)
            if grant == "refresh_token":
                return self._refresh_grant(f, client)
        return 400, {"error": "unsupported_grant_type"}

    def _device_grant(self, f):
        d = self.devices.get(f.get("device_code"))
        if d is None or d["used"]:
            self.grants.append((DEVICE_GRANT, None, "invalid_grant"))
            return 400, {"error": "invalid_grant"}
        d["polls"] += 1
        if time.time() > d["expires"]:
            return 400, {"error": "expired_token"}
        if d["declined"]:
            d["used"] = True
            self.grants.append((DEVICE_GRANT, d["user"], "declined"))
            return 400, {"error": "authorization_declined"}
        if d["user"] is None:
            return 400, {"error": "authorization_pending"}
        if self.slow_down_once and not d.get("slowed"):
            d["slowed"] = True
            return 400, {"error": "slow_down"}
        d["used"] = True
        self.grants.append((DEVICE_GRANT, d["user"], "ok"))
        return 200, self._issue(d["user"], self.ms_client)

    def _code_grant(self, f, client):
        c = self.codes.get(f.get("code"))
        verifier = f.get("code_verifier", "")
        if c is None or c["used"] or time.time() > c["expires"]:
            self.grants.append(("authorization_code", None, "invalid_grant"))
            return 400, {"error": "invalid_grant",
                         "error_description": "code unknown, used or "
                         "expired"}
        c["used"] = True
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != c["challenge"] or \
                f.get("redirect_uri") != c["redirect"]:
            self.grants.append(("authorization_code", c["user"],
                                "pkce_mismatch"))
            return 400, {"error": "invalid_grant",
                         "error_description": "PKCE verifier or "
                         "redirect_uri does not match"}
        self.grants.append(("authorization_code", c["user"], "ok"))
        return 200, self._issue(c["user"], client)

    def _refresh_grant(self, f, client):
        rt = f.get("refresh_token")
        r = self.refresh.get(rt)
        if r is None or not r["live"] or r["client"] != client:
            self.grants.append(("refresh_token",
                                r["user"] if r else None, "invalid_grant"))
            return 400, {"error": "invalid_grant",
                         "error_description": "Token has been expired or "
                         "revoked."}
        self.grants.append(("refresh_token", r["user"], "ok"))
        self.refreshed_at.append(time.monotonic())
        return 200, self._issue(r["user"], client, refresh=rt)
