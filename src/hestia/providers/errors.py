"""Turning an SDK's exception into a `ProviderError` a person can act on.

The `openai` and `anthropic` SDKs share one exception tree (APITimeoutError, APIStatusError,
APIConnectionError, APIError, APIResponseValidationError), so one explanation serves both;
each provider passes its SDK module and the settings a person would fix.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..errors import ProviderError


@dataclass(frozen=True, slots=True)
class Explainer:
    """Explains one provider's failures: its SDK, where it is, and which settings to check.

    `sdk` is the SDK's module name: it is imported only when there is a failure to explain,
    so building a provider does not load the SDK (start-up time).
    """

    sdk: str
    where: str
    timeout: float
    key_setting: str
    url_setting: str

    def __call__(self, exc: BaseException, model: str | None) -> ProviderError:
        """The `ProviderError` for `exc`, raised while asking for `model` (None: the list)."""
        sdk, where = importlib.import_module(self.sdk), self.where
        if isinstance(exc, sdk.APITimeoutError) or "Timeout" in type(exc).__name__:
            seconds = f"{self.timeout:g} second{'' if self.timeout == 1 else 's'}"
            return ProviderError(
                f"No answer from {where} within {seconds}.", code="provider_timeout"
            )
        if isinstance(exc, sdk.APIStatusError):
            return self._status(exc, model)
        if isinstance(exc, sdk.APIConnectionError) and not _broke_mid_body(exc):
            return ProviderError(
                f"Could not connect to {where}. Is it running, and is {self.url_setting} right?",
                code="provider_unreachable",
            )
        if isinstance(exc, sdk.APIConnectionError) or _is_transport_error(exc):
            return ProviderError(
                f"The connection to {where} broke off in the middle of the answer.",
                code="provider_stream_broken",
            )
        if isinstance(exc, sdk.APIError) and not isinstance(exc, sdk.APIResponseValidationError):
            # An error sent inside the 200 stream (`data: {"error": ...}`), e.g. by OpenRouter.
            return self._in_stream(exc)
        if isinstance(exc, ValueError | sdk.APIResponseValidationError):
            # The SDKs let json.JSONDecodeError (a ValueError) through for a malformed chunk.
            return ProviderError(
                f"{_cap(where)} sent a response Hestia could not read.",
                code="provider_bad_response",
            )
        return ProviderError(
            f"{_cap(where)} failed: {type(exc).__name__}: {exc}", code="provider_error"
        )

    def _status(self, exc: Any, model: str | None) -> ProviderError:
        detail, kind = _detail(exc)
        where = _cap(self.where)
        # An error event inside a 200 stream carries its kind only in the body; mid-stream the
        # status is the stream's 200, so it is not shown where it would only confuse.
        status = exc.status_code
        if status == 529 or kind == "overloaded_error":
            return ProviderError(
                f"{where} is overloaded{' (529)' if status == 529 else ''}. "
                "Wait a moment and retry.",
                code="provider_rate_limited",
            )
        if status == 401 or kind == "authentication_error":
            return ProviderError(
                f"{where} rejected the API key (401). Check {self.key_setting}.",
                code="provider_auth_failed",
            )
        if status == 403 or kind == "permission_error":
            return ProviderError(
                f"{where} refused access (403): {detail}", code="provider_forbidden"
            )
        if status == 404 or kind == "not_found_error":
            what = f"The model '{model}'" if model else "The models list"
            return ProviderError(
                f"{what} was not found at {self.where} (404). Pick another model in settings.",
                code="model_not_found",
            )
        if status == 429 or kind == "rate_limit_error":
            return ProviderError(
                f"{where} is rate-limiting requests (429). Wait a moment and retry.",
                code="provider_rate_limited",
            )
        if status >= 500 or kind == "api_error":
            return ProviderError(
                f"{where} had an internal error ({status}): {detail}",
                code="provider_server_error",
            )
        return ProviderError(
            f"{where} refused the request ({status}): {detail}", code="provider_bad_request"
        )

    def _in_stream(self, exc: Any) -> ProviderError:
        body = exc.body if isinstance(exc.body, dict) else {}
        kind = f"{body.get('type', '')} {body.get('code', '')}".lower()
        if any(word in kind for word in ("overloaded", "rate_limit", "429", "529")):
            return ProviderError(
                f"{_cap(self.where)} is overloaded and stopped in the middle of the answer. "
                "Wait a moment and retry.",
                code="provider_rate_limited",
            )
        return ProviderError(
            f"{_cap(self.where)} reported an error in the middle of the answer: "
            f"{exc.message[:300]}",
            code="provider_server_error",
        )


def _detail(exc: Any) -> tuple[str, str | None]:
    """The error's message and `type` from a body like `{"error": {"message", "type"}}`."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        message = error.get("message") or body.get("message")
        kind = error.get("type") if isinstance(error.get("type"), str) else None
        if isinstance(message, str) and message:
            return message[:300], kind
        return exc.message[:300], kind
    return exc.message[:300], None


def _cap(text: str) -> str:
    """`text` with its first letter upper-cased (`str.capitalize` would lower the rest: the URL)."""
    return text[:1].upper() + text[1:]


def _broke_mid_body(exc: BaseException) -> bool:
    """Whether a connection error happened after the response began (vs. never connecting)."""
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ in ("RemoteProtocolError", "ReadError")


def _is_transport_error(exc: BaseException) -> bool:
    # The SDK's HTTP client is httpx or its successor httpx2, depending on the SDK version.
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2")
