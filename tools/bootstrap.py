#!/usr/bin/env python3
"""Create or refresh the project's ``.venv`` (``make setup``; also the first step of ``make test``/``make demo``).

Where Odoo comes from decides the mode (the script never downloads Odoo):

* ``src``    — ``ODOO_SRC=/path/to/odoo`` (an Odoo 18 source tree): a plain venv on ``python3.12`` when that runs,
  else ``python3``; Odoo's own ``requirements.txt`` is installed into it and the tree is put on ``sys.path``
  by a ``.pth`` file (what an editable install does, without writing into the tree).
* ``system`` — the machine's ``python3`` can already import ``odoo``: a venv with ``--system-site-packages``.
* ``none``   — neither (or ``OUTLOOK_TEST_NO_ODOO=1``): a plain venv; only the suites that need no Odoo run.

Then ``requirements-test.txt`` is installed with every package already present pinned as a constraint, so
Odoo's pinned versions are never upgraded or replaced. A marker in the venv records the mode, the interpreter
and a hash of the requirement files: when nothing changed, a second run does nothing.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    LOGS,
    REPO,
    VENV,
    CommandError,
    apt_install,
    exit_on_interrupt,
    fmt_seconds,
    python_ok,
    read_json,
    run,
    say,
    step,
    venv_python,
    warn,
    write_json,
)

MARKER = VENV / ".outlook-bootstrap.json"
SETUP_LOG = LOGS / "setup.log"
BUILD_CONSTRAINTS = REPO / "tools" / "build-constraints.txt"
REQUIREMENT_FILES = [REPO / "requirements.txt", REPO / "requirements-test.txt"]
# Headers that Odoo 18's requirements need when a pin has no wheel for this Python (python-ldap, psycopg2).
ODOO_BUILD_DEBS = ["libldap2-dev", "libsasl2-dev", "libpq-dev"]
NO_ODOO_HINT = "set ODOO_SRC=/path/to/odoo or install odoo into python3"
MIN_ODOO = 18
# Not turned into constraints: the installer's own tools, and Odoo itself (it is not installed from an index).
UNCONSTRAINED = {"pip", "setuptools", "wheel", "distribute", "odoo"}

_PROBE = r"""
import importlib.util, json, os, sys
spec = importlib.util.find_spec("odoo")
origin = spec and (spec.origin or next(iter(spec.submodule_search_locations or []), None))
print(json.dumps({"executable": os.path.realpath(sys.executable), "version": "%d.%d" % sys.version_info[:2],
                  "odoo_dir": (origin if os.path.isdir(origin) else os.path.dirname(origin)) if origin else None}))
"""

_FREEZE = r"""
import importlib.metadata as md, json
seen = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name and name.lower() not in seen:
        seen[name.lower()] = (name, dist.version)
