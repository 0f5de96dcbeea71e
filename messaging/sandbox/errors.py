"""The one exception handlers raise, and how each MessageWhiz API family renders it.

MessageWhiz has two families: the v3 API (`/api/3/...`) answers in the
`{"errorCode", "errorMessage", "errorType", "executionTime", "result"}` envelope, and the newer
NestJS services (`/sms`, `/api/broadcasts/...`, `/api/recipients/...`) answer
`{"statusCode", "message", "error"}` like NestJS's class-validator pipes.
"""

from http import HTTPStatus

# errorType and default errorMessage come from the reference's "Response Error Messages" table.
ERROR_TYPES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Duplicate entry",
}
DEFAULT_MESSAGES = {
    400: "Invalid parameters specified",
    401: "API key is missing or invalid",
    403: "User/company is either disabled or doesn't have enough permissions",
    404: "An entity is not found",
    409: "Duplicate entry",
}


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """An error answer: HTTP status plus one or more human-readable messages."""

    def __init__(self, status: int, messages: str | list[str] | None = None, headers: dict | None = None):
        if messages is None:
            messages = [DEFAULT_MESSAGES.get(status, phrase(status))]
        elif isinstance(messages, str):
            messages = [messages]
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}
        super().__init__(f"{status}: {'; '.join(self.messages)}")


def not_found(label: str, ident) -> ApiError:
    return ApiError(404, f"{label} {ident} not found")


def v3_body(status: int, messages: list[str], execution_time: float) -> dict:
    return {
        "errorCode": status,
        "errorMessage": "; ".join(messages),
        "errorType": ERROR_TYPES.get(status, phrase(status)),
        "executionTime": execution_time,
        "result": None,
    }


def nest_body(status: int, messages: list[str]) -> dict:
    # NestJS defaults: guards answer a bare 401, the throttler its own text, unhandled errors 500.
    if status == 401:
        return {"statusCode": 401, "message": "Unauthorized"}
    if status == 429:
        return {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}
    if status == 500:
        return {"statusCode": 500, "message": "Internal server error"}
    # class-validator always reports a list for 400; other HTTP exceptions carry one string.
    message: str | list[str] = list(messages) if status == 400 or len(messages) > 1 else messages[0]
    return {"statusCode": status, "message": message, "error": phrase(status)}
