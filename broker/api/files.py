"""``/v1/files``: the OpenAI Files API, for batch input and the batch's output and error files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from broker.api.deps import Caller, services
from broker.api.dropin import dropin

router = APIRouter(prefix="/v1/files", tags=["batches"])
CHUNK = 1 << 20


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


@router.post("")
async def upload_file(
    request: Request, who: Caller, file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]
) -> JSONResponse:
    """Upload a JSONL file of batch requests (purpose ``batch``); lines are checked when a batch uses it."""
    limit = services(request).config.batches.max_file_bytes
    stored = await dropin(request).files.save_upload(
        who.team, file.filename or "upload.jsonl", purpose, _chunks(file), limit
    )
    return JSONResponse(stored.model_dump())


@router.get("")
async def list_files(request: Request, who: Caller, purpose: str | None = Query(default=None)) -> JSONResponse:
    found = await dropin(request).files.list(who.team, purpose)
    return JSONResponse({"object": "list", "data": [f.model_dump() for f in found], "has_more": False})


@router.get("/{file_id}")
async def get_file(file_id: str, request: Request, who: Caller) -> JSONResponse:
    return JSONResponse((await dropin(request).files.get(file_id, who.team)).model_dump())


@router.get("/{file_id}/content")
async def file_content(file_id: str, request: Request, who: Caller) -> FileResponse:
    path = await dropin(request).files.content_path(file_id, who.team)
    return FileResponse(path, media_type="application/jsonl")


@router.delete("/{file_id}")
async def delete_file(file_id: str, request: Request, who: Caller) -> JSONResponse:
    await dropin(request).files.delete(file_id, who.team)
    return JSONResponse({"id": file_id, "object": "file", "deleted": True})
