"""``python -m troubleticket``: the same entry point as the console script."""

import sys

from troubleticket.cli import main

sys.exit(main())
