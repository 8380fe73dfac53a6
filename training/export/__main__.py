"""`python -m training.export`: the same command as `pairscore export`."""

import sys

from training.export.cli import main

sys.exit(main())
