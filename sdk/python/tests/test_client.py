"""The crabtalk Python client against the compiled daemon: a turn streams;
it survives its connection being cut mid-turn (re-attached by seq, no gap,
no duplicate); an `ask` tool is approved; attach replays a session; errors
are typed; and the generated protobuf module matches proto/crabtalk.proto."""

import asyncio
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import REPO, CuttableProxy, openai_sse

from crabtalk import Client, DaemonError, DaemonNotRunning, NotFound


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_stream_survives_a_cut_connection_mid_turn(daemon, fake):
    text = "one two three four five six seven eight nine ten eleven twelve"
    sse = openai_sse(text, deltas=6)
    third = sse.index('"content": "' + text[22:33])  # the third delta (6 deltas of 11 characters)
    gate = threading.Event()
    fake.enqueue(sse, gate_after=sse.index("\n\n", third) + 2, gate=gate)

    async def main():
        proxy = await CuttableProxy(daemon["socket"]).start()
        reconnects = []

        def on_reconnect(session, after_seq, cause):
            reconnects.append((session, after_seq, type(cause).__name__))
            gate.set()  # let the model finish only once the cut was noticed

        client = await Client.connect(socket=proxy.path, on_reconnect=on_reconnect)
        events = []
        async for event in client.stream("crab", "count"):
            events.append(event)
            chunks = [e for e in events if e.WhichOneof("event") == "chunk"]
            if len(chunks) == 3 and not reconnects and proxy.accepted == 1:
                proxy.cut()
        await client.close()
        await proxy.close()
        return events, reconnects, proxy.accepted

    events, reconnects, accepted = run(main())
    assert len(reconnects) == 1 and reconnects[0][2] == "Disconnected"
    assert accepted == 2
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)), f"seqs not strictly increasing: {seqs}"
    assert "".join(e.chunk.content for e in events if e.WhichOneof("event") == "chunk") == text
    assert events[0].WhichOneof("event") == "start"
    assert events[-1].end.stop_reason == "stop"


def test_an_ask_tool_is_approved_and_runs(daemon, fake):
    marker = Path(daemon["work"], "approved.marker")
    fake.enqueue(openai_sse(tool_calls=[("call_py", "bash", {"command": "touch approved.marker && echo ran"})]))
    fake.enqueue(openai_sse("done"))

    async def main():
        async with await Client.connect(socket=daemon["socket"]) as client:
            kinds, acks = [], []
            async for event in client.stream("crab", "touch it"):
                kinds.append(event.WhichOneof("event"))
                if event.HasField("approval"):
                    assert event.approval.tool == "bash"
                    acks.append(await client.approve(event.session, event.approval.call_id, "allow"))
            return kinds, acks

    kinds, acks = run(main())
    assert len(acks) == 1 and "call_py" in acks[0]
    assert "tool_result" in kinds and kinds[-1] == "end"
    assert marker.exists()


def test_attach_replays_a_session_and_lists_it(daemon, fake):
    fake.enqueue(openai_sse("remember me"))

    async def main():
        async with await Client.connect(socket=daemon["socket"]) as client:
            answer = await client.send("crab", "hi")
            replayed = [e async for e in client.attach(answer.session, after_seq=0, until_end=True)]
            listed = await client.sessions(agent="crab")
            history = await client.history(answer.session)
            return answer, replayed, listed, history

    answer, replayed, listed, history = run(main())
    assert answer.content == "remember me" and answer.stop_reason == "stop"
    assert replayed[0].WhichOneof("event") == "start" and replayed[-1].WhichOneof("event") == "end"
    assert [e.seq for e in replayed] == sorted({e.seq for e in replayed})
    assert answer.session in [s.id for s in listed.sessions]
    assert [m.role for m in history.messages] == ["user", "assistant"]


def test_errors_are_typed(daemon):
    async def main():
        async with await Client.connect(socket=daemon["socket"]) as client:
            with pytest.raises(NotFound):
                await client.history(999_999)
            with pytest.raises(DaemonError):
                await client.send("nobody", "hi")
            assert (await client.ping()).protocol_version >= 1
        with pytest.raises(DaemonNotRunning):
            await Client.connect(socket=os.path.join(tempfile.mkdtemp(), "none.sock"))

    run(main())


def test_generated_module_matches_the_proto():
    out = tempfile.mkdtemp()
    subprocess.run(["protoc", f"--python_out={out}", "-I", str(REPO / "proto"), str(REPO / "proto" / "crabtalk.proto")], check=True)
    generated = Path(out, "crabtalk_pb2.py").read_text()
    assert generated == Path(REPO, "sdk", "python", "crabtalk", "crabtalk_pb2.py").read_text(), (
        "sdk/python/crabtalk/crabtalk_pb2.py is stale: run sdk/python/generate.sh"
    )
