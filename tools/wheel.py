#!/usr/bin/env python3
"""``make wheel``: build ``dist/odoo_addon_outlook_calendar_sync-<version>-py3-none-any.whl`` and check it.

whool (OCA's build backend, ``pyproject.toml``) names the wheel after the checkout's folder and versions it from
``__manifest__.py`` plus the number of commits since the version changed, and it packs the git-tracked files. So
the wheel is built from a local clone of HEAD (the committed state) in ``.run/wheel/outlook_calendar_sync``,
whatever this checkout's folder is called, with the pip of the project's ``.venv`` (set up as ``make setup``
does). pip fetches whool for the build (build isolation). Then the wheel's
metadata must name ``odoo-addon-outlook_calendar_sync``, require ``msal`` and ``requests``, and hold the add-on under
``odoo/addons/outlook_calendar_sync/``.

Exit status: 0 when built and checked, 1 otherwise.
"""

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
    CommandError,
    exit_on_interrupt,
    run,
    say,
    step,
    venv_python,
    warn,
)

DIST = REPO / "dist"
REQUIRED = ("msal", "requests")


def build():
    work = RUN / "wheel"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clone = work / ADDON_NAME
    run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], quiet=True)
    DIST.mkdir(exist_ok=True)
    before = set(DIST.glob("*.whl"))
    step(f"pip wheel --no-deps {clone.relative_to(REPO)} (whool)")
    pip_wheel = [str(venv_python()), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(DIST)]
    run([*pip_wheel, str(clone)], quiet=True)
    built = sorted(set(DIST.glob("odoo_addon_outlook_calendar_sync-*.whl")) - before, key=lambda p: p.stat().st_mtime)
    built = built or sorted(DIST.glob("odoo_addon_outlook_calendar_sync-*.whl"), key=lambda p: p.stat().st_mtime)
    shutil.rmtree(work, ignore_errors=True)
    if not built:
        raise CommandError("pip built no odoo_addon_outlook_calendar_sync wheel")
    return built[-1]


def check(wheel):
    """Problems of the wheel's name, metadata and contents ([] when fine)."""
    problems = []
    if not re.fullmatch(r"odoo_addon_outlook_calendar_sync-18\.0\.\d+\.\d+\.\d+(\.\d+)?-py3-none-any\.whl", wheel.name):
        problems.append(f"unexpected wheel name {wheel.name}")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next((archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA")), "")
    headers = [line for line in metadata.splitlines() if ":" in line and not line.startswith(" ")]
    if "Name: odoo-addon-outlook_calendar_sync" not in headers:
        problems.append("metadata does not name odoo-addon-outlook_calendar_sync")
    requires = {
        line.split(":", 1)[1].strip().split()[0].split(";")[0] for line in headers if line.startswith("Requires-Dist:")
    }
    problems += [f"metadata does not require {name}" for name in REQUIRED if name not in requires]
    for needed in ("__manifest__.py", "__init__.py", "models/outlook_mailbox.py", "i18n/fr.po"):
        if f"odoo/addons/{ADDON_NAME}/{needed}" not in names:
            problems.append(f"odoo/addons/{ADDON_NAME}/{needed} missing from the wheel")
    return problems, sorted(requires)


def main():
    try:
        bootstrap.ensure()  # pip comes from the project's venv: the machine's python3 may have none
        wheel = build()
    except (bootstrap.SetupError, CommandError) as exc:
        warn(f"wheel: {exc}")
        return 1
    problems, requires = check(wheel)
    for problem in problems:
        warn(problem)
    say(f"{wheel.relative_to(REPO)}: requires {', '.join(requires)}")
    return 1 if problems else 0


if __name__ == "__main__":
    exit_on_interrupt(main)
