"""File operations on the lake through the Hadoop FileSystem API of the Spark driver's JVM.

Why the JVM's client and not hdfs-native: the jobs already run a Spark driver, whose Hadoop client
speaks to every scheme Spark reads (``hdfs://``, ``file://``) with the same configuration, so the
files a job renames are exactly the files Spark lists. The one primitive the compaction protocol
needs beyond plain calls is a **rename that never overwrites**: ``FileContext.rename`` with
``Options.Rename.NONE`` — on HDFS one atomic NameNode operation that fails with
``FileAlreadyExistsException`` when the target exists (``FileSystem.rename`` instead *moves into*
an existing directory and only returns ``False`` on errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class LakeFsError(Exception):
    """A file operation on the lake failed; the message names the operation and the paths."""


class AlreadyExistsError(LakeFsError):
    """The target of a create or rename exists."""


class NotFoundError(LakeFsError):
    """The source of a rename or read does not exist."""


@dataclass(frozen=True)
class FileInfo:
    """One entry of a listing."""

    url: str
    name: str
    is_dir: bool
    size: int
    modified_ms: int


class HadoopFs:
    """The lake's file system as seen by the Spark driver (any URL Spark can read)."""

    def __init__(self, spark: SparkSession) -> None:
        jvm = spark.sparkContext._jvm
        if jvm is None:
            raise LakeFsError("the Spark session has no JVM gateway (was it stopped?)")
        self._jvm: Any = jvm
        self._gateway: Any = spark.sparkContext._gateway
        self._conf: Any = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        self._rename_class: Any = self._jvm.org.apache.hadoop.fs.Options.Rename

    # -- paths ----------------------------------------------------------------------------------

    def _path(self, url: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(url)

    def _fs(self, url: str) -> Any:
        return self._path(url).getFileSystem(self._conf)

    # -- queries --------------------------------------------------------------------------------

    def exists(self, url: str) -> bool:
        return bool(self._fs(url).exists(self._path(url)))

    def list(self, url: str) -> list[FileInfo]:
        """The entries of a folder, sorted by name; empty when the folder does not exist."""
        if not self.exists(url):
            return []
        statuses = self._fs(url).listStatus(self._path(url))
        entries = [
            FileInfo(
                url=status.getPath().toString(),
                name=status.getPath().getName(),
                is_dir=bool(status.isDirectory()),
                size=int(status.getLen()),
                modified_ms=int(status.getModificationTime()),
            )
            for status in statuses
        ]
        return sorted(entries, key=lambda entry: entry.name)

    def read_bytes(self, url: str) -> bytes:
        if not self.exists(url):
            raise NotFoundError(f"cannot read {url}: it does not exist")
        stream = self._fs(url).open(self._path(url))
        try:
            data: bytes = bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
        return data

    # -- changes --------------------------------------------------------------------------------

    def mkdirs(self, url: str) -> None:
        if not self._fs(url).mkdirs(self._path(url)):
            raise LakeFsError(f"cannot create the folder {url}")

    def write_new(self, url: str, data: bytes) -> None:
        """Write a new file (fails with AlreadyExistsError when ``url`` exists). Not atomic by
        itself: use ``create_exclusive`` for files whose existence means something."""
        try:
            stream = self._fs(url).create(self._path(url), False)
        except Exception as err:
            if "FileAlreadyExistsException" in str(err) or self.exists(url):
                raise AlreadyExistsError(f"cannot create {url}: it exists") from err
            raise LakeFsError(f"cannot create {url}: {err}") from err
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def rename_no_replace(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target`` atomically (on HDFS); fail if ``target`` exists.
        Creates ``target``'s parent folder first."""
        parent = self._path(target).getParent()
        if parent is not None and not self.exists(parent.toString()):
            self.mkdirs(parent.toString())
        options = self._gateway.new_array(self._rename_class, 1)
        options[0] = self._rename_class.NONE
        context = self._jvm.org.apache.hadoop.fs.FileContext.getFileContext(
            self._path(source).toUri(), self._conf
        )
        try:
            context.rename(self._path(source), self._path(target), options)
        except Exception as err:
            text = str(err)
            if "FileAlreadyExistsException" in text:
                raise AlreadyExistsError(
                    f"cannot rename {source} to {target}: {target} exists"
                ) from err
            if "FileNotFoundException" in text:
                raise NotFoundError(f"cannot rename {source}: it does not exist") from err
            raise LakeFsError(f"cannot rename {source} to {target}: {text[:500]}") from err

    def create_exclusive(self, url: str, data: bytes, temp_url: str) -> None:
        """Make ``url`` appear complete or not at all, only once: write ``temp_url``, then
        rename it without overwrite (AlreadyExistsError when ``url`` exists)."""
        self.delete(temp_url)
        self.write_new(temp_url, data)
        try:
            self.rename_no_replace(temp_url, url)
        except AlreadyExistsError:
            self.delete(temp_url)
            raise

    def delete(self, url: str, *, recursive: bool = False) -> bool:
        """Delete a file (or a folder with ``recursive``); False when it did not exist."""
        if not self.exists(url):
            return False
        return bool(self._fs(url).delete(self._path(url), recursive))
