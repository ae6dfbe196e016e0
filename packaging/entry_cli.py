"""Frozen entry point of ``evidence-audit`` (the CLI), as ``pyproject.toml``'s console script."""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from media_core.cli import main

    sys.exit(main())
