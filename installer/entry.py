"""The one entry script of every frozen executable (PyInstaller analyses this file).

The bundle holds up to three executables built from it; each one's file name says what it is:
- `gravity-desktop`: the app (`gravity_desktop.ui.app:main`);
- `gravity`: the command line (`gravity_desktop.cli:main`);
- `gravity-worker`: the training pack's worker, which only runs modules.

Any of them called as `EXE -m MODULE ARGS` runs that module the way `python -m` would, because the
core starts its workers as `sys.executable -m MODULE` and in a bundle `sys.executable` is the
executable itself (see gravity_desktop/packs.py for where training modules go).
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "-m":
        from gravity_desktop.packs import run_module

        return run_module(args[1], args[2:])
    name = Path(sys.executable).stem.lower()
    if name == "gravity":
        from gravity_desktop.cli import main as cli_main

        return cli_main(prog_name="gravity") or 0
    if name == "gravity-worker":
        print("gravity-worker runs GRAVITY Desktop's training workers: gravity-worker -m MODULE")
        return 2
    from gravity_desktop.ui.app import main as app_main

    app_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
