"""crabtalk: an asyncio client for the crabtalk agent daemon.

    async with await Client.connect() as client:
        async for event in client.stream("crab", "hello"):
            ...

See docs/build-a-client.md in the crabtalk repository."""

from . import crabtalk_pb2 as pb
from .client import Client
from .errors import (
    BadRequest,
    BudgetExceeded,
    CertificateRefused,
    Conflict,
    CrabtalkError,
    DaemonError,
    DaemonNotRunning,
    Disconnected,
    Forbidden,
    NotFound,
    ProviderFailed,
    ShuttingDown,
    SlowClient,
    Unauthorized,
)

__all__ = [
    "pb",
    "Client",
    "BadRequest",
    "BudgetExceeded",
    "CertificateRefused",
    "Conflict",
    "CrabtalkError",
    "DaemonError",
    "DaemonNotRunning",
    "Disconnected",
    "Forbidden",
    "NotFound",
    "ProviderFailed",
    "ShuttingDown",
    "SlowClient",
    "Unauthorized",
]
