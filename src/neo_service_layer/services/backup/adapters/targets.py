"""Backup targets: a local directory, and S3-compatible object storage through ``boto3``.

Both stream: the local target writes piece by piece to a temporary name and renames it when complete;
the S3 target uploads parts of ``part_size`` bytes (multipart upload), so memory stays flat.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from neo_service_layer.services.backup.ports import Retention, StoredObject
from neo_service_layer.services.backup.rules.backup import BackupError, BackupNotFound

READ_SIZE = 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
_PARTIAL = ".partial-"


class BackupTargetError(BackupError):
    """The target refused or failed an operation (message: operation, object, error code)."""

    code = "backup-target-error"


class LocalDirectoryTarget:
    """Objects are files in one directory (mode 0600); retention is not enforced here."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def description(self) -> str:
        return f"local directory {self.directory}"

    def _path(self, name: str) -> Path:
        if "/" in name or name.startswith(".") or not name:
            raise BackupTargetError(f"invalid object name {name!r}")
        return self.directory / name

    async def put(self, name: str, chunks: AsyncIterable[bytes], retention: Retention | None = None) -> int:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self._path(name)
        partial = self.directory / f".{name}{_PARTIAL}{uuid.uuid4().hex[:8]}"
        size = 0
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                async for piece in chunks:
                    await asyncio.to_thread(handle.write, piece)
                    size += len(piece)
                handle.flush()
                await asyncio.to_thread(os.fsync, handle.fileno())
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        return size

    async def get(self, name: str) -> AsyncIterator[bytes]:
        try:
            handle = self._path(name).open("rb")
        except FileNotFoundError:
            raise BackupNotFound(f"no object {name} in {self.description}") from None
        with handle:
            while piece := await asyncio.to_thread(handle.read, READ_SIZE):
                yield piece

    async def read_prefix(self, name: str, length: int) -> bytes:
        try:
            with self._path(name).open("rb") as handle:
                return handle.read(length)
        except FileNotFoundError:
            raise BackupNotFound(f"no object {name} in {self.description}") from None

    async def list_objects(self, prefix: str = "") -> list[StoredObject]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.iterdir()):
            if path.name.startswith(prefix) and path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                found.append(
                    StoredObject(path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
                )
        return found

    async def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class S3Target:
    """An S3 bucket (AWS, MinIO, Ceph...) under a key prefix; boto3 calls run in worker threads.

    With ``Retention``, objects get S3 Object Lock (``ObjectLockMode`` and
    ``ObjectLockRetainUntilDate``); the bucket must have been created with Object Lock enabled.
    Credentials come from boto3's default chain (environment, profile, instance or pod role).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        part_size: int = 8 * 1024 * 1024,
        client: Any = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.endpoint_url = endpoint_url
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    @property
    def description(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    async def _call(self, operation: str, name: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, operation), **kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise BackupNotFound(f"no object {name} in {self.description}") from None
            raise BackupTargetError(f"S3 {operation} of {name} failed: {code or 'error'}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise BackupTargetError(f"S3 {operation} of {name} failed: {type(exc).__name__}") from None

    async def put(self, name: str, chunks: AsyncIterable[bytes], retention: Retention | None = None) -> int:
        key = self.prefix + name
        lock: dict[str, Any] = {}
        if retention is not None:
            lock = {"ObjectLockMode": retention.mode, "ObjectLockRetainUntilDate": retention.retain_until}
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            async for piece in chunks:
                buffer += piece
                size += len(piece)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        created = await self._call(
                            "create_multipart_upload", name, Bucket=self.bucket, Key=key, **lock
                        )
                        upload_id = str(created["UploadId"])
                    body, buffer = bytes(buffer[: self.part_size]), buffer[self.part_size :]
                    parts.append(await self._part(name, key, upload_id, len(parts) + 1, body))
            if upload_id is None:
                await self._call("put_object", name, Bucket=self.bucket, Key=key, Body=bytes(buffer), **lock)
                return size
            if buffer or not parts:
                parts.append(await self._part(name, key, upload_id, len(parts) + 1, bytes(buffer)))
            done = await self._call(
                "complete_multipart_upload",
                name,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            upload_id = None
        except BaseException:
            if upload_id is not None:
                await self._call(
                    "abort_multipart_upload", name, Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        if retention is not None:
            version = {"VersionId": done["VersionId"]} if done.get("VersionId") else {}
            await self._call(
                "put_object_retention",
                name,
                Bucket=self.bucket,
                Key=key,
                Retention={"Mode": retention.mode, "RetainUntilDate": retention.retain_until},
                **version,
            )
        return size

    async def _part(self, name: str, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = await self._call(
            "upload_part", name, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        part: dict[str, Any] = {"PartNumber": number, "ETag": answer["ETag"]}
        for field in (
            "ChecksumCRC32",
            "ChecksumCRC32C",
            "ChecksumSHA1",
            "ChecksumSHA256",
            "ChecksumCRC64NVME",
        ):
            if answer.get(field):
                part[field] = answer[field]
        return part

    async def get(self, name: str) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", name, Bucket=self.bucket, Key=self.prefix + name)
        body = answer["Body"]
        try:
            while piece := await asyncio.to_thread(body.read, READ_SIZE):
                yield piece
        finally:
            body.close()

    async def read_prefix(self, name: str, length: int) -> bytes:
        answer = await self._call(
            "get_object", name, Bucket=self.bucket, Key=self.prefix + name, Range=f"bytes=0-{length - 1}"
        )
        body = answer["Body"]
        try:
            return bytes(await asyncio.to_thread(body.read))
        finally:
            body.close()

    async def list_objects(self, prefix: str = "") -> list[StoredObject]:
        found: list[StoredObject] = []
        token: dict[str, str] = {}
        while True:
            answer = await self._call(
                "list_objects_v2", prefix, Bucket=self.bucket, Prefix=self.prefix + prefix, **token
            )
            for item in answer.get("Contents", []):
                name = str(item["Key"])[len(self.prefix) :]
                if "/" not in name:
                    found.append(StoredObject(name, int(item["Size"]), item["LastModified"]))
            if not answer.get("IsTruncated"):
                return sorted(found, key=lambda o: o.name)
            token = {"ContinuationToken": str(answer["NextContinuationToken"])}

    async def delete(self, name: str) -> None:
        await self._call("delete_object", name, Bucket=self.bucket, Key=self.prefix + name)
