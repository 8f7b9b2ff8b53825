"""``python -m lineage_fast``: the ``lineage-fast`` command line."""

import sys

from lineage_fast.cli import main

sys.exit(main())
