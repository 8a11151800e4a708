"""dnsstack.py - a real authoritative DNS server (NSD) on loopback for tests.

    from dnsstack import DnsServer

    zones = {"a.test": ['@ TXT "v=spf1 ip4:192.0.2.1 -all"',
                        '@ 600 MX 10 mx1.a.test.',
                        'mx1 A 192.0.2.10']}
    with DnsServer(zones) as dns:
        ... coldseq config set dns.servers dns.servers ...

Each zone gets an SOA (MINIMUM = negative_ttl, default 60) and an NS
record, written before the caller's lines; the caller's lines are zone
file lines relative to the zone's origin, with $TTL default_ttl (300).
A reverse zone is an ordinary zone ("2.0.192.in-addr.arpa").

NSD 4 (Debian `nsd`) runs in the foreground (-d) as the current user on
127.0.0.1 at a free port, with every file in a fresh temporary directory,
response-rate limiting off (NSD's default blocks a busy test), and stops
(SIGTERM) when the `with` block ends.  A name outside every zone gets
REFUSED: that is how tests make a resolver error.  set_zones() rewrites
the zone files and restarts the server on the same port.

Attributes after start(): port, servers ("127.0.0.1:PORT", the value of
`coldseq config set dns.servers`), dir.  query(name, type) asks the
server directly (stdlib only) and returns the rcode and the answer count,
for readiness and for tests that check the zone itself.

Set DNSSTACK_KEEP=1 to keep the directory (nsd.log, zone files).
"""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

NSD = "/usr/sbin/nsd"
NSD_CHECKZONE = "/usr/sbin/nsd-checkzone"


class DnsFailed(RuntimeError):
    """NSD did not start, or a zone does not load; the message says why."""


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        port = random.randint(20000, 60000)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise DnsFailed("no free loopback port for NSD")


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28}


class DnsServer:
    """One running NSD; see the module comment."""

    def __init__(self, zones=None, default_ttl=300, negative_ttl=60,
                 keep=None):
        self.zones = dict(zones or {})
        self.default_ttl = default_ttl
        self.negative_ttl = negative_ttl
        self.keep = bool(os.environ.get("DNSSTACK_KEEP")) if keep is None \
            else keep
        self.dir = None
        self.port = None
        self.proc = None

    @property
    def servers(self):
        return "127.0.0.1:%d" % self.port

    # ------------------------------------------------------------ files

    def _zone_text(self, name, lines):
        head = [
            "$ORIGIN %s." % name,
            "$TTL %d" % self.default_ttl,
            "@ IN SOA ns.%s. hostmaster.%s. ( 1 3600 600 86400 %d )"
            % (name, name, self.negative_ttl),
            "@ IN NS ns.%s." % name,
        ]
        return "\n".join(head + list(lines)) + "\n"

    def _write(self):
        conf = [
            "server:",
            "    ip-address: 127.0.0.1@%d" % self.port,
            '    username: ""',
            '    chroot: ""',
            '    zonesdir: "%s"' % self.dir,
            '    database: ""',
            '    zonelistfile: "%s/zone.list"' % self.dir,
            '    pidfile: "%s/nsd.pid"' % self.dir,
            '    xfrdfile: "%s/xfrd.state"' % self.dir,
            '    xfrdir: "%s"' % self.dir,
            '    logfile: "%s/nsd.log"' % self.dir,
            "    server-count: 1",
            "    verbosity: 1",
            "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0",
            "remote-control:",
            "    control-enable: no",
        ]
        for i, (name, lines) in enumerate(sorted(self.zones.items())):
            fname = "z%03d.zone" % i
            path = os.path.join(self.dir, fname)
            with open(path, "w") as f:
                f.write(self._zone_text(name, lines))
            p = subprocess.run([NSD_CHECKZONE, name, path],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            if p.returncode != 0:
                raise DnsFailed("zone %s does not load:\n%s"
                                % (name, p.stdout.decode(errors="replace")))
            conf += ["zone:", "    name: %s" % name,
                     "    zonefile: %s" % fname]
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    # -------------------------------------------------------- lifecycle

    def start(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="coldseq-dns-")
        if self.port is None:
            self.port = _free_port()
        self._write()
        for stale in ("nsd.pid", "xfrd.state", "zone.list"):
            try:
                os.unlink(os.path.join(self.dir, stale))
            except FileNotFoundError:
                pass
        self.proc = subprocess.Popen(
            [NSD, "-d", "-c", os.path.join(self.dir, "nsd.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        probe = sorted(self.zones)[0] if self.zones else None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DnsFailed("nsd exited %d:\n%s\n%s" % (
                    self.proc.returncode,
                    self.proc.stderr.read().decode(errors="replace"),
                    self.log()))
            if probe is None:
                time.sleep(0.2)
                return self
            try:
                rcode, _ = self.query(probe, "SOA", timeout=0.3)
                if rcode == 0:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise DnsFailed("nsd did not answer within 15 s:\n" + self.log())

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def close(self):
        self.stop()
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def set_zones(self, zones):
        """Replace every zone and restart on the same port."""
        self.stop()
        self.zones = dict(zones)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def log(self):
        try:
            with open(os.path.join(self.dir, "nsd.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # ------------------------------------------------------------ query

    def query(self, name, qtype="A", timeout=2.0):
        """(rcode, answer count) of one UDP question to this server."""
        qid = random.randint(0, 0xFFFF)
        pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + \
            _encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(pkt, ("127.0.0.1", self.port))
            data, _ = s.recvfrom(65535)
        finally:
            s.close()
        _, flags, _, an, _, _ = struct.unpack(">HHHHHH", data[:12])
        return flags & 0xF, an
