"""Provision Metabase with Soundlake's business dashboards, idempotently, through its REST API.

On a fresh instance it creates the admin user (Metabase's setup); then, on every run, it creates
or updates the ClickHouse connection, a collection, the questions and the dashboards described in
ops/metabase/dashboards.json — matched by name, so running it again changes nothing but what
the spec changed. Standard library only (urllib).

    soundlake metabase-provision --url http://localhost:3000 \\
        --admin-email admin@example.com --admin-password-file docker/secrets/metabase_admin_password \\
        --clickhouse-host clickhouse --clickhouse-password-file docker/secrets/clickhouse_password

Secrets come from files or the environment (SOUNDLAKE_METABASE_ADMIN_PASSWORD,
SOUNDLAKE_CLICKHOUSE_PASSWORD), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundlake.paths import SERVICE_CONF

SPEC = SERVICE_CONF / "metabase" / "dashboards.json"
TIMEOUT_S = 60.0


class ProvisionError(Exception):
    """Metabase refused a request, or the setup cannot go on."""


@dataclass
class Metabase:
    """A Metabase REST API client holding a session."""

    url: str
    session: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ProvisionError(f"not an HTTP URL of Metabase: {self.url!r}")

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            f"{self.url.rstrip('/')}/api/{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if self.session:
            request.add_header("X-Metabase-Session", self.session)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise ProvisionError(
                f"{method} /api/{path} answered HTTP {err.code}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            raise ProvisionError(
                f"cannot reach Metabase at {self.url} ({err}); is it up? "
                "(docker compose ps metabase)"
            ) from None
        return json.loads(raw) if raw.strip() else None


@dataclass(frozen=True)
class Settings:
    admin_email: str
    admin_password: str = field(repr=False)
    clickhouse: dict[str, Any] = field(repr=False)


def log(message: str) -> None:
    print(f"metabase-provision: {message}", file=sys.stderr)


def login(mb: Metabase, settings: Settings) -> None:
    """Metabase's first-run setup on a fresh instance (creates the admin), else a login."""
    properties = mb.call("GET", "session/properties")
    token = properties.get("setup-token")
    if token and not properties.get("has-user-setup"):
        log(f"fresh instance: creating the admin {settings.admin_email}")
        answer = mb.call(
            "POST",
            "setup",
            {
                "token": token,
                "user": {
                    "email": settings.admin_email,
                    "password": settings.admin_password,
                    "first_name": "Soundlake",
                    "last_name": "Admin",
                    "site_name": "Soundlake",
                },
                "prefs": {"site_name": "Soundlake", "site_locale": "en", "allow_tracking": False},
            },
        )
    else:
        answer = mb.call(
            "POST",
            "session",
            {"username": settings.admin_email, "password": settings.admin_password},
        )
    mb.session = answer["id"]


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The live (not archived) item called `name`."""
    for item in items:
        if item.get("name") == name and not item.get("archived"):
            return item
    return None


def listed(answer: Any) -> list[dict[str, Any]]:
    """Metabase answers lists either bare or as {"data": [...]}."""
    items: list[dict[str, Any]] = answer["data"] if isinstance(answer, dict) else answer
    return items


def ensure_database(mb: Metabase, spec: dict[str, Any], settings: Settings) -> int:
    name = spec["database"]["name"]
    body = {"name": name, "engine": spec["database"]["engine"], "details": settings.clickhouse}
    existing = by_name(listed(mb.call("GET", "database")), name)
    if existing is None:
        log(f"creating the connection {name!r} ({settings.clickhouse['host']})")
        created = mb.call("POST", "database", body)
        return int(created["id"])
    log(f"updating the connection {name!r}")
    mb.call("PUT", f"database/{existing['id']}", body)
    return int(existing["id"])


def ensure_collection(mb: Metabase, name: str) -> int:
    existing = by_name(listed(mb.call("GET", "collection")), name)
    if existing is not None:
        return int(existing["id"])
    log(f"creating the collection {name!r}")
    created = mb.call("POST", "collection", {"name": name, "color": "#2563eb"})
    return int(created["id"])


def description(question: dict[str, Any]) -> str:
    """A question's description: where it comes from, and what no results mean (the gold table
    exists as soon as its report is built, empty until the report counts something)."""
    return (
        f"From {question['table']} (dbt_spark/models/gold/). No results = no data yet: the "
        "report has no rows so far."
    )


def card_body(question: dict[str, Any], database_id: int, collection_id: int) -> dict[str, Any]:
    return {
        "name": question["name"],
        "collection_id": collection_id,
        "display": question["display"],
        "visualization_settings": question["visualization_settings"],
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": question["sql"], "template-tags": {}},
        },
        "description": description(question),
    }


def ensure_questions(
    mb: Metabase, spec: dict[str, Any], database_id: int, collection_id: int
) -> dict[str, int]:
    cards = [
        c for c in listed(mb.call("GET", "card?f=all")) if c.get("collection_id") == collection_id
    ]
    ids = {}
    for n, question in enumerate(spec["questions"], 1):
        body = card_body(question, database_id, collection_id)
        existing = by_name(cards, question["name"])
        if existing is None:
            log(f"[{n}/{len(spec['questions'])}] creating question {question['name']!r}")
            ids[question["name"]] = int(mb.call("POST", "card", body)["id"])
        else:
            log(f"[{n}/{len(spec['questions'])}] updating question {question['name']!r}")
            mb.call("PUT", f"card/{existing['id']}", body)
            ids[question["name"]] = int(existing["id"])
    return ids


def ensure_dashboards(
    mb: Metabase, spec: dict[str, Any], card_ids: dict[str, int], collection_id: int
) -> None:
    dashboards = [
        d for d in listed(mb.call("GET", "dashboard")) if d.get("collection_id") == collection_id
    ]
    for dashboard in spec["dashboards"]:
        existing = by_name(dashboards, dashboard["name"])
        if existing is None:
            log(f"creating dashboard {dashboard['name']!r}")
            existing = mb.call(
                "POST",
                "dashboard",
                {
                    "name": dashboard["name"],
                    "description": dashboard["description"],
                    "collection_id": collection_id,
                },
            )
        else:
            log(f"updating dashboard {dashboard['name']!r}")
        # PUT with the full list of dashcards replaces the dashboard's cards (Metabase ≥ 0.47):
        # negative ids are new cards, so the result is the spec's layout on every run
        dashcards = [
            {
                "id": -(i + 1),
                "card_id": card_ids[card["question"]],
                "row": card["row"],
                "col": card["col"],
                "size_x": card["size_x"],
                "size_y": card["size_y"],
                "parameter_mappings": [],
                "visualization_settings": {},
            }
            for i, card in enumerate(dashboard["cards"])
        ]
        mb.call(
            "PUT",
            f"dashboard/{existing['id']}",
            {"description": dashboard["description"], "dashcards": dashcards},
        )


def secret(env: str, file_arg: str | None) -> str:
    if file_arg:
        try:
            value = Path(file_arg).read_text().strip()
        except OSError as err:
            raise ProvisionError(f"cannot read {file_arg}: {err.strerror}") from None
    else:
        value = os.environ.get(env, "").strip()
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soundlake metabase-provision",
        description="Create or update Metabase's admin, ClickHouse connection, questions and "
        "dashboards (ops/metabase/dashboards.json) through its REST API; idempotent.",
    )
    p.add_argument("--url", default=os.environ.get("SOUNDLAKE_METABASE_URL", "http://localhost:3000"),
                   help="Metabase [env SOUNDLAKE_METABASE_URL; default %(default)s]")  # fmt: skip
    p.add_argument("--spec", type=Path, default=SPEC, help="questions and dashboards [%(default)s]")
    p.add_argument("--admin-email", default=os.environ.get("SOUNDLAKE_METABASE_ADMIN_EMAIL",
                   "admin@soundlake.local"), help="the admin account [%(default)s]")  # fmt: skip
    p.add_argument("--admin-password-file", help="file with the admin's password "
                   "[else env SOUNDLAKE_METABASE_ADMIN_PASSWORD]")  # fmt: skip
    p.add_argument("--clickhouse-host", default="clickhouse", help="[%(default)s]")
    p.add_argument("--clickhouse-port", type=int, default=8123, help="HTTP port [%(default)s]")
    p.add_argument("--clickhouse-database", default="soundlake", help="[%(default)s]")
    p.add_argument("--clickhouse-user", default="soundlake", help="[%(default)s]")
    p.add_argument("--clickhouse-password-file", help="file with the ClickHouse password "
                   "[else env SOUNDLAKE_CLICKHOUSE_PASSWORD]")  # fmt: skip
    p.add_argument("--dry-run", action="store_true",
                   help="check the spec and print what would be created; contact nothing")  # fmt: skip
    return p


def load_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    names = [q["name"] for q in spec["questions"]]
    if len(set(names)) != len(names):
        raise ProvisionError(f"{path}: question names must be unique")
    for dashboard in spec["dashboards"]:
        unknown = {c["question"] for c in dashboard["cards"]} - set(names)
        if unknown:
            raise ProvisionError(f"{path}: {dashboard['name']} uses unknown questions {unknown}")
    return spec


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        spec = load_spec(args.spec)
        if args.dry_run:
            print(f"connection {spec['database']['name']!r} -> ClickHouse "
                  f"{args.clickhouse_host}:{args.clickhouse_port}/{args.clickhouse_database}")  # fmt: skip
            for question in spec["questions"]:
                print(
                    f"question {question['name']!r} ({question['display']}, {question['table']}): "
                    f"{description(question)}"
                )
            for dashboard in spec["dashboards"]:
                print(f"dashboard {dashboard['name']!r}: {len(dashboard['cards'])} cards")
            return 0
        password = secret("SOUNDLAKE_METABASE_ADMIN_PASSWORD", args.admin_password_file)
        if not password:
            raise ProvisionError(
                "no admin password: give --admin-password-file or SOUNDLAKE_METABASE_ADMIN_PASSWORD"
            )
        settings = Settings(
            admin_email=args.admin_email,
            admin_password=password,
            clickhouse={
                "host": args.clickhouse_host,
                "port": args.clickhouse_port,
                "dbname": args.clickhouse_database,
                "user": args.clickhouse_user,
                "password": secret("SOUNDLAKE_CLICKHOUSE_PASSWORD", args.clickhouse_password_file),
                "ssl": False,
            },
        )
        mb = Metabase(args.url)
        login(mb, settings)
        database_id = ensure_database(mb, spec, settings)
        collection_id = ensure_collection(mb, spec["collection"])
        card_ids = ensure_questions(mb, spec, database_id, collection_id)
        ensure_dashboards(mb, spec, card_ids, collection_id)
    except ProvisionError as err:
        print(f"metabase-provision: {err}", file=sys.stderr)
        return 1
    log(f"done: {len(spec['questions'])} questions, {len(spec['dashboards'])} dashboards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
