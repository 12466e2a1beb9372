"""Reading request bodies safely: a size cap before anything is parsed, then JSON, a multipart
upload or a raw image, each refused with an `ApiError` that names what is wrong (`app.STATUS`
gives each error type its HTTP status).

POST /api/predict takes an image three ways, with the same checks after decoding:
    application/json        {"image": "<data URL or base64>"}   (what the page sends)
    multipart/form-data     a `file` field                      (curl -F file=@digit.png)
    image/*                 the raw bytes   (curl --data-binary @digit.png -H 'Content-Type: image/png')
"""

from __future__ import annotations

import base64
import binascii
import json

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from ..errors import UserError

MAX_BODY = 2 * 1024 * 1024  # bytes per request


class ApiError(UserError):
    """A request the API refuses (400 Bad Request): the message goes back as {"error": ...}.
    Subclasses name the other refusals; `app.STATUS` maps each type to its status."""


class BodyTooLarge(ApiError):
    """The body is over MAX_BODY bytes (413 Content Too Large)."""


class UnsupportedContentType(ApiError):
    """The body is neither JSON, a multipart upload nor an image/* (415 Unsupported Media Type)."""


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(f"request body too large (limit {MAX_BODY // 1024} KiB)")


async def read_body(request: Request) -> bytes:
    """The whole body, refusing more than MAX_BODY bytes before reading them (by Content-Length)
    or while reading (a body that does not say its length)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    return bytes(body)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_json(body: bytes) -> dict:
    """A JSON object; NaN and Infinity are refused (only finite numbers are data here)."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ApiError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object")
    return data


def _reject_constant(name: str):
    raise ApiError(f"request body contains {name}; only finite numbers are allowed")


async def read_json(request: Request) -> dict:
    return parse_json(await read_body(request))


def decode_image_field(value) -> bytes:
    """The bytes of a data URL or plain base64 string."""
    if not isinstance(value, str) or not value:
        raise ApiError("'image' must be a data URL or base64 string")
    if value.startswith("data:"):
        value = value.split(",", 1)[-1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("'image' is not valid base64") from None


async def read_image(request: Request) -> tuple[bytes, dict]:
    """(image bytes, the other JSON fields) from a JSON, multipart or raw image/* request."""
    kind = content_type(request)
    body = await read_body(request)
    if kind.startswith("image/"):
        if not body:
            raise ApiError("the request body is empty; send the image's bytes")
        return body, {}
    if kind == "multipart/form-data":
        return await _multipart_file(request, body), {}
    if kind in ("", "application/json", "text/plain"):
        data = parse_json(body)
        return decode_image_field(data.get("image")), data
    raise UnsupportedContentType(
        f'content type {kind!r} is not accepted; send JSON {{"image": ...}}, multipart/form-data with a '
        f"'file' field, or the raw image with an image/* content type"
    )


async def _multipart_file(request: Request, body: bytes) -> bytes:
    async def stream():
        yield body

    try:
        parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=16, max_part_size=MAX_BODY)
        form = await parser.parse()
    except MultiPartException as e:
        raise ApiError(f"malformed multipart upload ({e.message})") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError("multipart upload has no 'file' field; send the image as -F file=@IMAGE")
    try:
        data = await upload.read()
    finally:
        await upload.close()
    if not data:
        raise ApiError("the uploaded 'file' is empty")
    return data
