"""``python -m intrinsic_rob.cli``: the ``intrinsic-rob`` command."""

import sys

from intrinsic_rob.cli import main

sys.exit(main())
