#!/bin/sh
# Regenerates crabtalk/crabtalk_pb2.py from proto/crabtalk.proto with protoc
# (Debian: protobuf-compiler). tests/test_client.py fails when it is stale.
set -eu
cd "$(dirname "$0")"
protoc --python_out=crabtalk -I ../../proto ../../proto/crabtalk.proto
