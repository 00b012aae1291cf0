"""`python -m soundlake.report` (the same as `soundlake report`)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
