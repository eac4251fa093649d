"""The broker's error hierarchy; the API maps each to one HTTP status in one handler.

BrokerError
├── Unauthorized        401  missing or unknown API key
├── BudgetExceeded      402  the team's (or feature's) monthly budget is spent and its policy blocks
├── Forbidden           403  key lacks the right (e.g. admin)
├── NotFound            404  no such job for this team (also: another team's job)
├── Conflict            409  the job is in a state that forbids the action
├── InvalidRequest      422  bad input; ``param`` names the field
├── Throttled           429  would wait too long; ``retry_after`` seconds
└── Unavailable         503  a dependency (Redis) is down
"""

from __future__ import annotations


class BrokerError(Exception):
    status = 500
    error_type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after


class Unauthorized(BrokerError):
    status = 401
    error_type = "authentication_error"


class BudgetExceeded(BrokerError):
    """402, not 429: waiting does not help until an admin raises the budget or the month
    ends, and the OpenAI SDKs retry 429 on their own but not 402."""

    status = 402
    error_type = "budget_exceeded"


class Forbidden(BrokerError):
    status = 403
    error_type = "permission_error"


class NotFound(BrokerError):
    status = 404
    error_type = "not_found_error"


class Conflict(BrokerError):
    status = 409
    error_type = "conflict_error"


class InvalidRequest(BrokerError):
    status = 422
    error_type = "invalid_request_error"


class Throttled(BrokerError):
    status = 429
    error_type = "rate_limit_error"


class Unavailable(BrokerError):
    status = 503
    error_type = "service_unavailable"
