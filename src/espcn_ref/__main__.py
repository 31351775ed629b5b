"""``python -m espcn_ref``: the same as the ``espcn-ref`` command."""

import sys

from .cli import main

sys.exit(main())
