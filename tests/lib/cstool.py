"""cstool.py - run the coldseq binary under test from integration tests.

    from cstool import coldseq
    p = coldseq(DATA, "inbox", "list", "--json", check=0)

Runs $COLDSEQ_BIN with --data-dir DATA and the given words, feeding stdin
when given, and returns the CompletedProcess (text).  With check=N it
raises AssertionError showing both output streams unless the exit status
is N.
"""
import datetime
import json
import os
import subprocess

BIN = os.environ.get("COLDSEQ_BIN", "coldseq")


def coldseq(data, *args, stdin=None, check=None, timeout=300, env=None,
            outputs=None):
    """outputs: a list that collects stdout+stderr of every call (for
    checks that a secret never appears)."""
    cmd = [BIN] + (["--data-dir", data] if data else []) + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if outputs is not None:
        outputs.append(p.stdout + p.stderr)
    if check is not None and p.returncode != check:
        raise AssertionError("coldseq %s: exit %d (want %d)\nstdout: %s\n"
                             "stderr: %s" % (" ".join(args), p.returncode,
                                             check, p.stdout, p.stderr))
    return p


def iso(t):
    """Seconds since the epoch as the UTC ISO 8601 time `--clock sim:`
    and `--until` take."""
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def replies(data, *args):
    """The watcher's events (`coldseq replies --json ARGS`), newest first,
    as a list of dicts."""
    p = coldseq(data, "replies", "--json", *args, check=0)
    doc = json.loads(p.stdout)
    assert isinstance(doc, list), p.stdout
    return doc
