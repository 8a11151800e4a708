"""The README's build commands on a machine that has nothing yet.

On a fresh machine the build libraries arrive with the deps step, and
pkg-config knows nothing of them before it.  Each test copies the work tree
(tracked files only, no build/) into a new folder, puts a pkg-config stub
first in PATH that fails until the deps step has run, replaces the deps
step (DEPS_CMD) by one that only marks it done, and runs the README's
command with -j2: the build must read its flags after deps, never before.
"""
import os
import shutil
import subprocess
import tempfile

import tap
from tap import test

SRC = os.environ.get("COLDSEQ_SRC") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
REAL_PKG_CONFIG = shutil.which("pkg-config")


def fresh_copy():
    """A new folder holding the tracked files of the work tree, as a
    clone would, plus a bin/ with the pkg-config stub."""
    top = tempfile.mkdtemp(prefix="coldseq-fresh-")
    tree = os.path.join(top, "coldseq")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=SRC, check=True,
                           capture_output=True).stdout.split(b"\0")
    for rel in files:
        if not rel:
            continue
        rel = rel.decode()
        src = os.path.join(SRC, rel)
        if not os.path.isfile(src):
            continue  # deleted in the work tree, not yet committed
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    # new files of the work tree that are not yet tracked: a clone of the
    # commit under test has them
    others = subprocess.run(["git", "ls-files", "-z", "--others",
                             "--exclude-standard"], cwd=SRC, check=True,
                            capture_output=True).stdout.split(b"\0")
    for rel in others:
        rel = rel.decode()
        if rel and os.path.isfile(os.path.join(SRC, rel)):
            dst = os.path.join(tree, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(SRC, rel), dst)
    bindir = os.path.join(top, "bin")
    os.makedirs(bindir)
    stub = os.path.join(bindir, "pkg-config")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\n"
                "# a machine whose packages are not installed yet\n"
                "[ -e %s ] || exit 1\n"
                "exec %s \"$@\"\n" % (os.path.join(top, "deps-done"),
                                      REAL_PKG_CONFIG))
    os.chmod(stub, 0o755)
    return top, tree


def make(top, tree, *goals, deps=True):
    env = dict(os.environ)
    env["PATH"] = os.path.join(top, "bin") + os.pathsep + env["PATH"]
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    # the deps step takes a moment, as apt-get does: a build started
    # beside it (-j2) would run before the libraries exist
    deps_cmd = ("sleep 1; touch %s" % os.path.join(top, "deps-done")
                if deps else "true")
    return subprocess.run(["make", "-j2", *goals, "DEPS_CMD=" + deps_cmd,
                           "DEMO_CMD=true"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=900)


@test
def demo_builds_on_the_first_run_from_nothing():
    top, tree = fresh_copy()
    try:
        r = make(top, tree, "demo")
        if r.returncode != 0:
            tap.fail("make -j2 demo failed on its first run:\n%s" %
                     (r.stdout[-3000:] + r.stderr[-3000:]))
        binary = os.path.join(tree, "coldseq")
        v = subprocess.run([binary, "--version"], capture_output=True,
                           text=True, timeout=30)
        tap.eq(v.returncode, 0, "./coldseq --version exit")
        tap.eq(v.stdout.startswith("coldseq"), True, "version line")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@test
def a_build_without_the_libraries_stops_at_once_and_says_so():
    top, tree = fresh_copy()
    try:
        r = make(top, tree, "coldseq", deps=False)
        tap.eq(r.returncode != 0, True, "make coldseq without deps fails")
        out = r.stdout + r.stderr
        if "run 'make deps' first" not in out or "sqlite3" not in out:
            tap.fail("no clear message naming the missing libraries:\n" +
                     out[-2000:])
        if "error:" in out or "undefined reference" in out:
            tap.fail("the compiler or linker ran without the libraries:\n"
                     + out[-2000:])
        tap.eq(os.path.exists(os.path.join(tree, "build", "release")),
               False, "nothing compiled")
    finally:
        shutil.rmtree(top, ignore_errors=True)


tap.main()
