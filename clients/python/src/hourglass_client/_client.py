"""The hand-written part of hourglass_client: a channel with a token and a default deadline."""

from __future__ import annotations

import collections
from types import TracebackType
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, Type, Union

import grpc

from hourglass_client.v1 import policy_pb2_grpc, registry_pb2_grpc, usage_pb2_grpc, webhook_pb2_grpc

Metadata = Sequence[Tuple[str, Union[str, bytes]]]
ChannelOptions = Sequence[Tuple[str, Any]]


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    """A grpc.ClientCallDetails with the token and the default deadline filled in."""


class _DefaultsInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` and a default deadline to every call of a channel.

    A call that passes its own `timeout=` keeps it; one that passes its own `authorization` metadata
    keeps that instead of the client's token.
    """

    def __init__(self, token: Optional[str], timeout: Optional[float]) -> None:
        self._authorization = None if token is None else f"Bearer {token}"
        self._timeout = timeout
        self.closed = False

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if self.closed:
            # grpcio may crash the process on a call through a closed channel: refuse it here.
            raise ValueError(f"hourglass_client.Client is closed: cannot call {details.method}")
        metadata = list(details.metadata or ())
        if self._authorization is not None and not any(k.lower() == "authorization" for k, _ in metadata):
            metadata.append(("authorization", self._authorization))
        timeout = details.timeout if details.timeout is not None else self._timeout
        return _CallDetails(
            method=details.method,
            timeout=timeout,
            metadata=metadata or None,
            credentials=details.credentials,
            wait_for_ready=getattr(details, "wait_for_ready", None),
            compression=getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails, request_iterator: Iterator[Any]) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails, request_iterator: Iterator[Any]) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


class Client:
    """A connection to an Hourglass server, with a stub for each of its four services.

    Example::

        from hourglass_client import Client, policy_pb2

        with Client("127.0.0.1:50051", token="s3cret") as client:
            answer = client.policy.Authorize(policy_pb2.AuthorizeRequest(business_id="1065", customer_id="919800000001",
                message=policy_pb2.OutboundMessage(free_form=policy_pb2.FreeForm())))

    Every call made through the stubs carries `authorization: Bearer <token>` when a token is given, and
    the default deadline `timeout` (seconds) unless the call passes its own `timeout=`. A failed call
    raises `grpc.RpcError`, whose `.code()` is a `grpc.StatusCode` (`INVALID_ARGUMENT` names the field at
    fault in `.details()`; `DEADLINE_EXCEEDED` when the deadline passed).

    Args:
        target: the server's address, `HOST:PORT` (any gRPC target string).
        token: the bearer token sent with every call; None sends no `authorization` header.
        timeout: the default deadline of every call, in seconds; None for no deadline.
        secure: use TLS with the system's root certificates (ignored when `credentials` is given).
        credentials: TLS channel credentials (e.g. `grpc.ssl_channel_credentials(root_certificates=...)`);
            implies a secure channel.
        options: gRPC channel options, e.g. `[("grpc.max_receive_message_length", 8 << 20)]`.
    """

    policy: policy_pb2_grpc.PolicyServiceStub
    """hourglass.v1.PolicyService: Authorize, AuthorizeBatch, RecordMessage, ListOpenConversations."""
    registry: registry_pb2_grpc.RegistryServiceStub
    """hourglass.v1.RegistryService: accounts, portfolios, businesses, templates, consent, links."""
    webhook: webhook_pb2_grpc.WebhookServiceStub
    """hourglass.v1.WebhookService: IngestWebhook."""
    usage: usage_pb2_grpc.UsageServiceStub
    """hourglass.v1.UsageService: reconciliation, delivery stats, estimates, usage, budgets."""

    def __init__(
        self,
        target: str,
        token: Optional[str] = None,
        timeout: Optional[float] = 2.0,
        secure: bool = False,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Optional[ChannelOptions] = None,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
        if token is not None and (not token or any(c in token for c in "\r\n")):
            raise ValueError("token must be a non-empty string without line breaks")
        self.target = target
        self.timeout = timeout
        if credentials is None and secure:
            credentials = grpc.ssl_channel_credentials()
        if credentials is not None:
            self._raw_channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._raw_channel = grpc.insecure_channel(target, options=options)
        self._defaults = _DefaultsInterceptor(token, timeout)
        self.channel: grpc.Channel = grpc.intercept_channel(self._raw_channel, self._defaults)
        """The channel the stubs use (token and default deadline applied), for stubs of other services."""
        self.policy = policy_pb2_grpc.PolicyServiceStub(self.channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self.webhook = webhook_pb2_grpc.WebhookServiceStub(self.channel)
        self.usage = usage_pb2_grpc.UsageServiceStub(self.channel)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the channel is connected; raises `grpc.FutureTimeoutError` after `timeout` seconds."""
        grpc.channel_ready_future(self._raw_channel).result(timeout=timeout)

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled, and later calls raise `ValueError`.
        Closing twice is harmless."""
        self._defaults.closed = True
        self._raw_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.target!r}, timeout={self.timeout!r})"
