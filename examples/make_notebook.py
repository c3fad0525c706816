"""Writes answers.ipynb from the cells of answers.py (`# %%` markers), so the
notebook and the script never differ: `python3 examples/make_notebook.py`.
With --check it only says whether the committed notebook is up to date."""
import json
import pathlib
import sys

here = pathlib.Path(__file__).parent


def cells(text):
    out, kind, lines = [], None, []

    def flush():
        if kind is not None:
            src = "\n".join(lines).strip("\n")
            if kind == "markdown":
                src = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in src.split("\n"))
            out.append({"cell_type": kind, "id": f"cell-{len(out)}", "metadata": {},
                        "source": src.splitlines(keepends=True)}
                       | ({"execution_count": None, "outputs": []} if kind == "code" else {}))

    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return out


nb = {
    "cells": cells((here / "answers.py").read_text()),
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
text = json.dumps(nb, indent=1) + "\n"
target = here / "answers.ipynb"
if "--check" in sys.argv:
    ok = target.exists() and target.read_text() == text
    print("notebook up to date" if ok else "answers.ipynb differs from answers.py: run examples/make_notebook.py")
    sys.exit(0 if ok else 1)
target.write_text(text)
