"""``python -m pipeline.services``: see :mod:`pipeline.services.cli`."""

import sys

from pipeline.services.cli import main

sys.exit(main())
