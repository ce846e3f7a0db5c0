"""``python -m bnnzoo.cli``: the ``bnnzoo`` command without its console script."""

import sys

from bnnzoo.cli import main

sys.exit(main())
