"""stackproc.py - find and stop the processes of a test mail stack (/proc).

A stack's daemons each lead a session of their own (Dovecot's master,
Postfix's master, the OAuth test double); every process they fork stays in
that session.  So "the stack's processes" are the processes whose session
id is a recorded leader pid, and a leader is ours only while its start time
(field 22 of /proc/PID/stat) is the one recorded: Linux never hands out a
pid that is still in use as a session id, so members cannot be mistaken.
"""
import os
import signal
import time


def proc_stat(pid):
    """(state, ppid, sid, starttime, comm) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    f = data[data.rindex(")") + 2:].split()
    # f[0]=state f[1]=ppid f[2]=pgrp f[3]=session ... f[19]=starttime
    return f[0], int(f[1]), int(f[3]), int(f[19]), comm


def session_members(sessions, include_zombies=False):
    """Pids of processes whose session id is in `sessions` (a dict
    sid -> recorded start time of the leader).  A session whose leader pid now
    belongs to another process (different start time) is not ours and is
    skipped.  Zombies (exited, not yet reaped by their parent) hold no
    memory, ports or files; they are left out unless asked for."""
    foreign = set()
    for sid, start in sessions.items():
        st = proc_stat(sid)
        if st and (st[2] != sid or st[3] != start):
            foreign.add(sid)
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if not st or st[2] not in sessions or st[2] in foreign:
            continue
        if st[0] in "ZX" and not include_zombies:
            continue
        out.append(int(name))
    return sorted(out)


def describe(pids):
    parts = []
    for pid in pids:
        st = proc_stat(pid)
        if st:
            parts.append("%d(%s,%s)" % (pid, st[4], st[0]))
    return ", ".join(parts) or "none"


def stop_sessions(sessions, timeout=10.0):
    """SIGTERM every session leader, wait until no live process of the
    sessions remains, SIGKILL stragglers.  Returns the pids still alive
    (empty on success)."""
    for sid, start in sessions.items():
        st = proc_stat(sid)
        if st and st[2] == sid and st[3] == start and st[0] not in "ZX":
            try:
                os.kill(sid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    left = session_members(sessions)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = session_members(sessions)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = session_members(sessions)
    return left


def state_sessions(state):
    """Sessions recorded in stack.json: {leader pid: start time}."""
    return {int(v["pid"]): int(v["start"])
            for v in state.get("processes", {}).values()}


def stray_sessions(p):
    """Session leaders that belong to the stack in p.dir without being
    recorded: their command line or working directory is inside it.  Only
    an `up` killed between starting a daemon and recording it leaves such a
    process (the Postfix master runs in DIR/postfix/queue, Dovecot's in
    DIR/dovecot/run, the test double is given DIR/oauth/tokens.json, an
    opendkim of --auth its DIR/auth/opendkim-*.conf)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        st = proc_stat(pid)
        if not st or st[2] != pid or st[0] in "ZX":
            continue
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if (st[4] == "master" and cwd == p.queue) or \
                (st[4] == "dovecot" and p.dovecot_conf in argv) or \
                (any(a.endswith("/oauth_introspect_double.py")
                     for a in argv) and p.tokens in argv) or \
                (st[4] == "opendkim" and (p.dkim_sign_conf in argv or
                                          p.dkim_verify_conf in argv)):
            out[pid] = st[3]
    return out


def all_sessions(p, state):
    """Recorded sessions plus strays (see stray_sessions)."""
    sessions = stray_sessions(p)
    sessions.update(state_sessions(state or {}))
    return sessions
