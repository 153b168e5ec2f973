"""`/v1/files` and `/v1/batches`, as OpenAI's API defines them. Every route authenticates the key;
a department sees, reads, deletes and cancels only its own files and batches (another's answer 404,
as unknown ids do). Uploads get their own body limit (`batches.max_file_bytes`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, Router, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from gateway.authz import PermissionDenied
from gateway.batches.records import Owner
from gateway.batches.service import Batches, ModelCheck
from gateway.errors import InvalidRequest, PayloadTooLarge, UnknownRoute
from gateway.identity import Principal
from gateway.multipart_form import parse_form
from gateway.operations import ErrorFormat, Operation
from gateway.state import AnyRequest, Gateway, gateway_of
from gateway.worker import worker_of

__all__ = ["BATCH_ROUTES", "CREATE_BATCH_SCHEMA", "UPLOAD_FILE_SCHEMA", "files_upload_router"]

_OPENAI = {"error_format": ErrorFormat.OPENAI}
_FORM_FIELDS_BYTES = 1024 * 1024
_decode = msgspec.json.Decoder().decode

UPLOAD_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file", "purpose"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "JSONL: one request per line."},
        "purpose": {"type": "string", "enum": ["batch"]},
    },
}
"""`POST /v1/files`'s form, which its handler parses itself (for the API reference)."""

