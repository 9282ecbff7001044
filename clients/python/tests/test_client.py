"""hourglass_client against the real binary (conftest.py's `server` and `authed_server`) and an in-process
gRPC stub."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Iterator, List, Optional, Tuple

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from conftest import AUTH_ACCOUNT, AUTH_TOKENS, Server
from hourglass_client import Client, policy_pb2, policy_pb2_grpc, registry_pb2, usage_pb2


def ts(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def free_form() -> policy_pb2.OutboundMessage:
    return policy_pb2.OutboundMessage(free_form=policy_pb2.FreeForm())


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.target, token="test-token", timeout=5.0) as c:
        yield c


# --- against the real binary -------------------------------------------------------------------


def test_record_inbound_then_outbound_free_form(client: Client) -> None:
    business, customer = "106540352242001", "919800000101"
    inbound = client.policy.RecordMessage(
        policy_pb2.RecordMessageRequest(
            message_id="wamid.py.in.1",
            business_id=business,
            customer_id="+" + customer,
            at=ts("2024-03-05T09:00:00Z"),
            inbound=policy_pb2.Inbound(entry_point=policy_pb2.ENTRY_POINT_ORGANIC),
        )
    )
    assert not inbound.HasField("decision")
    assert not inbound.duplicate

    outbound = client.policy.RecordMessage(
        policy_pb2.RecordMessageRequest(
            message_id="wamid.py.out.1",
            business_id=business,
            customer_id=customer,
            at=ts("2024-03-05T09:30:00Z"),
            outbound=free_form(),
        )
    )
    decision = outbound.decision
    assert decision.allowed
    assert decision.HasField("charge")
    charge = decision.charge
    assert charge.category == policy_pb2.CATEGORY_SERVICE
    assert charge.pricing_model == policy_pb2.PRICING_MODEL_CONVERSATION
    assert charge.pricing_type == policy_pb2.PRICING_TYPE_FREE_TIER
    assert charge.billable and charge.opens_conversation
    assert charge.price.currency_code == "INR"
    assert charge.conversation.id != ""
    assert decision.customer_service_window_expires_at.ToJsonString() == "2024-03-06T09:00:00Z"

    again = client.policy.RecordMessage(
        policy_pb2.RecordMessageRequest(
            message_id="wamid.py.out.1",
            business_id=business,
            customer_id=customer,
            at=ts("2024-03-05T09:30:00Z"),
            outbound=free_form(),
        )
    )
    assert again.duplicate
    assert again.decision == decision


def test_authorize_inside_then_outside_the_window(client: Client) -> None:
    business, customer = "106540352242002", "919800000102"
    client.policy.RecordMessage(
        policy_pb2.RecordMessageRequest(
            message_id="wamid.py.in.2",
            business_id=business,
            customer_id=customer,
            at=ts("2024-03-05T09:00:00Z"),
            inbound=policy_pb2.Inbound(),
        )
    )
    inside = client.policy.Authorize(
        policy_pb2.AuthorizeRequest(
            business_id=business, customer_id=customer, message=free_form(), at=ts("2024-03-05T09:30:00Z")
        )
    ).decision
    assert inside.allowed
    assert inside.charge.category == policy_pb2.CATEGORY_SERVICE
    assert inside.charge.conversation.id == ""  # a dry run opens nothing

    outside = client.policy.Authorize(
        policy_pb2.AuthorizeRequest(
            business_id=business, customer_id=customer, message=free_form(), at=ts("2024-03-07T12:00:00Z")
        )
    ).decision
    assert not outside.allowed
    assert outside.deny_reason == policy_pb2.DENY_REASON_OUTSIDE_CUSTOMER_SERVICE_WINDOW
    assert outside.meta_error_code == 131047


def test_bad_request_is_invalid_argument_naming_the_field(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.policy.Authorize(
            policy_pb2.AuthorizeRequest(business_id="106540352242003", customer_id="12ab", message=free_form())
        )
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "customer_id" in error.details()


def test_put_then_get_account(client: Client) -> None:
    put = client.registry.PutAccount(
        registry_pb2.PutAccountRequest(
            account_id="waba-py-1",
            portfolio_id="portfolio-py-1",
            time_zone="Asia/Kolkata",
            effective_at=ts("2024-03-01T00:00:00Z"),
        )
    ).account
    assert put.account_id == "waba-py-1"
    assert put.time_zone == "Asia/Kolkata"

    got = client.registry.GetAccount(
        registry_pb2.GetAccountRequest(account_id="waba-py-1", at=ts("2024-03-05T00:00:00Z"))
    ).account
    assert got == put
    assert got.portfolio_id == "portfolio-py-1"
    assert got.effective_at.ToJsonString() == "2024-03-01T00:00:00Z"


def test_estimate_cost(client: Client) -> None:
    answer = client.usage.EstimateCost(
        usage_pb2.EstimateCostRequest(
            at=ts("2024-03-07T12:00:00Z"),
            lines=[usage_pb2.EstimateLine(market="India", category=policy_pb2.CATEGORY_MARKETING, count=10)],
        )
    )
    assert len(answer.lines) == 1
    assert answer.lines[0].market == "India"
    assert answer.lines[0].count == 10
    # India's marketing conversation of March 2024 is INR 0.8147: ten are INR 8.147.
    assert answer.HasField("total")
    assert (answer.total.currency_code, answer.total.units, answer.total.nanos) == ("INR", 8, 147_000_000)
    assert list(answer.totals) == [answer.total]


def test_a_token_is_ignored_by_a_server_without_credentials(server: Server) -> None:
    with Client(server.target, token="anything") as client:
        answer = client.usage.EstimateCost(
            usage_pb2.EstimateCostRequest(
                lines=[usage_pb2.EstimateLine(market="India", category=policy_pb2.CATEGORY_UTILITY, count=1)]
            )
        )
    assert answer.total.currency_code == "INR"


def _put_account(client: Client) -> registry_pb2.PutAccountResponse:
    return client.registry.PutAccount(registry_pb2.PutAccountRequest(account_id=AUTH_ACCOUNT, time_zone="UTC"))


def test_the_server_takes_the_token_the_client_sends(authed_server: Server) -> None:
    request = usage_pb2.GetBudgetRequest(account_id=AUTH_ACCOUNT)
    with Client(authed_server.target, token=AUTH_TOKENS["reader"]) as reader:
        # Authenticated: the account is not registered, which is NOT_FOUND, not a refusal.
        with pytest.raises(grpc.RpcError) as not_found:
            reader.usage.GetBudget(request)
        assert not_found.value.code() == grpc.StatusCode.NOT_FOUND, not_found.value.details()
        # A reader may not write.
        with pytest.raises(grpc.RpcError) as denied:
            _put_account(reader)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Nor touch another account.
        with pytest.raises(grpc.RpcError) as other:
            reader.usage.GetBudget(usage_pb2.GetBudgetRequest(account_id="waba-someone-else"))
        assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for token in (None, "not-a-token"):
        with Client(authed_server.target, token=token) as anonymous:
            with pytest.raises(grpc.RpcError) as refused:
                anonymous.usage.GetBudget(request)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, token


def test_a_deadline_already_past_is_deadline_exceeded(server: Server) -> None:
    # A deadline in the past fails for certain; a tiny positive one (1 µs) may not, since grpc's timers
    # are coarser than a loopback round trip. That the client's default deadline reaches every call is
    # checked against the in-process stub below (test_the_default_deadline_reaches_the_server and
    # test_a_slow_answer_exceeds_the_default_deadline).
    request = policy_pb2.AuthorizeRequest(business_id="106540352242004", customer_id="919800000104", message=free_form())
    with Client(server.target, timeout=5.0) as client:
        client.wait_ready()
        with pytest.raises(grpc.RpcError) as raised:
            client.policy.Authorize(request, timeout=-1.0)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The same call under the client's default deadline is answered.
        assert client.policy.Authorize(request).decision.deny_reason == (
            policy_pb2.DENY_REASON_OUTSIDE_CUSTOMER_SERVICE_WINDOW
        )


def test_closing_the_client_closes_its_channel(server: Server) -> None:
    with Client(server.target) as client:
        client.wait_ready()
    with pytest.raises(ValueError, match="closed"):
        client.usage.EstimateCost(usage_pb2.EstimateCostRequest())
    client.close()


# --- against an in-process stub of PolicyService, which sees what the client sends ---------------


class _Recorder(policy_pb2_grpc.PolicyServiceServicer):
    """Answers Authorize with an allowed decision after `delay` seconds, recording each call's
    metadata and remaining time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: List[Tuple[List[Tuple[str, str]], Optional[float]]] = []
        self.lock = threading.Lock()

    def Authorize(self, request: policy_pb2.AuthorizeRequest, context: grpc.ServicerContext) -> policy_pb2.AuthorizeResponse:
        with self.lock:
            self.calls.append(([(m.key, m.value) for m in context.invocation_metadata()], context.time_remaining()))
        time.sleep(self.delay)
        return policy_pb2.AuthorizeResponse(decision=policy_pb2.Decision(allowed=True))


