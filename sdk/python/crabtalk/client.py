"""Client: one connection to the crabtalk daemon carrying any number of
concurrent requests and streams, matched by request id (numbers from 1).

Wire: each frame is a 4-byte big-endian length, then one protobuf message
(ClientMessage out, ServerMessage in; classes generated from
proto/crabtalk.proto into crabtalk_pb2). A reader task hands each reply to
the queue of its request id; a reply without an id is a connection-level
error that fails every pending request.

Resilience: stream(), attach() and events() outlive the connection. After a
drop, a 408 (too slow) or a 503 (shutting down) the client reconnects (for up
to reconnect_timeout seconds) and re-attaches from the last seq it yielded;
the daemon replays what was missed from the session's trace and events at or
below that seq are skipped: no gap, no duplicate. events() re-subscribes but
has no replay (follow a session with attach() to miss nothing). Other verbs
raise the typed error and leave retrying to the caller."""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import struct
from typing import AsyncIterator, Callable, Optional

from . import crabtalk_pb2 as pb
from .errors import CertificateRefused, DaemonNotRunning, Disconnected, ShuttingDown, SlowClient, daemon_error

MAX_FRAME = 16 * 1024 * 1024
_CLOSED = object()  # queued to every pending request when the connection ends


def _resumable(err: BaseException) -> bool:
    return isinstance(err, (Disconnected, SlowClient, ShuttingDown))


