"""Errors the crabtalk client raises, as classes to catch by type: the daemon
is not there, the connection went away, or the daemon answered
ErrorMsg{code, message} (DaemonError, with a subclass per code a client acts
on). Codes follow HTTP meanings, as in proto/crabtalk.proto."""


class CrabtalkError(Exception):
    """Base of every error this package raises."""


class DaemonNotRunning(CrabtalkError):
    def __init__(self, endpoint: str, reason: str = ""):
        self.endpoint = endpoint
        detail = f": {reason}" if reason else ""
        super().__init__(
            f"crabtalk daemon is not running (nothing accepts connections at {endpoint}{detail}); "
            "start it with `crabtalk daemon`"
        )


class CertificateRefused(CrabtalkError):
    """A TLS certificate did not match its pin (fingerprint, or the known-hosts file)."""


class Disconnected(CrabtalkError):
    def __init__(self, reason: str = "the connection to the daemon closed before the reply arrived"):
        super().__init__(reason)


class DaemonError(CrabtalkError):
    def __init__(self, code: int, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{message} (code {code})")


class BadRequest(DaemonError):
    """400: the request is malformed."""


class Unauthorized(DaemonError):
    """401: the token is missing, wrong or revoked (remote TCP needs one)."""


class Forbidden(DaemonError):
    """403: the daemon serves another user."""


class NotFound(DaemonError):
    """404: no such session, agent or call."""


class SlowClient(DaemonError):
    """408: this client fell behind and was dropped; re-attach from the last seq (the client does)."""


class Conflict(DaemonError):
    """409: conflicts with the current state."""


class BudgetExceeded(DaemonError):
    """429: the token budget is spent."""


class ProviderFailed(DaemonError):
    """502: the model provider failed."""


class ShuttingDown(DaemonError):
    """503: the daemon is shutting down."""


_BY_CODE = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: SlowClient,
    409: Conflict,
    429: BudgetExceeded,
    502: ProviderFailed,
    503: ShuttingDown,
}


def daemon_error(code: int, message: str) -> DaemonError:
    """The typed error for an ErrorMsg."""
    return _BY_CODE.get(code, DaemonError)(code, message)
