"""Data directory and database file problems (issue 18): a data directory
the user may not read, one that is a file, an empty --data-dir, and a
coldseq.db that is empty, foreign or damaged each get a message naming
the path, and the file is never written to."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile

import tap
from tap import eq, test

BIN = os.environ.get("COLDSEQ_BIN") or os.path.join(
    os.environ.get("COLDSEQ_SRC", "."), "coldseq")
TMP = tempfile.mkdtemp(prefix="coldseq-datadir-")
os.chmod(TMP, 0o755)  # nobody may look in (to find the 0700 dir inside)


def run(*args, user=None, check=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("COLDSEQ_HOME", "COLDSEQ_KEY_FILE", "XDG_DATA_HOME")}
    e["HOME"] = os.path.join(TMP, "home")
    cmd = [BIN] + list(args)
    if user:
        cmd = ["setpriv", "--reuid=" + user, "--regid=nogroup",
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, env=e, capture_output=True, text=True,
                       timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError("coldseq %s: exit %d, want %d\nstdout: %s\n"
                             "stderr: %s" % (" ".join(args), p.returncode,
                                             check, p.stdout, p.stderr))
    return p


def newdir(name):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listing(d):
    return sorted(os.listdir(d))


@test
def unreadable_data_dir_says_permission_denied():
    d = newdir("private")
    run("init", "--data-dir", d, check=0)
    os.chmod(d, 0o700)  # root's, as init made it
    p = run("--data-dir", d, "status", user="nobody", check=1)
    assert "permission denied" in p.stderr, p.stderr
    assert d in p.stderr, p.stderr
    assert "coldseq init" not in p.stderr, p.stderr


@test
def data_dir_that_is_a_file_says_not_a_directory():
    f = os.path.join(TMP, "plainfile")
    with open(f, "w") as fh:
        fh.write("x\n")
    for cmd in (("status",), ("inbox", "list")):
        p = run("--data-dir", f, *cmd, check=1)
        assert "not a directory" in p.stderr, p.stderr
        assert f in p.stderr, p.stderr
        assert "coldseq init" not in p.stderr, p.stderr
    with open(f) as fh:
        eq(fh.read(), "x\n", "file unchanged")


@test
def empty_data_dir_option_is_a_usage_error():
    home_default = os.path.join(TMP, "home", ".local", "share", "coldseq")
    for args in (("--data-dir", "", "status"), ("--data-dir=", "init")):
        p = run(*args, check=2)
        assert "--data-dir" in p.stderr, p.stderr
        eq(p.stdout, "", "stdout")
    assert not os.path.exists(home_default), "default dir was used"


@test
def empty_database_file_is_refused_and_init_recreates_it():
    d = newdir("zero")
    db = os.path.join(d, "coldseq.db")
    open(db, "w").close()
    for cmd in (("inbox", "list"), ("status",), ("contacts", "list")):
        p = run("--data-dir", d, *cmd, check=1)
        assert "empty (0 bytes)" in p.stderr, p.stderr
        assert db in p.stderr, p.stderr
        assert "coldseq init" in p.stderr, p.stderr
        assert "No inboxes" not in p.stdout, p.stdout
        eq(os.path.getsize(db), 0, "still 0 bytes after %s" % (cmd,))
    # what to do works: init makes the database in place of the empty file
    p = run("init", "--data-dir", d, check=0)
    assert "Initialised" in p.stdout, p.stdout
    p = run("--data-dir", d, "inbox", "list", check=0)
    assert "No inboxes" in p.stdout, p.stdout


@test
def foreign_sqlite_database_is_refused_unchanged():
    d = newdir("foreign")
    db = os.path.join(d, "coldseq.db")
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE notes (t TEXT)")
    c.execute("INSERT INTO notes VALUES ('mine')")
    c.commit()
    c.close()
    before, names = digest(db), listing(d)
    for cmd in (("inbox", "list"), ("init",), ("status",)):
        p = run("--data-dir", d, *cmd, check=1)
        assert "not a coldseq database" in p.stderr, p.stderr
        assert db in p.stderr, p.stderr
        assert "already initialised" not in p.stdout, p.stdout
        assert "No inboxes" not in p.stdout, p.stdout
        eq(digest(db), before, "database unchanged after %s" % (cmd,))
    c = sqlite3.connect(db)
    tables = [r[0] for r in c.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")]
    c.close()
    eq(tables, ["notes"], "no coldseq schema written")
    eq(listing(d), names, "no new files (vault key, -wal)")


@test
def garbage_file_is_refused_unchanged():
    d = newdir("garbage")
    db = os.path.join(d, "coldseq.db")
    with open(db, "wb") as f:
        f.write(os.urandom(8192))
    before = digest(db)
    for cmd in (("inbox", "list"), ("init",)):
        p = run("--data-dir", d, *cmd, check=1)
        assert "not a coldseq database" in p.stderr, p.stderr
        assert db in p.stderr, p.stderr
        eq(digest(db), before, "unchanged after %s" % (cmd,))


@test
def damaged_database_is_refused_unchanged():
    d = newdir("damaged")
    run("init", "--data-dir", d, check=0)
    db = os.path.join(d, "coldseq.db")
    c = sqlite3.connect(db)
    page = c.execute("PRAGMA page_size").fetchone()[0]
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                     "'contacts'").fetchone()[0]
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    with open(db, "r+b") as f:  # the contacts table's page: not a b-tree
        f.seek(page * (root - 1))
        f.write(b"\x0d\xff\xff\xff" * 64)
    before = digest(db)
    for cmd in (("status",), ("inbox", "list"), ("init",)):
        p = run("--data-dir", d, *cmd, check=1)
        assert "damaged" in p.stderr, p.stderr
        assert db in p.stderr, p.stderr
        assert "backup" in p.stderr, p.stderr
        eq(digest(db), before, "unchanged after %s" % (cmd,))


@test
def cut_short_database_is_refused_unchanged():
    d = newdir("short")
    run("init", "--data-dir", d, check=0)
    db = os.path.join(d, "coldseq.db")
    c = sqlite3.connect(db)
    page = c.execute("PRAGMA page_size").fetchone()[0]
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    os.truncate(db, os.path.getsize(db) - page)  # the last page lost
    before = digest(db)
    p = run("--data-dir", d, "inbox", "list", check=1)
    assert "damaged" in p.stderr and db in p.stderr, p.stderr
    eq(digest(db), before, "unchanged")


@test
def a_large_database_is_checked_whole_when_the_service_starts():
    # past DB_FULL_CHECK_MAX (64 MiB) a command checks the header, the
    # id and the page count, not every page (a full check costs ~3 ms a
    # megabyte on every command); the service's start checks it whole
    d = newdir("large")
    run("init", "--data-dir", d, check=0)
    db = os.path.join(d, "coldseq.db")
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE ballast (b BLOB)")
    for _ in range(70):
        c.execute("INSERT INTO ballast VALUES (zeroblob(1048576))")
    c.commit()
    page = c.execute("PRAGMA page_size").fetchone()[0]
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                     "'contacts'").fetchone()[0]
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    assert os.path.getsize(db) > (64 << 20), os.path.getsize(db)
    with open(db, "r+b") as f:  # a page inbox list never reads
        f.seek(page * (root - 1))
        f.write(b"\x0d\xff\xff\xff" * 64)
    before = digest(db)
    p = run("--data-dir", d, "inbox", "list", check=0)
    assert "No inboxes" in p.stdout, p.stdout
    p = run("--data-dir", d, "run", "--clock", "sim:now,fast", "--until",
            "+1m", check=1)
    assert "damaged" in p.stderr and db in p.stderr, p.stderr
    eq(digest(db), before, "unchanged")


@test
def coldseq_database_opens_and_init_stays_idempotent():
    d = newdir("good")
    run("init", "--data-dir", d, check=0)
    p = run("init", "--data-dir", d, check=0)
    assert "already initialised" in p.stdout, p.stdout
    c = sqlite3.connect(os.path.join(d, "coldseq.db"))
    eq(c.execute("PRAGMA application_id").fetchone()[0], 0x43534551,
       "application id")
    c.close()
    p = run("--data-dir", d, "inbox", "list", check=0)
    assert "No inboxes" in p.stdout, p.stdout


try:
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
