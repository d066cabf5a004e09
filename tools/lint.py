#!/usr/bin/env python3
"""``make lint``: ``pre-commit run --all-files`` with the hooks of ``.pre-commit-config.yaml``.

Sets up ``.venv`` (the first Odoo major's venv, or one without Odoo) as ``make setup`` does (tools/bootstrap.py),
then installs ``requirements-lint.txt`` into it (once; again only when that file changes), keeping every package
already there, as bootstrap does for the test requirements. Every hook is local (``language: system``) and runs the
venv's tools, so nothing is downloaded: after the first install the check works offline. pre-commit's own store goes to
``.run/pre-commit``.

    make lint                       every hook on every tracked file (fixers rewrite files: commit the result)
    make lint ARGS="ruff --files models/x.py"     one hook, some files (any ``pre-commit run`` arguments)
    make lint ARGS="--hook-stage manual"          also pylint-odoo's advisory checks (.pylintrc; never fails)

Exit status: pre-commit's (0 when every hook passed).
"""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # noqa: E402
from _common import REPO, RUN, VENV, exit_on_interrupt, fmt_seconds, read_json, say, step, warn, write_json  # noqa: E402

LINT_REQUIREMENTS = REPO / "requirements-lint.txt"
MARKER = VENV / ".outlook-lint.json"


def lint_hash():
    digest = hashlib.sha256(LINT_REQUIREMENTS.read_bytes())
    digest.update((read_json(bootstrap.MARKER) or {}).get("hash", "").encode())
    return digest.hexdigest()


def ensure_lint_tools():
    """``.venv`` plus the lint requirements; returns the venv's ``bin`` directory."""
    bootstrap.ensure()
    wanted = lint_hash()
    bindir = VENV / "bin"
    if (read_json(MARKER) or {}).get("hash") == wanted and (bindir / "pre-commit").exists():
        return bindir
    constraints = VENV / "installed-constraints-lint.txt"
    count = bootstrap.freeze_constraints(constraints)
    step(f"pip install -r requirements-lint.txt (keeping the {count} packages already present)")
    bootstrap.pip("install", "-r", LINT_REQUIREMENTS, "-c", constraints)
    write_json(MARKER, {"hash": wanted})
    return bindir


def main():
    start = time.monotonic()
    try:
        bindir = ensure_lint_tools()
    except (bootstrap.SetupError, bootstrap.CommandError) as exc:
        warn(f"lint setup failed: {exc}")
        return 1
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(RUN / "pre-commit")
    env.setdefault("SKIP", "")
    args = sys.argv[1:]
    if not {"--all-files", "-a", "--files", "--from-ref"} & set(args):
        args.append("--all-files")  # `make lint ARGS=ruff`: that hook on every file
    cmd = [str(bindir / "pre-commit"), "run", "--show-diff-on-failure", "--color=never", *args]
    step("pre-commit run " + " ".join(cmd[2:]))
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, check=False)
    say(f"    [lint: {fmt_seconds(time.monotonic() - start)}]")
    if proc.returncode:
        warn("lint failed: fixers may have rewritten files (see the diff above); run `make lint` again after fixing")
    return proc.returncode


if __name__ == "__main__":
    exit_on_interrupt(main)
