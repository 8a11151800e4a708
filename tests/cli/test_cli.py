"""CLI integration tests: the real coldseq binary (ASan build), its exit
codes, files and modes, config, vault status and rekey."""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile

import tap
from tap import eq, test

BIN = os.environ.get("COLDSEQ_BIN") or os.path.join(
    os.environ.get("COLDSEQ_SRC", "."), "coldseq")
TMP = tempfile.mkdtemp(prefix="coldseq-cli-")


def run(*args, env=None, check=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("COLDSEQ_HOME", "COLDSEQ_KEY_FILE", "XDG_DATA_HOME")}
    e["HOME"] = os.path.join(TMP, "home")
    if env:
        e.update(env)
    p = subprocess.run([BIN] + list(args), env=e, capture_output=True,
                       text=True, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError("coldseq %s: exit %d, want %d\nstdout: %s\n"
                             "stderr: %s" % (" ".join(args), p.returncode,
                                             check, p.stdout, p.stderr))
    return p


def newdir(name):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(d):
    out = {}
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        with open(p, "rb") as f:
            out[n] = (f.read(), os.stat(p).st_mtime_ns, mode(p))
    return out


@test
def unknown_command_exits_2_and_points_to_help():
    p = run("frobnicate", check=2)
    assert "--help" in p.stderr, p.stderr
    eq(p.stdout, "", "stdout")


@test
def near_miss_suggests_init():
    p = run("inti", check=2)
    assert "Did you mean 'init'?" in p.stderr, p.stderr


@test
def unknown_option_exits_2_with_suggestion():
    d = newdir("opt")
    p = run("init", "--data-dri", d, check=2)
    assert "Did you mean '--data-dir'?" in p.stderr, p.stderr
    assert not os.path.exists(d)


@test
def init_creates_private_files_and_is_idempotent():
    d = newdir("init")
    p = run("init", "--data-dir", d, check=0)
    assert "Initialised" in p.stdout
    eq(oct(mode(d)), oct(0o700), "data dir mode")
    eq(oct(mode(os.path.join(d, "coldseq.db"))), oct(0o600), "db mode")
    eq(oct(mode(os.path.join(d, "vault.key"))), oct(0o600), "key mode")
    eq(os.path.getsize(os.path.join(d, "vault.key")), 32, "key size")
    before = snapshot(d)
    p = run("init", "--data-dir", d, check=0)
    assert "already initialised" in p.stdout, p.stdout
    eq(snapshot(d), before, "files after second init")


@test
def init_json_output():
    d = newdir("initjson")
    p = run("--json", "init", "--data-dir", d, check=0)
    doc = json.loads(p.stdout)
    eq(doc["created"], True, "created")
    eq(doc["database"], os.path.join(d, "coldseq.db"), "database")
    p = run("init", "--data-dir", d, "--json", check=0)
    eq(json.loads(p.stdout)["created"], False, "created again")


@test
def init_tightens_existing_loose_directory():
    d = newdir("loose")
    os.makedirs(d)
    os.chmod(d, 0o755)
    run("init", "--data-dir", d, check=0)
    eq(oct(mode(d)), oct(0o700), "mode")


@test
def data_dir_resolution_order():
    home = os.path.join(TMP, "home")
    shutil.rmtree(home, ignore_errors=True)
    run("init", check=0)
    assert os.path.exists(os.path.join(home, ".local/share/coldseq/coldseq.db"))
    xdg = newdir("xdg")
    run("init", env={"XDG_DATA_HOME": xdg}, check=0)
    assert os.path.exists(os.path.join(xdg, "coldseq/coldseq.db"))
    ch = newdir("chome")
    run("init", env={"XDG_DATA_HOME": xdg, "COLDSEQ_HOME": ch}, check=0)
    assert os.path.exists(os.path.join(ch, "coldseq.db"))
    flag = newdir("flag")
    run("init", "--data-dir", flag, env={"COLDSEQ_HOME": ch}, check=0)
    assert os.path.exists(os.path.join(flag, "coldseq.db"))


@test
def commands_need_init_first():
    d = newdir("none")
    p = run("config", "list", "--data-dir", d, check=1)
    assert "coldseq init" in p.stderr, p.stderr
    assert not os.path.exists(d), "a failed command created the data dir"


@test
def config_set_get_unset_list():
    d = newdir("cfg")
    run("init", "--data-dir", d, check=0)
    run("config", "set", "inbox.daily_cap", "45", "--data-dir", d, check=0)
    eq(run("config", "get", "inbox.daily_cap", "--data-dir", d,
           check=0).stdout, "45\n", "get")
    run("config", "set", "inbox.min_interval", "15m", "--data-dir", d,
        check=0)
    doc = json.loads(run("config", "get", "inbox.min_interval", "--json",
                         "--data-dir", d, check=0).stdout)
    eq(doc["value"], "900", "duration canonical")
    eq(doc["set"], True, "set")
    lst = json.loads(run("config", "list", "--json", "--data-dir", d,
                         check=0).stdout)
    keys = {e["key"]: e for e in lst}
    assert "log.level" in keys and "general.timezone" in keys
    for e in lst:
        assert e["description"], e
    eq(keys["inbox.daily_cap"]["value"], "45", "listed")
    run("config", "unset", "inbox.daily_cap", "--data-dir", d, check=0)
    eq(run("config", "get", "inbox.daily_cap", "--data-dir", d,
           check=0).stdout, "30\n", "default after unset")


@test
def config_bad_key_or_value_is_usage_error_and_stores_nothing():
    d = newdir("cfgbad")
    run("init", "--data-dir", d, check=0)
    run("config", "set", "general.timezone", "Europe/Berlin", "--data-dir",
        d, check=0)
    p = run("config", "set", "general.timezone", "Mars/Base", "--data-dir",
            d, check=2)
    assert "general.timezone" in p.stderr, p.stderr
    p = run("config", "set", "inbox.dailycap", "3", "--data-dir", d, check=2)
    assert "inbox.dailycap" in p.stderr and "inbox.daily_cap" in p.stderr
    eq(run("config", "get", "general.timezone", "--data-dir", d,
           check=0).stdout, "Europe/Berlin\n", "unchanged")


@test
def help_for_every_command_and_group():
    p = run("--help", check=0)
    assert "Usage: coldseq" in p.stdout
    assert "init" in p.stdout and "config" in p.stdout
    for words in (["help", "config"], ["config", "--help"],
                  ["config", "set", "--help"], ["help", "vault", "rekey"],
                  ["init", "--help"], ["vault", "status", "-h"]):
        p = run(*words, check=0)
        assert "Usage: coldseq" in p.stdout, (words, p.stdout)
    eq(run("--version", check=0).stdout.split()[0], "coldseq", "version")
    p = run("config", check=2)
    assert "needs a command" in p.stderr


@test
def key_file_elsewhere_is_remembered():
    d = newdir("kf")
    kdir = newdir("keys")
    os.makedirs(kdir, mode=0o700)
    key = os.path.join(kdir, "coldseq.key")
    run("init", "--data-dir", d, "--key-file", key, check=0)
    assert os.path.exists(key)
    assert not os.path.exists(os.path.join(d, "vault.key"))
    doc = json.loads(run("vault", "status", "--json", "--data-dir", d,
                         check=0).stdout)
    eq(doc["key_file"], key, "recorded key path")
    eq(doc["key_matches"], True, "matches")


@test
def wrong_or_missing_key_gives_clear_error():
    d = newdir("wk")
    run("init", "--data-dir", d, check=0)
    other = newdir("wk2")
    run("init", "--data-dir", other, check=0)
    p = run("vault", "rekey", "--data-dir", d, "--key-file",
            os.path.join(other, "vault.key"), check=1)
    assert "does not belong to database" in p.stderr, p.stderr
    p = run("vault", "status", "--data-dir", d, env={
        "COLDSEQ_KEY_FILE": os.path.join(other, "vault.key")}, check=1)
    assert "does not belong" in p.stderr, p.stderr
    os.rename(os.path.join(d, "vault.key"), os.path.join(d, "moved.key"))
    p = run("vault", "rekey", "--data-dir", d, check=1)
    assert "missing" in p.stderr, p.stderr


@test
def moved_ciphertext_is_detected():
    d = newdir("tamper")
    run("init", "--data-dir", d, check=0)
    con = sqlite3.connect(os.path.join(d, "coldseq.db"))
    blob = con.execute("SELECT value FROM meta WHERE key='vault_check'"
                       ).fetchone()[0]
    con.execute("INSERT INTO inboxes(uuid, name, email, secret, created_at)"
                " VALUES ('u-1', 'a', 'a@x.test', ?, 0)", (blob,))
    con.commit()
    con.close()
    p = run("vault", "status", "--data-dir", d, "--json", check=1)
    doc = json.loads(p.stdout)
    eq(doc["key_matches"], True, "key")
    eq(doc["unreadable"], [{"table": "inboxes", "column": "secret",
                            "row": "u-1"}], "unreadable")
    p = run("vault", "rekey", "--data-dir", d, check=1)
    assert "failed authentication" in p.stderr, p.stderr
    assert "nothing was changed" in p.stderr


@test
def rekey_replaces_key_and_survives_interruption():
    d = newdir("rekey")
    run("init", "--data-dir", d, check=0)
    key = os.path.join(d, "vault.key")
    old = open(key, "rb").read()
    doc = json.loads(run("vault", "rekey", "--json", "--data-dir", d,
                         check=0).stdout)
    new = open(key, "rb").read()
    assert old != new and len(new) == 32
    eq(oct(mode(key)), oct(0o600), "mode")
    eq(doc["key_file"], key, "key file")
    run("vault", "status", "--data-dir", d, check=0)
    # Simulate a crash after the commit and before the rename: the new key
    # is still in vault.key.new and the old one in vault.key.
    os.rename(key, key + ".new")
    with open(key, "wb") as f:
        f.write(old)
    os.chmod(key, 0o600)
    p = run("vault", "status", "--data-dir", d, check=0)
    assert "finished an interrupted vault rekey" in p.stderr, p.stderr
    eq(open(key, "rb").read(), new, "new key in place")
    assert not os.path.exists(key + ".new")
    # A crash before the commit leaves an unused vault.key.new: dropped.
    with open(key + ".new", "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key + ".new", 0o600)
    run("vault", "status", "--data-dir", d, check=0)
    assert not os.path.exists(key + ".new")
    eq(open(key, "rb").read(), new, "key kept")


@test
def newer_database_is_refused_unchanged():
    d = newdir("newer")
    run("init", "--data-dir", d, check=0)
    db = os.path.join(d, "coldseq.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    before = open(db, "rb").read()
    p = run("config", "list", "--data-dir", d, check=1)
    assert "newer coldseq" in p.stderr, p.stderr
    eq(open(db, "rb").read() == before, True, "database unchanged")


@test
def log_file_option_writes_there():
    d = newdir("logf")
    os.makedirs(d, mode=0o700)
    log = os.path.join(d, "x.log")
    os.chmod(d, 0o755)
    run("init", "--data-dir", d, "--log-file", log, "-v", check=0)
    text = open(log).read()
    assert "set mode 0700" in text, text
    eq(oct(mode(log)), oct(0o600), "log file mode")


try:
    tap.main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
