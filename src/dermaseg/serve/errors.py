"""API errors: an HTTP status and one clear message, answered as JSON without a traceback."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.fields = fields or {}   # answered beside "error" (e.g. image_kind)


def error_body(status: int, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status, "message": message}, **(fields or {})}
