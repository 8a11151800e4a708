#!/usr/bin/env python3
"""run.py - coldseq's one test runner.

Runs every unit test binary (cmocka, TAP output) and every integration test
file (tests/**/test_*.py, TAP through tests/lib/tap.py), in parallel, each
with a time limit, and prints as its last line

    N passed, N failed, N skipped

Sanitizer reports are collected through ASAN_OPTIONS/UBSAN_OPTIONS log_path
into one folder, so a report from a coldseq process that a test started
counts as a failure even when the test itself passed.  Exit status is 0 only
when nothing failed.
"""
import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OK = re.compile(r"^(not )?ok\b\s*\d*\s*(?:-\s*)?(.*)$")


def discover(unit_dir, pattern):
    progs = []
    for path in sorted(glob.glob(os.path.join(unit_dir, "unit_*"))):
        if os.access(path, os.X_OK) and not path.endswith((".o", ".d")):
            progs.append(("unit", path))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "**", "test_*.py"),
                                 recursive=True)):
        progs.append(("integ", path))
    if pattern:
        progs = [p for p in progs if re.search(pattern, p[1])]
    return progs


def run_one(kind, path, env, timeout):
    cmd = [path] if kind == "unit" else [sys.executable, path]
    start = time.monotonic()
    # its own process group: on a timeout, SIGINT reaches the test (its
    # finally blocks stop the mail stack) and every coldseq it started
    # (a graceful stop), then SIGKILL whatever is left: nothing outlives
    # the run
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out = proc.communicate(timeout=timeout)[0].decode("utf-8", "replace")
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:  # a daemon of the test's may still hold the pipe
            raw = proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            raw = b""
        out = raw.decode("utf-8", "replace")
        out += "\n# runner: killed after %d s\n" % timeout
        rc = -1
    took = time.monotonic() - start
    passed = failed = skipped = 0
    for line in out.splitlines():
        m = OK.match(line.strip())
        if not m:
            continue
        if m.group(1):
            failed += 1
        elif "# SKIP" in line:
            skipped += 1
        else:
            passed += 1
    if rc != 0 and failed == 0:
        failed = 1  # crashed, timed out, or failed outside any test
    return passed, failed, skipped, took, out, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unit-dir", default=os.path.join(ROOT, "build/asan/tests"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/asan/coldseq"))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("-k", "--match", help="only programs whose path matches")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every program's output, not only failures")
    args = ap.parse_args()

    logdir = os.path.join(ROOT, "build/asan/sanitizer-logs")
    os.makedirs(logdir, exist_ok=True)
    for f in glob.glob(os.path.join(logdir, "*")):
        os.unlink(f)
    env = dict(os.environ)
    env["COLDSEQ_BIN"] = os.path.abspath(args.bin)
    env["COLDSEQ_SRC"] = ROOT
    env["PYTHONPATH"] = os.path.join(ROOT, "tests", "lib")
    env["CMOCKA_MESSAGE_OUTPUT"] = "TAP"
    env["ASAN_OPTIONS"] = ("log_path=%s/asan:detect_leaks=1:abort_on_error=0"
                           % logdir)
    env["UBSAN_OPTIONS"] = ("log_path=%s/ubsan:print_stacktrace=1:"
                            "halt_on_error=1" % logdir)
    env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(
        ROOT, "tests", "lsan.supp")
    env.pop("COLDSEQ_HOME", None)
    # No test may ask a real DNS server: where a test sets no dns.servers
    # of its own, coldseq asks a loopback port where nothing answers
    # (the discard port: refused at once).
    env["COLDSEQ_DNS_SERVERS"] = "127.0.0.1:9"

    progs = discover(args.unit_dir, args.match)
    if not progs:
        print("no test programs found (did the build run?)")
        print("0 passed, 1 failed")
        return 1
    lock = threading.Lock()
    totals = [0, 0, 0]
    t0 = time.monotonic()

    def job(p):
        kind, path = p
        res = run_one(kind, path, env, args.timeout)
        passed, failed, skipped, took, out, rc = res
        rel = os.path.relpath(path, ROOT)
        with lock:
            totals[0] += passed
            totals[1] += failed
            totals[2] += skipped
            word = "FAIL" if failed else "ok  "
            print("%s %-44s %3d passed %3d failed %3d skipped %6.1fs"
                  % (word, rel, passed, failed, skipped, took), flush=True)
            if failed or args.verbose:
                for line in out.rstrip().splitlines():
                    print("    | " + line)
                if failed:
                    print("    | exit status %d" % rc, flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        list(ex.map(job, progs))

    reports = sorted(glob.glob(os.path.join(logdir, "*")))
    for rep in reports:
        print("sanitizer report %s:" % os.path.relpath(rep, ROOT))
        with open(rep, errors="replace") as f:
            for line in f.read().rstrip().splitlines()[:80]:
                print("    | " + line)
        totals[1] += 1
    print("suite took %.1f s" % (time.monotonic() - t0))
    line = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        line += ", %d skipped" % totals[2]
    print(line)
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