class _Connection:
    """One socket: frames out, frames in, dispatched by request id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.next_id = 1
        self.pending: dict[int, asyncio.Queue] = {}
        self.closed = False
        self.failure: Optional[Exception] = None
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(4)
                (length,) = struct.unpack(">I", header)
                if length > MAX_FRAME:
                    raise Disconnected(f"the daemon sent a frame of {length} bytes, over the {MAX_FRAME}-byte limit")
                reply = pb.ServerMessage.FromString(await self.reader.readexactly(length))
                queue = self.pending.get(reply.request_id) if reply.request_id else None
                if queue is not None:
                    queue.put_nowait(reply)
                elif not reply.request_id and reply.WhichOneof("msg") == "error":
                    self.failure = daemon_error(reply.error.code, reply.error.message)
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Disconnected as err:
            self.failure = err
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.writer.close()
        for queue in self.pending.values():
            queue.put_nowait(_CLOSED)

    def error(self) -> Exception:
        return self.failure or Disconnected()

    async def start(self, message: pb.ClientMessage) -> tuple[int, asyncio.Queue]:
        if self.closed:
            raise self.error()
        request_id = self.next_id
        self.next_id += 1
        message.request_id = request_id
        queue: asyncio.Queue = asyncio.Queue()
        self.pending[request_id] = queue
        await self.write(message)
        return request_id, queue

    async def write(self, message: pb.ClientMessage) -> None:
        payload = message.SerializeToString()
        try:
            self.writer.write(struct.pack(">I", len(payload)) + payload)
            await self.writer.drain()
        except (ConnectionError, OSError) as err:
            self.close()
            raise Disconnected(f"writing to the daemon failed: {err}") from err

    def finish(self, request_id: int) -> None:
        self.pending.pop(request_id, None)


class Client:
    """Connect with `await Client.connect(...)`; use as `async with` to close."""

    def __init__(
        self,
        socket: Optional[str] = None,
        tcp: Optional[str] = None,
        home: Optional[str] = None,
        reconnect_timeout: float = 30.0,
        on_reconnect: Optional[Callable[[int, int, Exception], None]] = None,
        token: Optional[str] = None,
        tls: bool = False,
        fingerprint: Optional[str] = None,
        known_hosts: Optional[str] = None,
    ):
        self.token = token
        self.tls = tls or fingerprint is not None
        self.fingerprint = fingerprint
        self.known_hosts = known_hosts
        self.home = home or os.environ.get("CRABTALK_HOME") or os.path.expanduser("~/.crabtalk")
        self.socket = socket
        self.tcp = tcp
        self.reconnect_timeout = reconnect_timeout
        self.on_reconnect = on_reconnect
        self._conn: Optional[_Connection] = None
        self._opening: Optional[asyncio.Future] = None
        self._closed = False

    @classmethod
    async def connect(cls, **options) -> "Client":
        """Options: socket (path), tcp ("HOST:PORT"), home, reconnect_timeout, on_reconnect(session, after_seq, cause),
        token (sent as the Auth first frame on every connect), tls with fingerprint or known_hosts (the certificate pin)."""
        client = cls(**options)
        await client._live()
        return client

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def endpoint(self) -> str:
        return self.tcp or self.socket or os.path.join(self.home, "crabtalk.sock")

    # ---------------------------------------------------------------- verbs

    async def send(self, agent: str, content: str, **turn) -> pb.SendResponse:
        """One turn, answered whole (approver defaults to "none")."""
        return (await self.request(pb.ClientMessage(send=pb.SendMsg(agent=agent, content=content, **turn)))).response

    async def stream(self, agent: str, content: str, **turn) -> AsyncIterator[pb.StreamEvent]:
        """One turn's events, ending with `end`; re-attaches by seq if the connection drops mid-turn."""
        session = 0
        last_seq = 0
        message = pb.ClientMessage(stream=pb.StreamMsg(agent=agent, content=content, **turn))
        try:
            async for reply in self.replies(message):
                if not reply.HasField("stream"):
                    continue
                event = reply.stream
                session, last_seq = event.session, event.seq
                yield event
                if event.WhichOneof("event") == "end":
                    return
            return
        except Exception as err:
            if not _resumable(err) or session == 0:
                raise
            await self._recover(session, last_seq, err)
        async for event in self.attach(session, after_seq=last_seq, until_end=True, client=turn.get("client")):
            yield event

    async def attach(
        self, session: int, after_seq: Optional[int] = None, until_end: bool = False, client: Optional[str] = None
    ) -> AsyncIterator[pb.StreamEvent]:
        """A session's events after after_seq (replayed), then live ones, across reconnects: no gap, no duplicate."""
        last_seq = after_seq
        while True:
            try:
                message = pb.ClientMessage(attach=pb.AttachSession(session=session))
                if last_seq is not None:
                    message.attach.after_seq = last_seq
                if client:
                    message.attach.client = client
                async for reply in self.replies(message):
                    kind = reply.WhichOneof("msg")
                    if kind == "attached":
                        if last_seq is None:
                            last_seq = reply.attached.last_seq
                        continue
                    if kind != "stream" or (last_seq is not None and reply.stream.seq <= last_seq):
                        continue
                    last_seq = reply.stream.seq
                    yield reply.stream
                    if until_end and reply.stream.WhichOneof("event") == "end":
                        return
                raise Disconnected("the daemon ended the attach stream")
            except Exception as err:
                if not _resumable(err):
                    raise
                await self._recover(session, last_seq or 0, err)

    async def events(self, agent: Optional[str] = None) -> AsyncIterator[pb.AgentEvent]:
        """Every agent's events (or one agent's), live; re-subscribes after a reconnect."""
        while True:
            try:
                sub = pb.SubscribeEvents(agent=agent) if agent else pb.SubscribeEvents()
                async for reply in self.replies(pb.ClientMessage(subscribe_events=sub)):
                    if reply.HasField("event"):
                        yield reply.event
                raise Disconnected("the daemon ended the event subscription")
            except Exception as err:
                if not _resumable(err):
                    raise
                await self._recover(0, 0, err)

    async def approve(self, session: int, call_id: str, decision: str, reason: Optional[str] = None) -> str:
        """Answers an ApprovalRequest with ApproveMsg{call_id, session}; decision "allow" or "deny"."""
        msg = pb.ApproveMsg(session=session, call_id=call_id, response=decision)
        if reason:
            msg.reason = reason
        return (await self.request(pb.ClientMessage(approve=msg))).ack.message

    async def cancel(self, session: int) -> str:
        return (await self.request(pb.ClientMessage(cancel=pb.CancelMsg(session=session)))).ack.message

    async def sessions(self, agent: Optional[str] = None, offset: int = 0, limit: int = 0) -> pb.SessionList:
        query = pb.Sessions(offset=offset, limit=limit)
        if agent:
            query.agent = agent
        return (await self.request(pb.ClientMessage(sessions=query))).sessions

    async def history(self, session: int) -> pb.SessionHistory:
        return (await self.request(pb.ClientMessage(get_history=pb.GetHistory(session=session)))).history

    async def status(self) -> pb.DaemonStatus:
        return (await self.request(pb.ClientMessage(status=pb.GetStatus()))).status

    async def ping(self) -> pb.Pong:
        return (await self.request(pb.ClientMessage(ping=pb.Ping()))).pong

    # ---------------------------------------------------------------- raw access

    async def request(self, message: pb.ClientMessage) -> pb.ServerMessage:
        """Sends a request answered by one reply; ErrorMsg raises the typed DaemonError."""
        async for reply in self.replies(message, single=True):
            return reply
        raise Disconnected()

    async def replies(self, message: pb.ClientMessage, single: bool = False) -> AsyncIterator[pb.ServerMessage]:
        """Yields a request's replies: one (single), until StreamEnd (a turn), or until you stop (subscriptions)."""
        conn = await self._live()
        request_id, queue = await conn.start(message)
        finished = False
        try:
            while True:
                reply = await queue.get()
                if reply is _CLOSED:
                    finished = True
                    raise conn.error()
                if reply.WhichOneof("msg") == "error":
                    finished = True
                    raise daemon_error(reply.error.code, reply.error.message)
                last = single or (reply.HasField("stream") and reply.stream.WhichOneof("event") == "end")
                finished = last
                yield reply
                if last:
                    return
        finally:
            conn.finish(request_id)
            if not finished and not conn.closed:
                # Left early: stop the stream at the daemon too (its Ack is not awaited).
                unsubscribe = pb.ClientMessage(unsubscribe=pb.Unsubscribe(request_id=request_id))
                unsubscribe.request_id = conn.next_id
                conn.next_id += 1
                try:
                    await conn.write(unsubscribe)
                except Disconnected:
                    pass

    async def close(self) -> None:
        self._closed = True
        if self._conn:
            self._conn.close()

    # ---------------------------------------------------------------- connection

    async def _live(self) -> _Connection:
        if self._closed:
            raise Disconnected("the client was closed")
        if self._conn and not self._conn.closed:
            return self._conn
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._opening)
        finally:
            if self._opening and self._opening.done():
                self._opening = None

    async def _open(self) -> _Connection:
        try:
            if self.tcp:
                host, _, port = self.tcp.rpartition(":")
                host = host.strip("[]") or "127.0.0.1"
                context = None
                if self.tls:
                    # Self-signed certificates: trust is the pin, checked before anything is sent.
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
                if context is not None:
                    self._check_pin(writer)
            else:
                reader, writer = await asyncio.open_unix_connection(self.endpoint)
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError) as err:
            raise DaemonNotRunning(self.endpoint, type(err).__name__) from err
        conn = _Connection(reader, writer)
        if self.token:
            _, queue = await conn.start(pb.ClientMessage(auth=pb.AuthMsg(token=self.token)))
            reply = await queue.get()
            if reply is _CLOSED or reply.WhichOneof("msg") == "error":
                conn.close()
                raise conn.error() if reply is _CLOSED else daemon_error(reply.error.code, reply.error.message)
        self._conn = conn
        return conn

    def _check_pin(self, writer: asyncio.StreamWriter) -> None:
        """The certificate's SHA-256 must be the given fingerprint, or the one known_hosts saved (first use saves it)."""
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        seen = hashlib.sha256(der).hexdigest()
        norm = lambda text: text.strip().lower().removeprefix("sha256:").replace(":", "")  # noqa: E731
        if self.fingerprint is not None:
            if seen != norm(self.fingerprint):
                writer.close()
                raise CertificateRefused(
                    f"the certificate of {self.tcp} has fingerprint SHA256:{seen}, not the pinned {self.fingerprint}; refusing to connect"
                )
            return
        path = self.known_hosts or os.path.join(self.home, "known_hosts")
        known = {}
        if os.path.exists(path):
            for line in open(path):
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    known[parts[0]] = norm(parts[1])
        if self.tcp not in known:
            with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") as f:
                f.write(f"{self.tcp} {seen}\n")
        elif known[self.tcp] != seen:
            writer.close()
            raise CertificateRefused(
                f"the certificate of {self.tcp} changed (now SHA256:{seen}, {path} says {known[self.tcp]}); refusing to connect"
            )

    async def _recover(self, session: int, after_seq: int, cause: Exception) -> None:
        """Reconnects for a resilient stream, retrying while the daemon is away."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_timeout
        delay = 0.1
        if not (isinstance(cause, SlowClient) and self._conn and not self._conn.closed):
            if self._conn:
                self._conn.close()
            if isinstance(cause, ShuttingDown):
                await asyncio.sleep(delay)  # a daemon shutting down may still accept a connection
            while True:
                try:
                    await self._live()
                    break
                except DaemonNotRunning:
                    if loop.time() + delay > deadline:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        if self.on_reconnect:
            self.on_reconnect(session, after_seq, cause)
