"""TODO: filled in by its owner."""

from __future__ import annotations

from ..service import Service


class SchemaRegistry(Service):
    name = "schema-registry"

    def install(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        return False
