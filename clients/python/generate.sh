#!/usr/bin/env bash
# Regenerates the Python stubs of hourglass.v1 (proto/hourglass/v1/*.proto) into
# src/hourglass_client/v1/: *_pb2.py (messages), *_pb2.pyi (their types) and *_pb2_grpc.py (stubs).
#
#   clients/python/generate.sh           rewrite the committed files
#   clients/python/generate.sh --check   fail when the committed files differ from a fresh generation
#
# The generated files are committed, so that `pip install ./clients/python` needs no code generator.
# They depend on the generator's version (grpcio-tools stamps it into every *_pb2_grpc.py, and the
# protobuf it bundles into every *_pb2.py), so the version is pinned here and in pyproject.toml's
# `dev` extra; bumping it means bumping both, regenerating, and raising the grpcio and protobuf lower
# bounds of pyproject.toml to the versions the new files name.
#
# protoc writes `from hourglass.v1 import …` for the protos' own imports; the files live in the
# package hourglass_client.v1, so those lines are rewritten to `from hourglass_client.v1 import …`.
set -euo pipefail

GRPCIO_TOOLS_VERSION="1.85.1"

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
out="$here/src/hourglass_client/v1"

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

have="$("$python" -c 'from importlib.metadata import version; print(version("grpcio-tools"))' 2>/dev/null || true)"
if [ "$have" != "$GRPCIO_TOOLS_VERSION" ]; then
  echo "generate.sh needs grpcio-tools==$GRPCIO_TOOLS_VERSION (found: ${have:-none});" >&2
  echo "  pip install 'grpcio-tools==$GRPCIO_TOOLS_VERSION'   (or: pip install './clients/python[dev]')" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$root/proto" && "$python" -m grpc_tools.protoc -I . \
  --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
  hourglass/v1/*.proto)

mkdir -p "$tmp/v1"
for f in "$tmp"/hourglass/v1/*; do
  sed -e 's/^from hourglass\.v1 import /from hourglass_client.v1 import /' "$f" > "$tmp/v1/$(basename "$f")"
done
cat > "$tmp/v1/__init__.py" <<'PY'
"""Generated protobuf and gRPC modules of hourglass.v1 (clients/python/generate.sh; do not edit)."""
PY

if $check; then
  if diff -r -u "$out" "$tmp/v1" -x __pycache__; then
    echo "clients/python: the committed stubs match a fresh generation"
  else
    echo "clients/python: the committed stubs are stale; run clients/python/generate.sh and commit" >&2
    exit 1
  fi
else
  find "$out" -maxdepth 1 -type f \( -name '*_pb2*.py' -o -name '*_pb2.pyi' -o -name '__init__.py' \) -delete
  cp "$tmp"/v1/* "$out/"
  echo "clients/python: wrote $(ls "$tmp/v1" | wc -l) files to src/hourglass_client/v1"
fi
