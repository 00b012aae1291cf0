"""Where the repository's files are, seen from the installed package.

``scripts/setup-python`` installs ``soundlake`` editable from ``python/soundlake/``, so the
checkout is two folders above this package: the stack's settings, the dbt project and the
configs of the stack's services are read from there.
"""

from __future__ import annotations

from pathlib import Path

#: the checkout the package is installed from
REPO_ROOT = Path(__file__).resolve().parents[2]
#: the configs of the stack's services (Prometheus, alerts, Alertmanager, Grafana, JMX rules,
#: ClickHouse, Metabase), shared by the local stack and the container deployment
SERVICE_CONF = REPO_ROOT / "ops"
#: the local stack's own files: stack.toml, the Maven poms of its jars, config templates
STACK_FILES = REPO_ROOT / "stack"
