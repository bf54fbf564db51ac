"""``nsl keys migrate`` and the two-region flow ``migration-offer`` / ``-export`` / ``-import``.

Offers, bundles and record files are JSON and hold no key in the clear (bundles are encrypted to an
offer's ephemeral key; record files hold sealed records only), so they may travel by any channel.
Registered on the ``keys`` command group by ``entrypoints.cli``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import DomainError
from neo_service_layer.enclave.wire.keys import EnclaveOperationError, SealedKey
from neo_service_layer.kernel.cli_output import JsonFlag, emit_json, progress, progress_wanted, summary
from neo_service_layer.kernel.commands import load_cli_settings
from neo_service_layer.kernel.config import ConfigurationError, Settings, load_settings
from neo_service_layer.kernel.container import OpenContainer
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.services.keys.adapters.sealed_record_store import SqlSealedRecordStore
from neo_service_layer.services.keys.parts import KeysParts
from neo_service_layer.services.keys.use_cases import migration as key_migration
from neo_service_layer.services.keys.use_cases.migration import MigrationReport, Record, RecordStore

OFFERS_FORMAT = "nsl-key-migration-offers/1"
BUNDLES_FORMAT = "nsl-key-migration-bundles/1"
RECORDS_FORMAT = "nsl-sealed-records/1"

console = Console(stderr=True, soft_wrap=True)

RecordsFrom = Annotated[
    Path | None,
    typer.Option(help="Read the old enclave's sealed records from this file instead of the database."),
]
RecordsTo = Annotated[
    Path | None,
    typer.Option(help="Write the new sealed records to this file instead of the database (a standby)."),
]


class RecordFile:
    """Sealed records in a JSON file: what a standby enclave without a database of its own keeps."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def all_records(self) -> list[Record]:
        try:
            body = json.loads(self.path.read_text())
            if body["format"] != RECORDS_FORMAT:
                raise ValueError("not a sealed records file")
            return [
                (str(r["key_id"]), int(r["version"]), b64decode(r["sealed_record"])) for r in body["records"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{self.path}: {exc}") from None

    async def put_records(self, records: Sequence[SealedKey]) -> None:
        current = {(k, v): r for k, v, r in await self.all_records()} if self.path.exists() else {}
        current.update({(s.info.key_id, s.info.version): s.sealed_record for s in records})
        rows = [
            {"key_id": k, "version": v, "sealed_record": b64encode(r)}
            for (k, v), r in sorted(current.items())
        ]
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"format": RECORDS_FORMAT, "records": rows}, handle, indent=1)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _token(path: Path | None, settings: Settings) -> str:
    if path is not None:
        return path.read_text().strip()
    if settings.enclave_token is None:
        console.print("[red]NSL_ENCLAVE_TOKEN (the cli token) is not set (or pass a --...-token-file)[/red]")
        raise typer.Exit(2)
    return settings.enclave_token.get_secret_value()


def _client(settings: Settings, socket: Path | None = None, token_file: Path | None = None) -> EnclaveClient:
    token = _token(token_file, settings)
    if socket is not None:
        return EnclaveClient(socket, token, timeout=settings.enclave_timeout_seconds)
    endpoint = settings.enclave_tcp_address or settings.effective_enclave_socket
    return EnclaveClient(endpoint, token, timeout=settings.enclave_timeout_seconds)


