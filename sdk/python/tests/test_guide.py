"""The Python client of docs/build-a-client.md runs as written against the
compiled daemon (its default endpoint is $CRABTALK_HOME's socket), so the
guide cannot drift from the package."""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, openai_sse


def test_the_guides_python_client_runs(daemon, fake):
    guide = (REPO / "docs" / "build-a-client.md").read_text()
    match = re.search(r"^```python\n(.*?)^```", guide, re.S | re.M)
    assert match, "docs/build-a-client.md has no ```python block"
    fake.enqueue(openai_sse("three files"))
    env = {**os.environ, "CRABTALK_HOME": daemon["home"], "PYTHONPATH": str(REPO / "sdk" / "python")}
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["three files", "[stop]", "no such session"]
