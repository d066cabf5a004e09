#!/usr/bin/env python3
"""``make wheel``: one wheel per Odoo series (18.0 and 19.0; ``make wheel SERIES=19.0`` builds one), each checked:
``dist/odoo_addon_outlook_calendar_sync-<series>.<version>-py3-none-any.whl``.

The manifest's version has no series (``1.0.0``: Odoo 18 and 19 both load it as their own, 18.0.1.0.0 and 19.0.1.0.0),
and whool (OCA's build backend, ``pyproject.toml``) reads the series from that version. So for each series:

1. HEAD is cloned into ``.run/wheel/<series>/outlook_calendar_sync`` (whool names the wheel after the folder and packs
   the git-tracked files, so the committed state, whatever this checkout's folder is called);
2. the clone's ``pyproject.toml`` gets whool's ``odoo_series_override``, hidden from git (skip-worktree) so that whool
   still sees a clean checkout: ``pip wheel`` then gives the series' dependencies (``odoo==19.0.*``), and whool's
   version, the manifest's plus the commits since it last changed (``1.0.0.N``);
3. the series goes in front of that version, as Odoo does it: the first wheel's files and metadata (``PKG-INFO``,
   whose name and version whool takes as they are) are built once more into
   ``odoo_addon_outlook_calendar_sync-19.0.1.0.0.N``, which other add-ons' requirements (``==19.0.*``) accept.

Each wheel must then name ``odoo-addon-outlook_calendar_sync``, carry its series' version and ``odoo`` requirement,
require ``msal`` and ``requests``, and hold the add-on under ``odoo/addons/outlook_calendar_sync/``. pip (from the
project's ``.venv``) fetches whool for the builds (build isolation).

Exit status: 0 when built and checked, 1 otherwise.
"""

import argparse
import email.parser
import re
import shutil
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # noqa: E402
from _common import (  # noqa: E402
    ADDON_NAME,
    REPO,
    RUN,
    SUPPORTED_MAJORS,
    CommandError,
    exit_on_interrupt,
    run,
    say,
    step,
    venv_python,
    warn,
)

DIST = REPO / "dist"
WORK = RUN / "wheel"
SERIES = tuple(f"{major}.0" for major in SUPPORTED_MAJORS)
REQUIRED = ("msal", "requests")
WHEEL_GLOB = "odoo_addon_outlook_calendar_sync-*.whl"


def pip_wheel(source, out):
    out.mkdir(parents=True, exist_ok=True)
    run([venv_python(), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, source], quiet=True)
    built = sorted(out.glob(WHEEL_GLOB), key=lambda p: p.stat().st_mtime)
    if not built:
        raise CommandError(f"pip built no {WHEEL_GLOB} from {source}")
    return built[-1]


def wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        text = next((archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA")), "")
    return names, email.parser.HeaderParser().parsestr(text)


def build(series):
    """The wheel of one series, in dist/."""
    work = WORK / series
    shutil.rmtree(work, ignore_errors=True)
    clone = work / ADDON_NAME
    run(["git", "clone", "--quiet", "--no-hardlinks", REPO, clone], quiet=True)
    with open(clone / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[tool.whool]\nodoo_series_override = "{series}"\n')
    run(["git", "-C", clone, "update-index", "--skip-worktree", "pyproject.toml"], quiet=True)
    step(f"{series}: pip wheel --no-deps (whool, odoo_series_override {series})")
    first = pip_wheel(clone, work / "first")
    # the same files and metadata once more, with the series in front of whool's version
    names, metadata = wheel_metadata(first)
    version = metadata["Version"]
    again = work / "prefixed" / ADDON_NAME
    prefix = f"odoo/addons/{ADDON_NAME}/"
    with zipfile.ZipFile(first) as archive:
        for name in names:
            if name.startswith(prefix) and not name.endswith("/"):
                target = again / name[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    shutil.copyfile(clone / "pyproject.toml", again / "pyproject.toml")
    metadata.replace_header("Version", f"{series}.{version}")
    (again / "PKG-INFO").write_text(metadata.as_string(), encoding="utf-8")
    step(f"{series}: version {version} -> {series}.{version}")
    built = pip_wheel(again, work / "final")
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob(f"odoo_addon_outlook_calendar_sync-{series}.*.whl"):
        old.unlink()
    final = DIST / built.name
    shutil.copyfile(built, final)
    shutil.rmtree(work, ignore_errors=True)
    return final


def check(wheel, series):
    """Problems of one wheel's name, metadata and contents ([] when fine)."""
    problems = []
    pattern = rf"odoo_addon_outlook_calendar_sync-{re.escape(series)}\.\d+\.\d+\.\d+(\.\d+)?-py3-none-any\.whl"
    if not re.fullmatch(pattern, wheel.name):
        problems.append(f"unexpected wheel name {wheel.name} for Odoo {series}")
    names, metadata = wheel_metadata(wheel)
    if metadata["Name"] != "odoo-addon-outlook_calendar_sync":
        problems.append(f"metadata names {metadata['Name']!r}, not odoo-addon-outlook_calendar_sync")
    if not (metadata["Version"] or "").startswith(f"{series}."):
        problems.append(f"version {metadata['Version']} does not start with {series}")
    requires = [value.replace(" ", "") for value in metadata.get_all("Requires-Dist") or []]
    if f"odoo=={series}.*" not in requires:
        problems.append(f"metadata does not require odoo=={series}.* (requires {requires})")
    wrong = [r for r in requires if r.startswith("odoo") and r != f"odoo=={series}.*"]
    problems += [f"requirement {r} of another series" for r in wrong if not r.startswith("odoo-addon")]
    names_required = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in requires}
    problems += [f"metadata does not require {name}" for name in REQUIRED if name not in names_required]
    for needed in ("__manifest__.py", "__init__.py", "models/outlook_mailbox.py", "models/compat.py", "i18n/fr.po"):
        if f"odoo/addons/{ADDON_NAME}/{needed}" not in names:
            problems.append(f"odoo/addons/{ADDON_NAME}/{needed} missing from the wheel")
    for unwanted in ("pyproject.toml", "PKG-INFO"):
        if f"odoo/addons/{ADDON_NAME}/{unwanted}" in names:
            problems.append(f"odoo/addons/{ADDON_NAME}/{unwanted} is in the wheel")
    return problems, requires


def main():
    parser = argparse.ArgumentParser(description="Build and check one wheel per Odoo series.")
    parser.add_argument("--series", choices=SERIES, action="append", help="only this series (repeatable)")
    opts = parser.parse_args()
    try:
        bootstrap.ensure()  # pip comes from the project's venv: the machine's python3 may have none
    except bootstrap.SetupError as exc:
        warn(f"wheel: {exc}")
        return 1
    failed = False
    for series in opts.series or SERIES:
        try:
            wheel = build(series)
        except CommandError as exc:
            warn(f"wheel {series}: {exc}")
            failed = True
            continue
        problems, requires = check(wheel, series)
        for problem in problems:
            warn(problem)
        failed = failed or bool(problems)
        say(f"{wheel.relative_to(REPO)}: requires {', '.join(requires)}")
    return 1 if failed else 0


if __name__ == "__main__":
    exit_on_interrupt(main)
