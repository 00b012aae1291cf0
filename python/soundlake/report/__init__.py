"""`soundlake report`: a self-contained HTML report of the gold tables, read from ClickHouse.

The page needs no network and no BI server: charts are inline SVG drawn here, styles are inline.
"""

from __future__ import annotations

__all__ = ["main"]

from .cli import main
