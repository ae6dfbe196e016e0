"""``python -m media_core.cli``: the ``evidence-audit`` command."""
import sys

from media_core.cli import main

sys.exit(main())