CREATE_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["input_file_id", "endpoint", "completion_window"],
    "properties": {
        "input_file_id": {"type": "string"},
        "endpoint": {
            "type": "string",
            "enum": ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"],
        },
        "completion_window": {"type": "string", "enum": ["24h"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
"""`POST /v1/batches`'s body, which its handler parses itself (for the API reference)."""


async def _caller(request: AnyRequest) -> tuple[Batches, Principal]:
    batches = worker_of(request).batches
    if batches is None:  # turned off: as if the routes did not exist
        raise UnknownRoute(request.method, request.url.path)
    return batches, await worker_of(request).principal(request)


def _owner(principal: Principal) -> Owner:
    return Owner(principal.department, principal.service, principal.key_id, principal.roles)


def _model_check(gateway: Gateway, principal: Principal) -> ModelCheck:
    """What the caller may send: a configured model its policies allow for the operation, which the
    model serves. An unknown model and a forbidden one are told alike, as `GET /v1/models` does."""

    def check(model: str, operation: Operation) -> str | None:
        unknown = f"the model `{model}` does not exist or you do not have access to it"
        pool = gateway.pools.get(model)
        if pool is None:
            return unknown
        try:
            gateway.authorizer.authorize(
                principal.department, principal.service, principal.roles, model, operation.value
            )
        except PermissionDenied:
            return unknown
        if operation.value not in pool.config.served_operations:
            return f"the model `{model}` does not serve {operation.value}"
        return None

    return check


# -- files ---------------------------------------------------------------------------------------


@post(
    "/v1/files",
    status_code=200,
    tags=["Files"],
    summary="Upload a batch input file (JSONL, checked line by line).",
    opt=_OPENAI,
)
async def upload_file(request: AnyRequest) -> dict[str, Any]:
    batches, principal = await _caller(request)
    form = parse_form(request.headers.get("content-type", ""), await request.body())
    part = form.file("file")
    if part is None:
        raise InvalidRequest("The form has no `file`.", param="file")
    purpose = form.fields().get("purpose")
    if not isinstance(purpose, str):
        raise InvalidRequest("The form has no `purpose`.", param="purpose")
    if len(part.data) > batches.config.max_file_bytes:
        raise PayloadTooLarge(
            f"The file is larger than {batches.config.max_file_bytes} bytes, the most a batch input may be.",
            param="file",
        )
    record = await batches.upload(
        _owner(principal),
        part.filename or "input.jsonl",
        purpose,
        part.data,
        _model_check(gateway_of(request), principal),
    )
    return record.openai()


@get("/v1/files", tags=["Files"], summary="The department's files.", opt=_OPENAI)
async def list_files(
    request: AnyRequest,
    purpose: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 10_000,
    order: FromQuery[Literal["asc", "desc"]] = "desc",
) -> dict[str, Any]:
    batches, principal = await _caller(request)
    page = await batches.files(
        principal.department, purpose=purpose, after=after, limit=limit, oldest_first=order == "asc"
    )
    return page.openai()


@get("/v1/files/{file_id:str}", tags=["Files"], summary="One file's record.", opt=_OPENAI)
async def retrieve_file(request: AnyRequest, file_id: FromPath[str]) -> dict[str, Any]:
    batches, principal = await _caller(request)
    return (await batches.file(principal.department, file_id)).openai()


@get("/v1/files/{file_id:str}/content", tags=["Files"], summary="One file's content.", opt=_OPENAI)
async def file_content(request: AnyRequest, file_id: FromPath[str]) -> Response[bytes]:
    batches, principal = await _caller(request)
    content = await batches.content(principal.department, file_id)
    return Response(content, media_type="application/octet-stream")


@delete("/v1/files/{file_id:str}", tags=["Files"], summary="Delete a file.", status_code=200, opt=_OPENAI)
async def delete_file(request: AnyRequest, file_id: FromPath[str]) -> dict[str, Any]:
    batches, principal = await _caller(request)
    await batches.delete_file(principal.department, file_id)
    return {"id": file_id, "object": "file", "deleted": True}


# -- batches -------------------------------------------------------------------------------------


def _string(body: dict[str, Any], field: str, default: str | None = None) -> str:
    value = body.get(field, default)
    if not isinstance(value, str):
        raise InvalidRequest(f"`{field}` is required and must be a string.", param=field)
    return value


@post(
    "/v1/batches",
    tags=["Batches"],
    summary="Create a batch from an uploaded input file.",
    status_code=200,
    opt=_OPENAI,
)
async def create_batch(request: AnyRequest) -> dict[str, Any]:
    batches, principal = await _caller(request)
    try:
        body = _decode(await request.body())
    except msgspec.DecodeError:
        raise InvalidRequest("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("`metadata` must be an object of strings.", param="metadata")
    record = await batches.create(
        _owner(principal),
        _string(body, "input_file_id"),
        _string(body, "endpoint"),
        _string(body, "completion_window"),
        metadata,
    )
    return await batches.shown(record)


@get("/v1/batches", tags=["Batches"], summary="The department's batches, newest first.", opt=_OPENAI)
async def list_batches(
    request: AnyRequest,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    batches, principal = await _caller(request)
    return (await batches.batches(principal.department, after=after, limit=limit)).openai()


@get("/v1/batches/{batch_id:str}", tags=["Batches"], summary="One batch, with its progress.", opt=_OPENAI)
async def retrieve_batch(request: AnyRequest, batch_id: FromPath[str]) -> dict[str, Any]:
    batches, principal = await _caller(request)
    return await batches.batch(principal.department, batch_id)


@post(
    "/v1/batches/{batch_id:str}/cancel",
    tags=["Batches"],
    summary="Cancel a batch: the results so far are kept.",
    status_code=200,
    opt=_OPENAI,
)
async def cancel_batch(request: AnyRequest, batch_id: FromPath[str]) -> dict[str, Any]:
    batches, principal = await _caller(request)
    return await batches.cancel(principal.department, batch_id)


def files_upload_router(max_file_bytes: int) -> Router:
    """`POST /v1/files` under its own body limit (a batch's input is larger than a request), with
    `GET /v1/files`: one path's handlers live in one router."""
    return Router(
        "/",
        route_handlers=[upload_file, list_files],
        request_max_body_size=max_file_bytes + _FORM_FIELDS_BYTES,
    )


BATCH_ROUTES = [
    retrieve_file,
    file_content,
    delete_file,
    create_batch,
    list_batches,
    retrieve_batch,
    cancel_batch,
]
