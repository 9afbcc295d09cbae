"""``python -m radonml.cli``: the same as the ``radonml`` command."""

import sys

from . import main

sys.exit(main())
