"""spark-submit entry point of ``soundlake_jobs.compact_bronze`` (see its module documentation, or ``--help``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soundlake_jobs.compact_bronze import main

if __name__ == "__main__":
    sys.exit(main())
