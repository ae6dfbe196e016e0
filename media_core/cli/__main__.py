import sys

from media_core.cli import main

sys.exit(main())
