"""``python -m kerasrec``: the ``kerasrec`` command."""

import sys

from kerasrec.cli import main

sys.exit(main())