@pytest.fixture
def stub_server() -> Iterator[Tuple[str, _Recorder]]:
    recorder = _Recorder()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(recorder, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", recorder
    finally:
        server.stop(grace=None)


def _authorize() -> policy_pb2.AuthorizeRequest:
    return policy_pb2.AuthorizeRequest(business_id="1", customer_id="919800000001", message=free_form())


def test_the_token_is_sent_as_bearer_authorization(stub_server: Tuple[str, _Recorder]) -> None:
    target, recorder = stub_server
    with Client(target, token="s3cret") as client:
        assert client.policy.Authorize(_authorize()).decision.allowed
        client.policy.Authorize(_authorize(), metadata=[("x-request-id", "42")])
    with Client(target) as client:
        client.policy.Authorize(_authorize())
    first, second, without = (dict(metadata) for metadata, _ in recorder.calls)
    assert first["authorization"] == "Bearer s3cret"
    assert second["authorization"] == "Bearer s3cret"
    assert second["x-request-id"] == "42"
    assert "authorization" not in without


def test_the_default_deadline_reaches_the_server(stub_server: Tuple[str, _Recorder]) -> None:
    target, recorder = stub_server
    with Client(target, timeout=3.0) as client:
        client.policy.Authorize(_authorize())
        client.policy.Authorize(_authorize(), timeout=30.0)
    with Client(target, timeout=None) as client:
        client.policy.Authorize(_authorize())
    (_, default), (_, own), (_, none) = recorder.calls
    # The grpc-timeout header rounds a deadline up a little on its way: allow a second.
    assert default is not None and 0 < default <= 4.0
    assert own is not None and 4.0 < own <= 31.0
    assert none is None or none > 1000  # no deadline: grpc reports none, or a far one


def test_a_slow_answer_exceeds_the_default_deadline(stub_server: Tuple[str, _Recorder]) -> None:
    target, recorder = stub_server
    recorder.delay = 1.0
    with Client(target, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            client.policy.Authorize(_authorize())
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 0.9


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", timeout=0)
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", token="a\nb")
