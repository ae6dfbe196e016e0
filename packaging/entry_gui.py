"""Frozen entry point of ``evidence-audit-gui`` (the review app), as ``pyproject.toml``'s GUI script.

``freeze_support`` first: the app's ``ProcessWorker`` spawns children, and a frozen child is this
same executable started with multiprocessing's arguments.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from audit_gui.app import main

    sys.exit(main())
