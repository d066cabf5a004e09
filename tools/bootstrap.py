#!/usr/bin/env python3
"""Create or refresh the project's venvs (``make setup``; also the first step of ``make test``/``make demo``).

One venv per Odoo major (``.venv`` for Odoo 18, ``.venv-19`` for Odoo 19; ``_common.MAJOR`` says which one a
process works for). Where that major's Odoo comes from decides the mode (the script never downloads Odoo):

* ``src``    — ``ODOO19_SRC=/path/to/odoo-19`` (``ODOO<major>_SRC``; ``ODOO_SRC`` names a tree of any major): a plain
  venv on ``python3.12`` when that runs, else ``python3``; Odoo's own ``requirements.txt`` is installed into it and
  the tree is put on ``sys.path`` by a ``.pth`` file (what an editable install does, without writing into the tree).
* ``system`` — an interpreter on PATH (``python3``, ``python3.12``, ...; also pyenv's versions) already imports that
  major's ``odoo``: a venv of that interpreter with ``--system-site-packages``.
* ``none``   — neither (or ``OUTLOOK_TEST_NO_ODOO=1``): a plain venv; only the suites that need no Odoo run.

Then ``requirements-test.txt`` is installed with every package already present pinned as a constraint, so
Odoo's pinned versions are never upgraded or replaced. A marker in the venv records the mode, the interpreter
and a hash of the requirement files: when nothing changed, a second run does nothing.

    python3 tools/bootstrap.py [--force] [--odoo 19]     (default: every supported major found)
"""

import argparse
import concurrent.futures
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
    MAJOR,
    MAJOR_ENV,
    PRIMARY_MAJOR,
    REPO,
    SUPPORTED_MAJORS,
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
    tagged,
    venv_python,
    warn,
    write_json,
)

MARKER = VENV / ".outlook-bootstrap.json"
SETUP_LOG = LOGS / f"{tagged('setup')}.log"
BUILD_CONSTRAINTS = REPO / "tools" / "build-constraints.txt"
REQUIREMENT_FILES = [REPO / "requirements.txt", REPO / "requirements-test.txt"]
# Headers that Odoo 18's requirements need when a pin has no wheel for this Python (python-ldap, psycopg2).
ODOO_BUILD_DEBS = ["libldap2-dev", "libsasl2-dev", "libpq-dev"]
NO_ODOO_HINT = "set ODOO{major}_SRC=/path/to/odoo-{major}, or install it into a python3.N on PATH"
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


def source_tree(variable, value):
    """``(tree, (major, minor))`` of the Odoo source tree a variable names; SetupError when it is none."""
    tree = Path(value).expanduser().resolve()
    if (tree / "release.py").is_file() and tree.name == "odoo":
        tree = tree.parent  # pointed at the package itself
    if not (tree / "odoo" / "release.py").is_file():
        raise SetupError(f"{variable}={value} is not an Odoo source tree (no odoo/release.py in it)")
    version = odoo_version(tree / "odoo")
    if not version:
        raise SetupError(f"{variable}={value}: cannot read the Odoo version of {tree / 'odoo' / 'release.py'}")
    return tree, version


def interpreters(env):
    """Python 3 interpreters to look for an importable Odoo in, in order: ``OUTLOOK_PYTHON``, each ``python3`` and
    ``python3.N`` on PATH (PATH order), then pyenv's installed versions (``$PYENV_ROOT``, else ``~/.pyenv``), which
    a PATH without pyenv's shims (CI) does not show."""
    found, seen = [], set()

    def add(path):
        real = os.path.realpath(path)
        if real not in seen and os.access(path, os.X_OK) and not os.path.isdir(path):
            seen.add(real)
            found.append(str(path))

    if env.get("OUTLOOK_PYTHON"):
        add(shutil.which(env["OUTLOOK_PYTHON"], path=env.get("PATH")) or env["OUTLOOK_PYTHON"])
    for folder in (env.get("PATH") or os.defpath).split(os.pathsep):
        try:
            names = sorted(os.listdir(folder or "."), key=python_name_key)
        except OSError:
            continue
        for name in names:
            if PYTHON_NAME.fullmatch(name):
                add(os.path.join(folder or ".", name))
    pyenv_root = Path(env.get("PYENV_ROOT") or Path("~/.pyenv").expanduser())
    for folder in sorted((pyenv_root / "versions").glob("3.*/bin"), key=lambda p: python_name_key(p.parent.name)):
        if (folder / "python3").exists():
            add(folder / "python3")
    return found


