"""Pure test suite: put the repository root on sys.path (the root __init__.py imports odoo, so the pure packages
``engine``, ``graph`` and ``emulator`` are imported as top-level packages)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
