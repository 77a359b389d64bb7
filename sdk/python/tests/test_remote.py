"""The Python client against a remote-style daemon (every interface, TLS from
`crabtalk tls init`, a token from `crabtalk token create`): with the pinned
fingerprint and the token a turn streams; another certificate is refused
before anything is sent; a wrong token is Unauthorized."""

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import binary, home_env, openai_sse, start_daemon

from crabtalk import CertificateRefused, Client, Unauthorized


def cli(home: str, *args: str) -> str:
    result = subprocess.run([binary(), *args], env=home_env(home), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def remote(fake):
    home = tempfile.mkdtemp(prefix="crabtalk-py-tls-")
    fingerprint = cli(home, "tls", "init")
    token = cli(home, "token", "create", "py", "--scope", "chat")
    proc = start_daemon(
        home,
        f"""[daemon]
tcp = "0.0.0.0:0"
tls_cert = "{home}/tls/cert.pem"
tls_key = "{home}/tls/key.pem"
[provider.fake]
kind = "openai"
base_url = "{fake.url}/v1"
models = ["fake-model"]
[agents.crab]
model = "fake-model"
""",
        ready_file="crabtalk.tcp",
    )
    port = Path(home, "crabtalk.tcp").read_text().strip()
    yield {"home": home, "tcp": f"127.0.0.1:{port}", "fingerprint": fingerprint, "token": token}
    proc.terminate()
    proc.wait(10)


def test_pinned_tls_and_a_token_stream_a_turn(remote, fake):
    fake.enqueue(openai_sse("hello over tls"))

    async def main():
        opts = {"tcp": remote["tcp"], "tls": True, "fingerprint": remote["fingerprint"], "token": remote["token"]}
        async with await Client.connect(home=remote["home"], **opts) as client:
            return [e async for e in client.stream("crab", "hi")]

    events = asyncio.run(asyncio.wait_for(main(), 30))
    assert "".join(e.chunk.content for e in events if e.HasField("chunk")) == "hello over tls"
    assert events[-1].end.stop_reason == "stop"


def test_another_certificate_is_refused_and_a_wrong_token_is_unauthorized(remote):
    other = cli(remote["home"], "tls", "init", "--dir", os.path.join(remote["home"], "other-tls"))

    async def main():
        base = {"home": remote["home"], "tcp": remote["tcp"], "tls": True}
        with pytest.raises(CertificateRefused):
            await Client.connect(**base, fingerprint=other, token=remote["token"])
        with pytest.raises(Unauthorized):
            await Client.connect(**base, fingerprint=remote["fingerprint"], token="ct_wrong")

    asyncio.run(asyncio.wait_for(main(), 30))
