"""Group-wise k-fold cross-validation of the classifier's phrase rules.

    python3 tests/classify/kfold.py [-k K] [--show] [--patterns]

(run from the repository root after `make asan`; `make bench` runs it).

The classifier is rule based: nothing is fitted, but its phrase lists were
written while looking at the public corpus.  To see how the rules do on
mail from MTAs they were not written for, the corpus is split by MTA: the
group of a file is the basename of its `source_path` in
../shared/corpus/bounces/sources.tsv without the `-NN.eml` number
(`lhost-postfix`, `rfc3464`, ...), so every line-ending variant of a
message, and every message of one MTA, lies in one group.  The groups are
dealt into K folds (largest first, each to the fold with fewest files; K=0
means one fold per group, leave-one-group-out).

A phrase's support is the set of corpus files in whose searched text it
occurs, with every phrase enabled (build/asan/tests/kfold_classify with
CLS_KFOLD_STATS).  When fold k is scored, every phrase whose support lies
entirely inside fold k's groups is disabled (CLS_KFOLD_DISABLE): it was
written for those MTAs and only they show it is right.  Structural rules
(status codes, reply codes, DSN fields, SMTP phases given as fields) have
no phrase id and stay: they come from the RFCs, not from the corpus.

Printed: per fold and their mean, the same figures computed over all
folds' predictions pooled, and the whole-corpus figures (nothing
disabled):
  bounce-or-not   files whose bounce/not-bounce verdict agrees
  rcpt recall     expected failed recipients we report
  rcpt precision  reported failed recipients that are expected
  hard/soft       expected failed recipients reported with the same
                  verdict (a missed one counts as wrong)
"""
import argparse
import collections
import csv
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("COLDSEQ_SRC") or os.path.join(HERE, "..", "..")
TOOL = os.environ.get("KFOLD_BIN") or os.path.join(
    SRC, "build", "asan", "tests", "kfold_classify")
BOUNCES = os.path.join(SRC, "..", "shared", "corpus", "bounces")
EMAILS = os.path.join(BOUNCES, "emails")


def group_of(source_path):
    base = os.path.basename(source_path)
    if base.endswith(".eml"):
        base = base[:-4]
    head, _, tail = base.rpartition("-")
    return head if head and tail.isdigit() else base


def load_sources():
    """file -> (MTA group, source message: the table's `group` column,
    the same for every line-ending variant of a message)"""
    out = {}
    with open(os.path.join(BOUNCES, "sources.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out[row["file"]] = (group_of(row["source_path"]),
                                row.get("group") or row["source_path"])
    return out


def load_expected():
    rows = collections.defaultdict(list)
    with open(os.path.join(BOUNCES, "expected.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rows[row["file"]].append(row)
    return rows


def run_tool(names, disabled=None, stats=False):
    """Classify names; returns (results, hits, ids): results maps a file to
    its R rows (kind, rcpt, hard, reason, status), hits a file to the
    phrase ids that occurred in it, ids every phrase id."""
    env = dict(os.environ)
    env.pop("CLS_KFOLD_STATS", None)
    env.pop("CLS_KFOLD_DISABLE", None)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    tmp = None
    if stats:
        env["CLS_KFOLD_STATS"] = "1"
    if disabled:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False)
        tmp.write("".join(i + "\n" for i in sorted(disabled)))
        tmp.close()
        env["CLS_KFOLD_DISABLE"] = tmp.name
    try:
        p = subprocess.run([TOOL] + [os.path.join(EMAILS, n) for n in names],
                           capture_output=True, env=env, timeout=900)
    finally:
        if tmp:
            os.unlink(tmp.name)
    if p.returncode != 0 or p.stderr.strip():
        raise RuntimeError("kfold_classify exited %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")[-3000:]))
    results = collections.defaultdict(list)
    hits = collections.defaultdict(set)
    ids = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        f = line.split("\t")
        if f[0] == "R":
            results[os.path.basename(f[1])].append(f[2:])
        elif f[0] == "H":
            hits[os.path.basename(f[1])].add(f[2])
        elif f[0] == "P":
            ids.append(f[1])
    return results, hits, ids


