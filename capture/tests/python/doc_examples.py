"""Runs every example of the given Markdown files, in order, in the current
directory (which holds the quick start's output, sample.parquet and
sample.streams.parquet, and the repository's testdata/, signatures/ and
examples/), with pathlens on the PATH.

Blocks tagged sql run in DuckDB, sh/bash in bash (-euo pipefail), python in
python3. A block tagged text is output: when it follows a runnable block
directly (only blank lines between), it is compared with what that block
printed (a DuckDB box table row by row, anything else line by line);
otherwise it is skipped. The README's quick start (the two commands of the
suite itself) is not run: its output block is compared with QUICKSTART, the
output of the quick start's read command. A block with no tag is an error:
every block must say whether it runs.

Usage: doc_examples.py QUICKSTART FILE.md ...
Prints 'doc examples ok: ...' and exits 0 when every example ran and every
compared output matched; else lists each failure as FILE:LINE and exits 1.
"""
import re
import subprocess
import sys
import tempfile

import duckdb

RUN = {"sql": "sql", "sh": "sh", "bash": "sh", "shell": "sh", "python": "python"}
DATA = {"text", "toml", "json", "yaml"}
QUICK_START = "bash .ci/quickstart\nbash .ci/test"


def blocks(path):
    """(line, tag, body, follows_previous_block) of each fenced block."""
    out, lines = [], open(path).read().split("\n")
    i, last_end = 0, None
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, tag, start = len(m.group(1)), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        between = lines[last_end + 1:start] if last_end is not None else ["x"]
        out.append((start + 1, tag, "\n".join(body), all(not l.strip() for l in between)))
        last_end = i
        i += 1
    return out


def cell(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def box_rows(text):
    """Data rows of a DuckDB box table, each a list of cell texts."""
    lines = text.split("\n")
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("├"))
    except StopIteration:
        return None
    return [[c.strip() for c in l.split("│")[1:-1]] for l in lines[start + 1:] if l.startswith("│")]


def run(tag, body):
    """(ok, printed: rows for sql, text otherwise, error)."""
    if tag == "sql":
        try:
            con = duckdb.connect()
            rows = con.execute(body).fetchall() if body.strip() else []
            return True, [[cell(v) for v in r] for r in rows], ""
        except Exception as e:  # the error is the finding
            return False, None, str(e)
    cmd = ["bash", "-euo", "pipefail", "-c", body] if tag == "sh" else ["python3", "-c", body]
    # Files, not pipes: a block may start a server in the background (an
    # object store for the next blocks), which keeps a pipe open past the
    # block's end.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            code = subprocess.run(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=600).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        out.seek(0)
        err.seek(0)
        return code == 0, out.read(), f"exit {code}: " + err.read()[-2000:]


def same_text(a, b):
    norm = lambda s: "\n".join(l.rstrip() for l in s.strip("\n").split("\n"))
    return norm(a) == norm(b)


def main():
    quick = open(sys.argv[1]).read()
    failures, counts, compared, skipped = [], {"sql": 0, "sh": 0, "python": 0}, 0, 0
    for path in sys.argv[2:]:
        prev = None  # (tag, printed) of the block just before
        for line, tag, body, follows in blocks(path):
            where = f"{path}:{line}"
            if tag == "":
                failures.append(f"{where}: a block without a tag (sql, sh, python, or text for output)")
                prev = None
                continue
            if tag in RUN and body.strip() == QUICK_START:
                prev = ("quickstart", quick)
                continue
            if tag in RUN:
                kind = RUN[tag]
                ok, printed, err = run(kind, body)
                counts[kind] += 1
                if not ok:
                    failures.append(f"{where}: {tag} example failed:\n{body}\n{err}")
                prev = (kind, printed) if ok else None
                continue
            if tag == "text" and follows and prev is not None:
                kind, printed = prev
                if kind == "sql":
                    want = box_rows(body)
                    if want is None:
                        failures.append(f"{where}: output after a query is not a DuckDB box table")
                    elif want != printed:
                        failures.append(f"{where}: documented rows\n{want}\nbut the query gives\n{printed}")
                elif not same_text(body, printed):
                    failures.append(f"{where}: documented output\n{body}\nbut the command prints\n{printed}")
                compared += 1
            elif tag in DATA:
                skipped += 1
            else:
                failures.append(f"{where}: unknown block tag {tag!r}")
            prev = None
    for f in failures:
        print(f"FAIL {f}\n")
    if failures:
        sys.exit(1)
    print(f"doc examples ok: {counts['sql']} sql, {counts['sh']} sh, {counts['python']} python run, "
          f"{compared} outputs compared, {skipped} data or output blocks skipped")


main()
