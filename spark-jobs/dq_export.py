"""spark-submit entry point of ``soundlake_jobs.dq_export`` (see its module documentation, or ``--help``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soundlake_jobs.dq_export import main

if __name__ == "__main__":
    sys.exit(main())
