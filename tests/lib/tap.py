"""tap.py - the smallest test harness the integration tests share.

A test file registers functions with @test and calls main(); each function
is one test and prints one TAP line ("ok N - name", "not ok N - name",
"ok N - name # SKIP why").  tests/run.py runs every test file and adds up
the lines.  A test fails by raising (assert, or fail()); it is skipped only
by raising Skip, which a test must never do for a feature that exists.

Tests run in file order; a failing test does not stop the others.
"""
import os
import sys
import time
import traceback

_tests = []


class Skip(Exception):
    """Raise to report a test as skipped, with the reason as message."""


def test(fn):
    """Register fn as a test; its name is the function name."""
    _tests.append(fn)
    return fn


def fail(msg):
    raise AssertionError(msg)


def eq(got, want, what=""):
    """Assert got == want with a message that shows both."""
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what or "value", got, want))


def main():
    only = os.environ.get("TAP_ONLY")
    tests = [t for t in _tests if not only or t.__name__ == only]
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for n, fn in enumerate(tests, 1):
        name = fn.__name__
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (n, name, e), flush=True)
            continue
        except Exception:  # noqa: BLE001 - every error is a test failure
            failed += 1
            print("not ok %d - %s" % (n, name), flush=True)
            for line in traceback.format_exc().rstrip().splitlines():
                print("#   " + line, flush=True)
            continue
        took = time.monotonic() - t0
        print("ok %d - %s%s" % (n, name, " # %.1f s" % took if took >= 5
                                 else ""), flush=True)
    sys.exit(1 if failed else 0)
