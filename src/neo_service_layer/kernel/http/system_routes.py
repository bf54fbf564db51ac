"""What this installation is: version, environment, schema revision and TEE mode."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from neo_service_layer import __version__
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.db.migrate import head_revision, stored_revision

router = APIRouter(prefix="/system", tags=["system"])


class SystemInfo(BaseModel):
    version: str
    environment: str
    schema_revision: str | None
    schema_head: str
    schema_current: bool
    tee_platform: str


@router.get("/info", summary="Version, environment and schema revision of this installation")
async def info(request: Request) -> SystemInfo:
    container: Container = request.app.state.container
    revision = await stored_revision(container.engine)
    head = head_revision()
    return SystemInfo(
        version=__version__,
        environment=container.settings.env.value,
        schema_revision=revision,
        schema_head=head,
        schema_current=revision == head,
        tee_platform=container.settings.tee_platform.value,
    )
