"""Python client of Hourglass's gRPC API, the protobuf package hourglass.v1.

`Client` opens a channel and exposes a stub per service (`client.policy`, `client.registry`,
`client.webhook`, `client.usage`), sending a bearer token and a default deadline with every call.
The messages are the generated modules `policy_pb2`, `registry_pb2`, `usage_pb2` and `webhook_pb2`,
re-exported here from `hourglass_client.v1`.
"""

from hourglass_client._client import Client
from hourglass_client.v1 import (
    policy_pb2,
    policy_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)

__all__ = [
    "Client",
    "policy_pb2",
    "policy_pb2_grpc",
    "registry_pb2",
    "registry_pb2_grpc",
    "usage_pb2",
    "usage_pb2_grpc",
    "webhook_pb2",
    "webhook_pb2_grpc",
]
