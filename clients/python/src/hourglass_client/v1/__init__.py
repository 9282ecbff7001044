"""Generated protobuf and gRPC modules of hourglass.v1 (clients/python/generate.sh; do not edit)."""