def _run[T](work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; refusals and unreachable enclaves become one red line and exit code 1."""
    try:
        return asyncio.run(work)
    except (EnclaveOperationError, EnclaveUnavailable, DomainError) as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc


async def _with_store[T](
    settings: Settings, path: Path | None, work: Callable[[RecordStore], Awaitable[T]]
) -> T:
    """Run ``work`` on the record file at ``path``, or on the database's ``key_sealed_records``."""
    if path is not None:
        return await work(RecordFile(path))
    engine = create_engine(settings)
    try:
        return await work(SqlSealedRecordStore(engine))
    finally:
        await engine.dispose()


def _read_json(path: Path, expected: str) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != expected:
        raise typer.BadParameter(f"{path} is not a {expected} document")
    return body


def _report(report: MigrationReport, as_json: bool, into: Path | None, seconds: float) -> None:
    """The migration's result: JSON on stdout; with text, what was left out and a summary on stderr."""
    document = {
        **report.summary(),
        "migrated": len(report.imported),
        "left_out": len(report.skipped),
        "stored_in": str(into) if into is not None else "database",
        "seconds": round(seconds, 3),
    }
    if as_json:
        emit_json(document)
        return
    typer.echo(json.dumps(report.summary(), indent=2))
    for key_id, version, reason in report.skipped:
        console.print(f"[yellow]not migrated[/yellow] {key_id} v{version}: {reason}")
    console.print(f"{len(report.imported)} key record(s) migrated, {len(report.skipped)} left out")
    rows = [("stored in", document["stored_in"]), ("duration", f"{seconds:.2f} s")]
    summary("", rows, console=console)


def register(keys_app: typer.Typer) -> None:
    """Add the migration commands to ``nsl keys``."""

    @keys_app.command("migrate")
    def migrate(
        from_socket: Annotated[Path, typer.Option(help="Socket of the old enclave (it holds the keys).")],
        to_socket: Annotated[Path, typer.Option(help="Socket of the new enclave.")],
        from_token_file: Annotated[Path | None, typer.Option(help="Old enclave's cli token file.")] = None,
        to_token_file: Annotated[Path | None, typer.Option(help="New enclave's cli token file.")] = None,
        records_from: RecordsFrom = None,
        records_to: RecordsTo = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Move every key from one enclave to another (both reachable from here), attested both ways."""
        settings = _settings()
        source = _client(settings, from_socket, from_token_file)
        target = _client(settings, to_socket, to_token_file)
        started = time.perf_counter()

        async def main() -> MigrationReport:
            try:
                with progress("migrating keys", unit="records", enabled=progress_wanted(as_json)) as shown:

                    async def with_records(records: RecordStore) -> MigrationReport:
                        return await _with_store(
                            settings,
                            records_to,
                            lambda into: key_migration.migrate(source, target, records, into, shown),
                        )

                    return await _with_store(settings, records_from, with_records)
            finally:
                await source.close()
                await target.close()

        _report(_run(main()), as_json, records_to, time.perf_counter() - started)

    @keys_app.command("migration-offer")
    def migration_offer(
        count: Annotated[int, typer.Option(help="One offer per bundle (200 key records each).")] = 1,
        as_json: JsonFlag = False,
    ) -> None:
        """New side, step 1: print offers of the configured enclave (JSON) for the old side."""
        settings = _settings()
        client = _client(settings)

        async def main() -> list[Any]:
            try:
                return list(await key_migration.make_offers(client, count))
            finally:
                await client.close()

        document = {"format": OFFERS_FORMAT, "offers": _run(main())}
        typer.echo(json.dumps(document, indent=2 if as_json else 1))

    @keys_app.command("migration-export")
    def migration_export(
        offer_file: Annotated[Path, typer.Argument(help="The JSON printed by migration-offer.")],
        records_from: RecordsFrom = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Old side, step 2: print bundles of every key, encrypted to the offers (after attestation)."""
        settings = _settings()
        offers = _read_json(offer_file, OFFERS_FORMAT)["offers"]
        client = _client(settings)

        async def main() -> list[Any]:
            try:
                return await _with_store(
                    settings, records_from, lambda r: key_migration.export_to_offers(client, offers, r)
                )
            finally:
                await client.close()

        exports = _run(main())
        skipped = [{"key_id": k, "version": v, "reason": r} for e in exports for k, v, r in e.skipped]
        bundles = [dict(e.bundle) for e in exports]
        document = {"format": BUNDLES_FORMAT, "bundles": bundles, "skipped": skipped}
        if as_json:  # the same document (a bundle file), and nothing on stderr
            emit_json(document)
            return
        for item in skipped:
            console.print(
                f"[yellow]not exported[/yellow] {item['key_id']} v{item['version']}: {item['reason']}"
            )
        typer.echo(json.dumps(document, indent=1))
        console.print(f"{sum(len(e.exported) for e in exports)} key record(s) exported")

    @keys_app.command("migration-import")
    def migration_import(
        bundle_file: Annotated[Path, typer.Argument(help="The JSON printed by migration-export.")],
        records_to: RecordsTo = None,
        as_json: JsonFlag = False,
    ) -> None:
        """New side, step 3: import the bundles and store the re-sealed records (database by default)."""
        settings = _settings()
        bundles = _read_json(bundle_file, BUNDLES_FORMAT)["bundles"]
        client = _client(settings)
        started = time.perf_counter()

        async def main() -> MigrationReport:
            try:
                with progress("importing bundles", unit="bundles", enabled=progress_wanted(as_json)) as shown:
                    return await _with_store(
                        settings,
                        records_to,
                        lambda into: key_migration.import_bundles(client, bundles, into, shown),
                    )
            finally:
                await client.close()

        _report(_run(main()), as_json, records_to, time.perf_counter() - started)


def register_rotation(keys_app: typer.Typer, open_container: OpenContainer) -> None:
    """Add ``nsl keys rotate-due``: it opens the process container to reach the keys use cases."""

    @keys_app.command("rotate-due")
    def keys_rotate_due(
        dry_run: Annotated[bool, typer.Option(help="Only list the keys that are due")] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """Rotate every active key older than NSL_KEY_MAX_AGE_DAYS (needs the enclave running)."""
        settings = load_cli_settings()

        async def main() -> list[dict[str, str | int]]:
            async with open_container(
                settings.model_copy(update={"auto_migrate": False}), "cli"
            ) as container:
                keys = container.parts_of("keys", KeysParts).keys
                found = await (keys.rotation_due() if dry_run else keys.rotate_due())
            return [
                {
                    "tenant_id": k.tenant_id,
                    "key_id": k.key_id,
                    "kind": k.kind.value,
                    "version": k.current_version,
                }
                for k in found
            ]

        result = asyncio.run(main())
        typer.echo(json.dumps({"rotated" if not dry_run else "due": result}, indent=2))
        if as_json:  # the same document, and nothing on stderr
            return
        console.print(f"{len(result)} key(s) {'due for rotation' if dry_run else 'rotated'}")
