"""`python -m soundlake.report` (what `scripts/soundlake report` runs)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
