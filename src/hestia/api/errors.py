"""One error shape for the whole API: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import HestiaError, TooManyRequests

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The JSON error every route answers with."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _describe(errors: list[dict]) -> tuple[str, str]:
    """A code and one sentence for pydantic's validation errors."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return "invalid_json", "The request body is not valid JSON."
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    where = ".".join(location)
    message = first.get("msg", "is not valid")
    if first.get("type") == "missing":
        return "invalid_request", f"'{where}' is required." if where else "A value is required."
    if first.get("type") in ("model_attributes_type", "dict_type") and not where:
        return "invalid_request", "The request body must be a JSON object."
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return "invalid_request", f"'{where}': {message}{more}." if where else f"{message}{more}."


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""

    @app.exception_handler(HestiaError)
    async def _hestia(_: Request, exc: HestiaError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _describe(list(exc.errors()))
        status = 400 if code == "invalid_json" else 422
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        if exc.status_code == 405:
            message = "This address does not accept that method."
        response = error_response(exc.status_code, code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "Something went wrong inside Hestia; the server log has details."
        )