PYTHON_NAME = re.compile(r"python3(\.\d+)?")


def python_name_key(name):
    """``python3`` before ``python3.10`` before ``python3.12``; ``3.9.18`` before ``3.10.13`` (pyenv folders)."""
    return [int(part) if part.isdigit() else -1 for part in re.split(r"[.]", name.replace("python", ""))]


def discover(env):
    """Every Odoo this machine offers, by major: ``({major: candidate}, [notes])``.

    A candidate is ``{"how": "src", "tree": ..., "variable": ...}`` for a source tree named by ``ODOO_SRC`` or
    ``ODOO<major>_SRC`` (``ODOO19_SRC=/path/to/odoo-19``), or ``{"how": "system", "python": ...}`` for an
    interpreter that imports ``odoo`` (:func:`interpreters`). A variable wins over an interpreter, ``ODOO<major>_SRC``
    over ``ODOO_SRC``, and the first interpreter over the next ones for the same major.
    """
    found, notes = {}, []
    if env.get("OUTLOOK_TEST_NO_ODOO", "").lower() in ("1", "true", "yes"):
        return found, ["Odoo hidden by OUTLOOK_TEST_NO_ODOO=1"]
    numbered = sorted(
        (name for name in env if re.fullmatch(r"ODOO\d+_SRC", name) and env[name].strip()),
        key=lambda name: int(name[4:-4]),
    )
    for variable in [*numbered, "ODOO_SRC"]:
        value = env.get(variable, "").strip()
        if not value:
            continue
        tree, version = source_tree(variable, value)
        wanted = int(variable[4:-4]) if variable != "ODOO_SRC" else version[0]
        if version[0] != wanted:
            raise SetupError(f"{variable}={value} holds Odoo {version_text(version)}, not Odoo {wanted}")
        if wanted in found:
            notes.append(f"{variable}={value} ignored: {found[wanted]['variable']} already gives Odoo {wanted}")
            continue
        found[wanted] = {"how": "src", "tree": str(tree), "variable": variable, "version": version}
    candidates = interpreters(env)
    # one probe per interpreter, side by side: pyenv's shims take a good part of a second each
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(quiet_probe, candidates))
    for python, info in zip(candidates, infos, strict=True):
        if not info or tuple(int(x) for x in info["version"].split(".")) < (3, 10):
            continue
        version = info["odoo_dir"] and odoo_version(info["odoo_dir"])
        if version and version[0] not in found:
            found[version[0]] = {"how": "system", "python": python, "version": version, "odoo_dir": info["odoo_dir"]}
    return found, notes


def quiet_probe(python):
    """:func:`probe`, or None when ``python`` does not run it (a shim of a version pyenv does not offer, Python 2)."""
    try:
        return probe(python)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def detect(env):
    """Decide mode, interpreter and Odoo location for this process's Odoo major (``_common.MAJOR``). Returns a dict
    (the marker minus the hash)."""
    override = env.get("OUTLOOK_PYTHON")
    found, notes = discover(env)
    candidate = found.get(MAJOR)
    if candidate and candidate["how"] == "src":
        tree = Path(candidate["tree"])
        python = pick_python([override, "python3.12", "python3"])
        return _plan("src", python, odoo_src=str(tree), odoo_dir=str(tree / "odoo"), odoo_version=candidate["version"])
    if candidate:
        return _plan("system", candidate["python"], odoo_dir=candidate["odoo_dir"], odoo_version=candidate["version"])
    return _plan("none", pick_python([override, "python3"]), reason=no_odoo_reason(MAJOR, found, notes))


def no_odoo_reason(major, found, notes):
    if notes and not found:
        return notes[0]
    others = ", ".join(f"Odoo {version_text(c['version'])}" for _, c in sorted(found.items()))
    return f"no Odoo {major} found ({NO_ODOO_HINT.format(major=major)}{f'; found {others}' if others else ''})"


