"""``python -m accesslake.cli``: the command line."""

import sys

from accesslake.cli.app import main

sys.exit(main())
