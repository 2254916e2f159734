"""``python -m visualizer`` → the command line."""

import sys

from visualizer.cli import main

sys.exit(main())
