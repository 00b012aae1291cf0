"""TODO: filled in by its owner."""

from __future__ import annotations

from ..service import Service


class Prometheus(Service):
    name = "prometheus"

    def install(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        return False


class Alertmanager(Service):
    name = "alertmanager"

    def install(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        return False
