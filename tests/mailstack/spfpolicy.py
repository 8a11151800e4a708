"""spfpolicy.py - Debian's policyd-spf, resolving against the test's DNS.

    /usr/bin/python3 -I spfpolicy.py CONF DNS_HOST DNS_PORT LOGFILE

`up --auth` copies this file into DIR/auth/ and Postfix spawns it (as
nobody) for each connection to its SPF policy service.  It points the SPF
library's DNS layer at DNS_HOST:DNS_PORT, sends what the daemon would give
to syslog (there is none here) to LOGFILE, then runs the daemon's own
main() on CONF.  No system file is read or changed: python3-spf normally
reads /etc/resolv.conf, and only port 53 could be given there.
"""
import sys
import time

sys.dont_write_bytecode = True


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: spfpolicy.py CONF DNS_HOST DNS_PORT "
                         "LOGFILE\n")
        return 2
    conf, host, port, logfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        sys.argv[4]

    import syslog
    log = open(logfile, "a", buffering=1)

    def to_file(*args):
        log.write("%s policyd-spf: %s\n"
                  % (time.strftime("%H:%M:%S"), str(args[-1]).rstrip()))
    syslog.openlog = lambda *a, **k: None
    syslog.syslog = to_file

    import spf
    if spf.DNSLookup is getattr(spf, "DNSLookup_dnspython", None):
        import dns.resolver
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [host]
        r.port = port
        dns.resolver.default_resolver = r
    else:                       # pydns (Debian's python3-dns)
        import DNS
        DNS.Base.defaults["server"] = [host]
        DNS.Base.defaults["port"] = port
    from spf_engine.policyd_spf import main as daemon_main
    sys.argv = ["policyd-spf", conf]
    return daemon_main()


if __name__ == "__main__":
    sys.exit(main())
