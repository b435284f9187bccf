"""``python -m sweeps``."""

import sys

from sweeps.cli import command

sys.exit(command())
