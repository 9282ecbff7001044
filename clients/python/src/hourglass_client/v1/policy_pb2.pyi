import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Category(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_UNSPECIFIED: _ClassVar[Category]
    CATEGORY_MARKETING: _ClassVar[Category]
    CATEGORY_UTILITY: _ClassVar[Category]
    CATEGORY_AUTHENTICATION: _ClassVar[Category]
    CATEGORY_SERVICE: _ClassVar[Category]
    CATEGORY_FREE_ENTRY_POINT: _ClassVar[Category]

class EntryPoint(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_POINT_UNSPECIFIED: _ClassVar[EntryPoint]
    ENTRY_POINT_ORGANIC: _ClassVar[EntryPoint]
    ENTRY_POINT_CLICK_TO_WHATSAPP_AD: _ClassVar[EntryPoint]
    ENTRY_POINT_PAGE_CALL_TO_ACTION: _ClassVar[EntryPoint]

class ClientPlatform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_PLATFORM_UNSPECIFIED: _ClassVar[ClientPlatform]
    CLIENT_PLATFORM_ANDROID: _ClassVar[ClientPlatform]
    CLIENT_PLATFORM_IOS: _ClassVar[ClientPlatform]
    CLIENT_PLATFORM_WEB: _ClassVar[ClientPlatform]
    CLIENT_PLATFORM_DESKTOP: _ClassVar[ClientPlatform]

class DenyReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENY_REASON_UNSPECIFIED: _ClassVar[DenyReason]
    DENY_REASON_OUTSIDE_CUSTOMER_SERVICE_WINDOW: _ClassVar[DenyReason]
    DENY_REASON_TEMPLATE_NOT_APPROVED: _ClassVar[DenyReason]
    DENY_REASON_TEMPLATE_PAUSED: _ClassVar[DenyReason]
    DENY_REASON_TEMPLATE_DISABLED: _ClassVar[DenyReason]
    DENY_REASON_NO_OPT_IN: _ClassVar[DenyReason]
    DENY_REASON_CUSTOMER_OPTED_OUT: _ClassVar[DenyReason]
    DENY_REASON_MARKETING_STOPPED: _ClassVar[DenyReason]
    DENY_REASON_MARKETING_LIMIT: _ClassVar[DenyReason]
    DENY_REASON_MESSAGING_LIMIT: _ClassVar[DenyReason]
    DENY_REASON_BUDGET_EXCEEDED: _ClassVar[DenyReason]

class PricingModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICING_MODEL_UNSPECIFIED: _ClassVar[PricingModel]
    PRICING_MODEL_CONVERSATION: _ClassVar[PricingModel]
    PRICING_MODEL_PER_MESSAGE: _ClassVar[PricingModel]

class PricingType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICING_TYPE_UNSPECIFIED: _ClassVar[PricingType]
    PRICING_TYPE_REGULAR: _ClassVar[PricingType]
    PRICING_TYPE_FREE_TIER: _ClassVar[PricingType]
    PRICING_TYPE_FREE_ENTRY_POINT: _ClassVar[PricingType]
    PRICING_TYPE_FREE_CUSTOMER_SERVICE: _ClassVar[PricingType]

class DecisionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_SOURCE_UNSPECIFIED: _ClassVar[DecisionSource]
    DECISION_SOURCE_STORE: _ClassVar[DecisionSource]
    DECISION_SOURCE_DEGRADED: _ClassVar[DecisionSource]
CATEGORY_UNSPECIFIED: Category
CATEGORY_MARKETING: Category
CATEGORY_UTILITY: Category
CATEGORY_AUTHENTICATION: Category
CATEGORY_SERVICE: Category
CATEGORY_FREE_ENTRY_POINT: Category
ENTRY_POINT_UNSPECIFIED: EntryPoint
ENTRY_POINT_ORGANIC: EntryPoint
ENTRY_POINT_CLICK_TO_WHATSAPP_AD: EntryPoint
ENTRY_POINT_PAGE_CALL_TO_ACTION: EntryPoint
CLIENT_PLATFORM_UNSPECIFIED: ClientPlatform
CLIENT_PLATFORM_ANDROID: ClientPlatform
CLIENT_PLATFORM_IOS: ClientPlatform
CLIENT_PLATFORM_WEB: ClientPlatform
CLIENT_PLATFORM_DESKTOP: ClientPlatform
DENY_REASON_UNSPECIFIED: DenyReason
DENY_REASON_OUTSIDE_CUSTOMER_SERVICE_WINDOW: DenyReason
DENY_REASON_TEMPLATE_NOT_APPROVED: DenyReason
DENY_REASON_TEMPLATE_PAUSED: DenyReason
DENY_REASON_TEMPLATE_DISABLED: DenyReason
DENY_REASON_NO_OPT_IN: DenyReason
DENY_REASON_CUSTOMER_OPTED_OUT: DenyReason
DENY_REASON_MARKETING_STOPPED: DenyReason
DENY_REASON_MARKETING_LIMIT: DenyReason
DENY_REASON_MESSAGING_LIMIT: DenyReason
DENY_REASON_BUDGET_EXCEEDED: DenyReason
PRICING_MODEL_UNSPECIFIED: PricingModel
PRICING_MODEL_CONVERSATION: PricingModel
PRICING_MODEL_PER_MESSAGE: PricingModel
PRICING_TYPE_UNSPECIFIED: PricingType
PRICING_TYPE_REGULAR: PricingType
PRICING_TYPE_FREE_TIER: PricingType
PRICING_TYPE_FREE_ENTRY_POINT: PricingType
PRICING_TYPE_FREE_CUSTOMER_SERVICE: PricingType
DECISION_SOURCE_UNSPECIFIED: DecisionSource
DECISION_SOURCE_STORE: DecisionSource
DECISION_SOURCE_DEGRADED: DecisionSource

class Money(_message.Message):
    __slots__ = ("currency_code", "units", "nanos")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    units: int
    nanos: int
    def __init__(self, currency_code: _Optional[str] = ..., units: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class FreeForm(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Template(_message.Message):
    __slots__ = ("name", "language", "category")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    name: str
    language: str
    category: Category
    def __init__(self, name: _Optional[str] = ..., language: _Optional[str] = ..., category: _Optional[_Union[Category, str]] = ...) -> None: ...

class OutboundMessage(_message.Message):
    __slots__ = ("free_form", "template")
    FREE_FORM_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    free_form: FreeForm
    template: Template
    def __init__(self, free_form: _Optional[_Union[FreeForm, _Mapping]] = ..., template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class Inbound(_message.Message):
    __slots__ = ("entry_point", "platform")
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    entry_point: EntryPoint
    platform: ClientPlatform
    def __init__(self, entry_point: _Optional[_Union[EntryPoint, str]] = ..., platform: _Optional[_Union[ClientPlatform, str]] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "category", "opened_at", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    category: Category
    opened_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., category: _Optional[_Union[Category, str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Charge(_message.Message):
    __slots__ = ("pricing_model", "pricing_type", "billable", "category", "price", "opens_conversation", "conversation", "tier")
    PRICING_MODEL_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    OPENS_CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    pricing_model: PricingModel
    pricing_type: PricingType
    billable: bool
    category: Category
    price: Money
    opens_conversation: bool
    conversation: Conversation
    tier: int
    def __init__(self, pricing_model: _Optional[_Union[PricingModel, str]] = ..., pricing_type: _Optional[_Union[PricingType, str]] = ..., billable: _Optional[bool] = ..., category: _Optional[_Union[Category, str]] = ..., price: _Optional[_Union[Money, _Mapping]] = ..., opens_conversation: _Optional[bool] = ..., conversation: _Optional[_Union[Conversation, _Mapping]] = ..., tier: _Optional[int] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("allowed", "deny_reason", "meta_error_code", "explanation", "charge", "customer_service_window_expires_at", "shadow_deny_reason", "decision_source")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DENY_REASON_FIELD_NUMBER: _ClassVar[int]
    META_ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    CHARGE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SERVICE_WINDOW_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_DENY_REASON_FIELD_NUMBER: _ClassVar[int]
    DECISION_SOURCE_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    deny_reason: DenyReason
    meta_error_code: int
    explanation: str
    charge: Charge
    customer_service_window_expires_at: _timestamp_pb2.Timestamp
    shadow_deny_reason: DenyReason
    decision_source: DecisionSource
    def __init__(self, allowed: _Optional[bool] = ..., deny_reason: _Optional[_Union[DenyReason, str]] = ..., meta_error_code: _Optional[int] = ..., explanation: _Optional[str] = ..., charge: _Optional[_Union[Charge, _Mapping]] = ..., customer_service_window_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shadow_deny_reason: _Optional[_Union[DenyReason, str]] = ..., decision_source: _Optional[_Union[DecisionSource, str]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("business_id", "customer_id", "message", "at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    customer_id: str
    message: OutboundMessage
    at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., message: _Optional[_Union[OutboundMessage, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class AuthorizeBatchRequest(_message.Message):
    __slots__ = ("business_id", "message", "at", "customer_ids")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    message: OutboundMessage
    at: _timestamp_pb2.Timestamp
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, business_id: _Optional[str] = ..., message: _Optional[_Union[OutboundMessage, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., customer_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthorizeBatchResponse(_message.Message):
    __slots__ = ("results", "allowed", "denied", "total_costs", "total_cost")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DENIED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COSTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchResult]
    allowed: int
    denied: _containers.RepeatedCompositeFieldContainer[DenyCount]
    total_costs: _containers.RepeatedCompositeFieldContainer[Money]
    total_cost: Money
    def __init__(self, results: _Optional[_Iterable[_Union[BatchResult, _Mapping]]] = ..., allowed: _Optional[int] = ..., denied: _Optional[_Iterable[_Union[DenyCount, _Mapping]]] = ..., total_costs: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., total_cost: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class BatchResult(_message.Message):
    __slots__ = ("customer_id", "decision")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    decision: Decision
    def __init__(self, customer_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class DenyCount(_message.Message):
    __slots__ = ("reason", "count")
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    reason: DenyReason
    count: int
    def __init__(self, reason: _Optional[_Union[DenyReason, str]] = ..., count: _Optional[int] = ...) -> None: ...

class RecordMessageRequest(_message.Message):
    __slots__ = ("message_id", "business_id", "customer_id", "at", "inbound", "outbound")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    INBOUND_FIELD_NUMBER: _ClassVar[int]
    OUTBOUND_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    business_id: str
    customer_id: str
    at: _timestamp_pb2.Timestamp
    inbound: Inbound
    outbound: OutboundMessage
    def __init__(self, message_id: _Optional[str] = ..., business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., inbound: _Optional[_Union[Inbound, _Mapping]] = ..., outbound: _Optional[_Union[OutboundMessage, _Mapping]] = ...) -> None: ...

class RecordMessageResponse(_message.Message):
    __slots__ = ("decision", "duplicate")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    duplicate: bool
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ListOpenConversationsRequest(_message.Message):
    __slots__ = ("business_id", "customer_id", "at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    customer_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListOpenConversationsResponse(_message.Message):
    __slots__ = ("conversations", "customer_service_window_expires_at", "free_entry_point_deadline")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SERVICE_WINDOW_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FREE_ENTRY_POINT_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    customer_service_window_expires_at: _timestamp_pb2.Timestamp
    free_entry_point_deadline: _timestamp_pb2.Timestamp
    def __init__(self, conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ..., customer_service_window_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., free_entry_point_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