class Score:
    def __init__(self):
        self.files = self.files_ok = 0
        self.rows = self.found = self.hs_ok = 0
        self.pred = self.pred_ok = 0

    def add(self, name, res, exp, show=False):
        exp_b = [r for r in exp if r["hard_or_soft"] in ("hard", "soft")]
        ours = {}
        for kind, rcpt, hard, reason, status in res:
            if kind in ("bounce", "delay") and rcpt != "-":
                ours[rcpt.lower()] = (kind, hard == "1", reason, status)
        is_b = any(r[0] in ("bounce", "delay") for r in res)
        self.files += 1
        if is_b == bool(exp_b):
            self.files_ok += 1
        elif show:
            print("  KIND %s: want %s got %s" % (
                name, "bounce" if exp_b else "not", [r[0] for r in res]))
        want = {r["recipient"].lower() for r in exp_b}
        self.pred += len(ours)
        self.pred_ok += len(want & set(ours))
        for r in exp_b:
            self.rows += 1
            mine = ours.get(r["recipient"].lower())
            if mine is None:
                if show:
                    print("  RCPT %s: want %s got %s" % (
                        name, r["recipient"], sorted(ours)))
                continue
            self.found += 1
            hard = mine[1] and mine[0] == "bounce"
            if hard == (r["hard_or_soft"] == "hard"):
                self.hs_ok += 1
            elif show:
                print("  HS %s %s: want %s/%s %s got %s/%s %s" % (
                    name, r["recipient"], r["hard_or_soft"], r["reason"],
                    r["deliverystatus"], "hard" if hard else "soft",
                    mine[2], mine[3]))

    def figures(self):
        def pct(a, b):
            return 100.0 * a / b if b else 100.0
        return (pct(self.files_ok, self.files), pct(self.found, self.rows),
                pct(self.pred_ok, self.pred), pct(self.hs_ok, self.rows))


def deal(groups, k):
    """groups: group -> files.  K folds of groups, largest group first,
    each to the fold with fewest files (ties: lowest index)."""
    order = sorted(groups, key=lambda g: (-len(groups[g]), g))
    if k <= 0 or k >= len(order):
        return [[g] for g in order]
    folds = [[] for _ in range(k)]
    size = [0] * k
    for g in order:
        i = min(range(k), key=lambda j: (size[j], j))
        folds[i].append(g)
        size[i] += len(groups[g])
    return folds


def support(names, sources):
    """phrase id -> set of files; and every id."""
    _, hits, ids = run_tool(names, stats=True)
    sup = collections.defaultdict(set)
    for name, hs in hits.items():
        for h in hs:
            sup[h].add(name)
    return sup, ids


def fmt(fig):
    return "%6.1f%% %6.1f%% %6.1f%% %6.1f%%" % fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", type=int, default=10,
                    help="folds (0: one per group); default 10")
    ap.add_argument("--show", action="store_true",
                    help="print every disagreement of each fold")
    ap.add_argument("--patterns", action="store_true",
                    help="list every phrase with its support and exit")
    a = ap.parse_args()

    sources = load_sources()
    expected = load_expected()
    names = sorted(n for n in os.listdir(EMAILS) if n in sources)
    sup, ids = support(names, sources)
    if a.patterns:
        for i in sorted(set(ids)):
            files = sup.get(i, set())
            print("%4d %4d %3d  %s" % (
                len(files), len({sources[f][1] for f in files}),
                len({sources[f][0] for f in files}), i))
        return 0
    groups = collections.defaultdict(list)
    for n in names:
        groups[sources[n][0]].append(n)
    folds = deal(groups, a.k)

    whole = Score()
    res, _, _ = run_tool(names)
    for n in names:
        whole.add(n, res.get(n, []), expected.get(n, []))

    print("classify: k-fold by MTA group: %d groups, %d folds, %d files, "
          "%d phrases (%d with support)" % (
              len(groups), len(folds), len(names), len(ids), len(sup)))
    print("classify: %-28s %7s %7s %7s %7s" % (
        "fold (groups/files/disabled)", "bounce", "recall", "precis",
        "hard/sf"))
    pooled = Score()
    per = []
    for i, fg in enumerate(folds):
        fs = set(fg)
        files = [n for g in fg for n in groups[g]]
        off = {p for p, s in sup.items()
               if all(sources[f][0] in fs for f in s)}
        if a.show:
            print("fold %d: %s; disabled: %s" % (i, ",".join(fg),
                                                 ", ".join(sorted(off))))
        r, _, _ = run_tool(files, disabled=off)
        sc = Score()
        for n in files:
            sc.add(n, r.get(n, []), expected.get(n, []), a.show)
            pooled.add(n, r.get(n, []), expected.get(n, []))
        per.append(sc.figures())
        label = "%d (%d/%d/%d)" % (i, len(fg), len(files), len(off))
        if len(fg) == 1:
            label += " " + fg[0]
        print("classify: %-28s %s" % (label[:28], fmt(sc.figures())))
    mean = tuple(sum(f[j] for f in per) / len(per) for j in range(4))
    print("classify: %-28s %s" % ("k-fold mean of folds", fmt(mean)))
    print("classify: %-28s %s" % ("k-fold pooled", fmt(pooled.figures())))
    print("classify: %-28s %s" % ("whole corpus (all rules)",
                                  fmt(whole.figures())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