def _plan(mode, python, *, reason=None, odoo_src=None, odoo_dir=None, odoo_version=None):
    if not python:
        raise SetupError("no working python3 (>= 3.10) on PATH")
    info = probe(python)
    if not info:
        raise SetupError(f"{python} does not run")
    return {
        "major": MAJOR,
        "venv": str(VENV),
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
        f"creating {VENV.name} (mode {plan['mode']}, Python {plan['python_version']} {plan['base_python']}"
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
        raise SetupError(f"the new {VENV.name} cannot import what the suites need (see above)")


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------
def ensure(env=None, force=False):
    """Make sure this major's venv matches the current mode and requirements; returns the plan (see ``detect``)."""
    env = os.environ if env is None else env
    plan = detect(env)
    plan["hash"] = requirements_hash(plan)
    marker = read_json(MARKER)
    # why there is no Odoo is no reason to rebuild a venv without Odoo
    changed = sorted(k for k in plan if k != "no_odoo_reason" and (marker or {}).get(k) != plan.get(k))
    if not force and marker and not changed and venv_python().exists() and python_ok(str(venv_python())):
        step(f"{VENV.name} up to date (mode {plan['mode']}{odoo_note(plan)})")
        return plan
    if marker and changed:
        step(f"{VENV.name} out of date ({', '.join(changed)} changed): rebuilding")
    try:
        build(plan)
    except CommandError as exc:
        raise SetupError(f"{exc} (full log: {SETUP_LOG})") from exc
    write_json(MARKER, plan)
    step(f"{VENV.name} ready (mode {plan['mode']}{odoo_note(plan)})")
    return plan


def odoo_note(plan):
    if plan["odoo_dir"]:
        return f", Odoo {plan['odoo_version']} from {plan['odoo_dir']}"
    return f", no Odoo: {plan['no_odoo_reason']}"


def child_env(major, env=None):
    """The environment of a process that works for Odoo ``major`` (its venv, its files under .run/)."""
    env = dict(os.environ if env is None else env)
    env[MAJOR_ENV] = str(major)
    env.pop("PYTHONPATH", None)
    return env


def choose_major(requested=None, env=None):
    """The major a demo, benchmark or translation run uses: ``requested`` (``ODOO=19``), else the first supported
    major found; ``(major, None)``, or ``(None, reason)`` when that major is not on this machine."""
    found, notes = discover(os.environ if env is None else env)
    if requested:
        major = int(requested)
        if major not in SUPPORTED_MAJORS:
            return None, f"Odoo {major} is not supported (supported: {', '.join(map(str, SUPPORTED_MAJORS))})"
        return (major, None) if major in found else (None, no_odoo_reason(major, found, notes))
    usable = [major for major in SUPPORTED_MAJORS if major in found]
    return (usable[0], None) if usable else (None, no_odoo_reason(PRIMARY_MAJOR, found, notes))


def work_for_major(major):
    """Make this process work for Odoo ``major``: start this script again with ``OUTLOOK_ODOO_MAJOR`` set (the paths
    of _common are per major, computed at import) unless it already does."""
    if major != MAJOR:
        os.execve(sys.executable, [sys.executable, *sys.argv], child_env(major))


def main():
    parser = argparse.ArgumentParser(description="Create or refresh the venv of each Odoo major found.")
    parser.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    parser.add_argument("--odoo", type=int, help="only this Odoo major (the venv of no Odoo when none is found)")
    opts = parser.parse_args()
    start = time.monotonic()
    try:
        found, _notes = discover(os.environ)
    except SetupError as exc:
        warn(f"setup failed: {exc}")
        return 1
    majors = [opts.odoo] if opts.odoo else [m for m in SUPPORTED_MAJORS if m in found] or [PRIMARY_MAJOR]
    code = 0
    for major in majors:
        if major == MAJOR:
            try:
                ensure(force=opts.force)
            except SetupError as exc:
                warn(f"setup failed: {exc}")
                code = 1
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--odoo", str(major), *(["--force"] * opts.force)]
            code = subprocess.run(cmd, env=child_env(major), stdin=subprocess.DEVNULL, check=False).returncode or code
    say(f"    [setup: {fmt_seconds(time.monotonic() - start)}]")
    return code


if __name__ == "__main__":
    exit_on_interrupt(main)