print(json.dumps(sorted(seen.values())))
"""


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------
def version_text(version):
    return f"{version[0]}.{version[1]}" if version else "?"


def odoo_version(odoo_dir):
    """(major, minor) read from ``<odoo package>/release.py`` without importing it, or None."""
    try:
        text = (Path(odoo_dir) / "release.py").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^version_info\s*=\s*\(\s*(\d+)\s*,\s*(\d+)", text, re.M)
    return (int(match.group(1)), int(match.group(2))) if match else None


def probe(python):
    proc = subprocess.run(
        [python, "-c", _PROBE], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        return None
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def pick_python(candidates):
    for cand in candidates:
        if not cand:
            continue
        version = python_ok(cand)
        if version and tuple(int(x) for x in version.split(".")) >= (3, 10):
            return cand
    return None


def detect(env):
    """Decide mode, interpreter and Odoo location. Returns a dict (the marker minus the hash)."""
    override = env.get("OUTLOOK_PYTHON")
    odoo_src = env.get("ODOO_SRC", "").strip()
    if env.get("OUTLOOK_TEST_NO_ODOO", "").lower() in ("1", "true", "yes"):
        python = pick_python([override, "python3"])
        return _plan("none", python, reason="Odoo hidden by OUTLOOK_TEST_NO_ODOO=1")
    if odoo_src:
        tree = Path(odoo_src).expanduser().resolve()
        if (tree / "release.py").is_file() and (tree / "__init__.py").is_file() and tree.name == "odoo":
            tree = tree.parent  # ODOO_SRC pointed at the package itself
        if not (tree / "odoo" / "release.py").is_file():
            raise SetupError(f"ODOO_SRC={odoo_src} is not an Odoo source tree (no odoo/release.py in it)")
        version = odoo_version(tree / "odoo")
        if not version or version[0] < MIN_ODOO:
            raise SetupError(f"ODOO_SRC={odoo_src} holds Odoo {version_text(version)}, need Odoo {MIN_ODOO}")
        python = pick_python([override, "python3.12", "python3"])
        return _plan("src", python, odoo_src=str(tree), odoo_dir=str(tree / "odoo"), odoo_version=version)
    python = pick_python([override, "python3"])
    info = probe(python) if python else None
    if info and info["odoo_dir"]:
        version = odoo_version(info["odoo_dir"])
        if version and version[0] >= MIN_ODOO:
            return _plan("system", python, odoo_dir=info["odoo_dir"], odoo_version=version)
        return _plan(
            "none",
            python,
            reason=f"{python} imports Odoo {version_text(version)} from {info['odoo_dir']}, "
            f"need Odoo {MIN_ODOO} ({NO_ODOO_HINT})",
        )
    return _plan("none", python, reason=f"no Odoo {MIN_ODOO} found ({NO_ODOO_HINT})")


def _plan(mode, python, *, reason=None, odoo_src=None, odoo_dir=None, odoo_version=None):
    if not python:
        raise SetupError("no working python3 (>= 3.10) on PATH")
    info = probe(python)
    if not info:
        raise SetupError(f"{python} does not run")
    return {
        "mode": mode,
        "base_python": info["executable"],
        "python_version": info["version"],
        "odoo_src": odoo_src,
        "odoo_dir": odoo_dir,
        "odoo_version": version_text(odoo_version) if odoo_version else None,
        "no_odoo_reason": reason,
    }


def requirements_hash(plan):
    digest = hashlib.sha256()
    files = [*REQUIREMENT_FILES, BUILD_CONSTRAINTS, Path(__file__).resolve()]
    if plan["odoo_src"]:
        files.append(Path(plan["odoo_src"]) / "requirements.txt")
    for path in files:
        digest.update(str(path.name).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------
def pip_env():
    env = dict(os.environ)
    env.update(
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        # applies to pip's isolated build environments too (e.g. cbor2 5.4.2 needs setuptools < 81 to build)
        PIP_CONSTRAINT=str(BUILD_CONSTRAINTS),
    )
    env.pop("PYTHONPATH", None)
    return env


def pip(*args):
    run([venv_python(), "-m", "pip", *args], log=SETUP_LOG, env=pip_env())


def freeze_constraints(path):
    """Pin every distribution the venv already sees, so installing our requirements replaces none of them."""
    import json

    proc = run([venv_python(), "-c", _FREEZE], quiet=True)
    pins = []
    for name, version in json.loads(proc.stdout.strip().splitlines()[-1]):
        if name.lower() in UNCONSTRAINED or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+!-]*", version or ""):
            continue
        pins.append(f"{name}=={version}")
    path.write_text("# generated by tools/bootstrap.py: keep what is installed\n" + "\n".join(pins) + "\n")
    return len(pins)


def build(plan):
    SETUP_LOG.parent.mkdir(parents=True, exist_ok=True)
    SETUP_LOG.write_text(f"# tools/bootstrap.py {time.strftime('%Y-%m-%d %H:%M:%S')} mode={plan['mode']}\n")
    if VENV.exists():
        shutil.rmtree(VENV)
    system_site = plan["mode"] == "system"
    step(
        f"creating .venv (mode {plan['mode']}, Python {plan['python_version']} {plan['base_python']}"
        f"{', --system-site-packages' if system_site else ''}); log: {SETUP_LOG.relative_to(REPO)}"
    )
    cmd = [plan["base_python"], "-m", "venv", *(["--system-site-packages"] if system_site else []), VENV]
    run(cmd, log=SETUP_LOG)
    if plan["mode"] == "src":
        apt_install(ODOO_BUILD_DEBS, log=SETUP_LOG)
        odoo_req = Path(plan["odoo_src"]) / "requirements.txt"
        if odoo_req.is_file():
            step(f"pip install -r {odoo_req} (wheels are built where a pin has none; slow the first time)")
            pip("install", "-r", odoo_req)
        else:
            warn(f"{odoo_req} not found: Odoo's Python dependencies are not installed")
        site = run([venv_python(), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], quiet=True)
        Path(site.stdout.strip(), "odoo-src.pth").write_text(plan["odoo_src"] + "\n")
    constraints = VENV / "installed-constraints.txt"
    count = freeze_constraints(constraints)
    step(f"pip install -r requirements-test.txt (keeping the {count} packages already present)")
    pip("install", "-r", REPO / "requirements-test.txt", "-c", constraints)
    checks = "import pytest, msal, requests, freezegun, dateutil"
    if plan["mode"] != "none":
        checks += "; import odoo, odoo.release, psycopg2; print('odoo', odoo.release.version, odoo.__file__)"
    proc = run([venv_python(), "-c", checks], quiet=True, check=False)
    if proc.returncode != 0:
        say(proc.stdout.rstrip())
        raise SetupError("the new .venv cannot import what the suites need (see above)")


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------
def ensure(env=None, force=False):
    """Make sure ``.venv`` matches the current mode and requirements; returns the plan (see ``detect``)."""
    env = os.environ if env is None else env
    plan = detect(env)
    plan["hash"] = requirements_hash(plan)
    marker = read_json(MARKER)
    if not force and marker == plan and venv_python().exists() and python_ok(str(venv_python())):
        step(f".venv up to date (mode {plan['mode']}{odoo_note(plan)})")
        return plan
    if marker and marker != plan:
        changed = sorted(k for k in plan if marker.get(k) != plan.get(k))
        step(f".venv out of date ({', '.join(changed)} changed): rebuilding")
    try:
        build(plan)
    except CommandError as exc:
        raise SetupError(f"{exc} (full log: {SETUP_LOG})") from exc
    write_json(MARKER, plan)
    step(f".venv ready (mode {plan['mode']}{odoo_note(plan)})")
    return plan


def odoo_note(plan):
    if plan["odoo_dir"]:
        return f", Odoo {plan['odoo_version']} from {plan['odoo_dir']}"
    return f", no Odoo: {plan['no_odoo_reason']}"


def main():
    start = time.monotonic()
    try:
        ensure(force="--force" in sys.argv)
    except SetupError as exc:
        warn(f"setup failed: {exc}")
        return 1
    say(f"    [setup: {fmt_seconds(time.monotonic() - start)}]")
    return 0


if __name__ == "__main__":
    exit_on_interrupt(main)
