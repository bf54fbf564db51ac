"""The facts ``nsl backup`` commands print, as JSON documents (``--json``) and as summary rows (text):
one function per result, so both forms always say the same."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.cli_output import size_text
from neo_service_layer.services.backup.ports import CheckOutcome
from neo_service_layer.services.backup.rules.backup import Manifest, RetentionDecision
from neo_service_layer.services.backup.use_cases.backup import (
    BackupSummary,
    CreateResult,
    RestoreResult,
    VerifyReport,
)


def manifest_facts(manifest: Manifest) -> dict[str, Any]:
    return {
        "schema_revision": manifest.schema_revision,
        "dialect": manifest.dialect,
        "tables": len(manifest.row_counts),
        "rows": sum(manifest.row_counts.values()),
        "parts": [{"name": p.name, "size": p.size, "sha256": p.sha256} for p in manifest.parts],
    }


def checks(outcomes: list[CheckOutcome]) -> list[dict[str, Any]]:
    return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in outcomes]


def created(result: CreateResult, target: str, decision: RetentionDecision | None) -> dict[str, Any]:
    document = {
        "backup_id": result.backup_id,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "target": target,
        **manifest_facts(result.manifest),
    }
    if decision is not None:
        document["pruned"] = sorted(decision.delete)
    return document


def created_rows(document: dict[str, Any]) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("backup", document["backup_id"]),
        ("size", size_text(document["size"])),
        ("database", f"{document['dialect']} at {document['schema_revision']}"),
        ("rows", f"{document['rows']:,} in {document['tables']} tables"),
        ("duration", f"{document['seconds']:.2f} s"),
        ("target", document["target"]),
    ]
    rows += [(f"part {p['name']}", f"{size_text(p['size'])} sha256 {p['sha256']}") for p in document["parts"]]
    if "pruned" in document:
        rows.append(("pruned", len(document["pruned"])))
    return rows


def verified(report: VerifyReport, size: int | None) -> dict[str, Any]:
    return {
        "backup_id": report.backup_id,
        "ok": report.ok,
        "size": size,
        "seconds": round(report.seconds, 3),
        "verified_at": report.verified_at.isoformat(),
        "checks": checks(list(report.checks)),
    }


def restored(result: RestoreResult, database: str, size: int | None) -> dict[str, Any]:
    return {
        "backup_id": result.backup_id,
        "database": database,
        "size": size,
        "seconds": round(result.seconds, 3),
        "previous": result.previous,
        "checks": checks(list(result.checks)),
        "installed_files": list(result.installed_files),
        **manifest_facts(result.manifest),
    }


def restored_rows(document: dict[str, Any]) -> list[tuple[str, object]]:
    failed = [c["name"] for c in document["checks"] if not c["ok"]]
    checked = f"{len(document['checks']) - len(failed)} ok" + (f", not blocking: {failed}" if failed else "")
    size = document["size"]
    return [
        ("backup", document["backup_id"]),
        ("into", document["database"]),
        ("archive", "size unknown" if size is None else size_text(size)),
        ("rows", f"{document['rows']:,} in {document['tables']} tables"),
        ("checks", checked),
        ("duration", f"{document['seconds']:.2f} s"),
        ("enclave files", len(document["installed_files"])),
    ]


def listed(backups: list[BackupSummary]) -> list[dict[str, Any]]:
    return [
        {
            "backup_id": b.backup_id,
            "created_at": b.created_at.isoformat(),
            "size": b.size,
            "verified_at": b.verified_at.isoformat() if b.verified_at else None,
        }
        for b in backups
    ]


def pruned(decision: RetentionDecision, dry_run: bool) -> dict[str, Any]:
    return {"dry_run": dry_run, "keep": dict(decision.keep), "delete": dict(decision.delete)}
