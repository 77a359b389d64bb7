"""Fixtures for the crabtalk Python client tests: the compiled daemon
(dist/crabtalk, or $CRABTALK_BIN) in a temporary home, a local HTTP server
playing an OpenAI-compatible provider from a script (with a gate that holds
a reply mid-stream), and a Unix-socket proxy whose connections a test can
cut. Real parts only: the daemon, its socket and HTTP are all real."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[3]


def openai_sse(text: str = "", deltas: int = 3, tool_calls=(), finish: str = "") -> str:
    """An OpenAI Chat Completions stream, as the daemon's provider reads it."""
    base = {"id": "chatcmpl-py", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-model"}

    def chunk(delta, finish_reason=None):
        return "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}) + "\n\n"

    out = chunk({"role": "assistant", "content": ""})
    size = max(1, -(-len(text) // deltas)) if text else 1
    for i in range(0, len(text), size):
        out += chunk({"content": text[i : i + size]})
    for index, (call_id, name, args) in enumerate(tool_calls):
        fn = {"name": name, "arguments": json.dumps(args)}
        out += chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": fn}]})
    out += chunk({}, finish or ("tool_calls" if tool_calls else "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    out += "data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n"
    return out + "data: [DONE]\n\n"


class FakeProvider:
    """Answers each chat request with the next scripted SSE body; a reply may wait on a gate after some bytes."""

    def __init__(self):
        self.script: list = []
        self.requests: list = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                fake.requests.append(json.loads(body or b"{}"))
                if not fake.script:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"error":{"message":"no scripted reply left"}}')
                    return
                sse, gate_after, gate = fake.script.pop(0)
                data = sse.encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                split = gate_after if gate is not None else len(data)
                self.wfile.write(data[:split])
                self.wfile.flush()
                if gate is not None:
                    gate.wait(30)
                    self.wfile.write(data[split:])
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def enqueue(self, sse: str, gate_after: int = 0, gate=None):
        self.script.append((sse, gate_after, gate))

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="session")
def fake():
    provider = FakeProvider()
    yield provider
    provider.stop()


def binary() -> str:
    path = os.environ.get("CRABTALK_BIN") or str(REPO / "dist" / "crabtalk")
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: build it with `bun scripts/build-binary.ts` (or set CRABTALK_BIN)")
    return path


def home_env(home: str) -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "CRABTALK_HOME": home}


def start_daemon(home: str, config: str, ready_file: str = "crabtalk.sock"):
    """Starts the compiled daemon in `home`; returns the process once `ready_file` exists (socket or port file)."""
    Path(home, "crabtalk.toml").write_text(config)
    proc = subprocess.Popen([binary(), "daemon"], env=home_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while not os.path.exists(os.path.join(home, ready_file)):  # written once the daemon listens
        if proc.poll() is not None:
            pytest.fail(f"the daemon exited with {proc.returncode}: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the daemon did not write {ready_file} within 15 s")
        time.sleep(0.02)
    return proc


@pytest.fixture(scope="session")
def daemon(fake):
    home = tempfile.mkdtemp(prefix="crabtalk-py-")
    work = os.path.join(home, "work")
    os.makedirs(work)
    proc = start_daemon(
        home,
        f"""[daemon]
tcp = false
[provider.fake]
kind = "openai"
base_url = "{fake.url}/v1"
models = ["fake-model"]
[agents.crab]
model = "fake-model"
cwd = "{work}"
[permissions]
bash = "ask"
""",
    )
    yield {"home": home, "socket": os.path.join(home, "crabtalk.sock"), "work": work}
    proc.terminate()
    proc.wait(10)


class CuttableProxy:
    """Forwards each connection on a new Unix socket to the daemon's; cut() drops them all."""

    def __init__(self, target: str):
        self.target = target
        self.path = os.path.join(tempfile.mkdtemp(prefix="crabtalk-pyproxy-"), "proxy.sock")
        self.writers: list = []
        self.accepted = 0

    async def start(self):
        self.server = await asyncio.start_unix_server(self._serve, path=self.path)
        return self

    async def _serve(self, creader, cwriter):
        self.accepted += 1
        ureader, uwriter = await asyncio.open_unix_connection(self.target)
        self.writers += [cwriter, uwriter]

        async def pump(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pump(creader, uwriter), pump(ureader, cwriter))

    def cut(self):
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self):
        self.cut()
        self.server.close()
