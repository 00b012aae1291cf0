"""TODO: filled in by its owner."""

from __future__ import annotations

from ..service import Service


class HdfsNameNode(Service):
    name = "hdfs-namenode"

    def install(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        return False


class HdfsDataNode(Service):
    name = "hdfs-datanode"

    def install(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        return False
