"""The exception tree every layer raises; the API turns each into one JSON error shape.

HestiaError            500 internal_error
├── BadRequest         400 (invalid_cursor, invalid_last_event_id, ...)
├── Unauthorized       401 (not_authenticated, wrong_password)
├── Forbidden          403 (loopback_only, csrf_failed, origin_refused, read_only_token, ...)
├── NotFound           404 (session_not_found, run_not_found, message_not_found)
├── Conflict           409 (run_active, session_trashed, ...)
├── TooLarge           413 (message_too_large, request_too_large)
├── TooManyRequests    429 (too_many_logins), with `retry_after` seconds
└── ProviderError      502 — a model provider failed; also stored as a run's error
"""

from __future__ import annotations


class HestiaError(Exception):
    """Base of every error Hestia raises on purpose; carries an HTTP status and a code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        """The `{"code", "message"}` body used by the API and stored on failed runs."""
        return {"code": self.code, "message": self.message}


class BadRequest(HestiaError):
    status = 400
    code = "bad_request"


class Unauthorized(HestiaError):
    status = 401
    code = "not_authenticated"


class Forbidden(HestiaError):
    status = 403
    code = "forbidden"


class NotFound(HestiaError):
    status = 404
    code = "not_found"


class Conflict(HestiaError):
    status = 409
    code = "conflict"


class TooLarge(HestiaError):
    status = 413
    code = "too_large"


class TooManyRequests(HestiaError):
    """Slow down: the API answers 429 with `Retry-After: retry_after`."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ProviderError(HestiaError):
    """A model provider could not answer; `message` says why in words a person understands."""

    status = 502
    code = "provider_error"
