import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hourglass_client.v1 import policy_pb2 as _policy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageGranularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_GRANULARITY_UNSPECIFIED: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_DAILY: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_MONTHLY: _ClassVar[UsageGranularity]

class UsageDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_DIMENSION_UNSPECIFIED: _ClassVar[UsageDimension]
    USAGE_DIMENSION_MARKET: _ClassVar[UsageDimension]
    USAGE_DIMENSION_CATEGORY: _ClassVar[UsageDimension]
    USAGE_DIMENSION_PRICING_TYPE: _ClassVar[UsageDimension]
    USAGE_DIMENSION_BUSINESS: _ClassVar[UsageDimension]
    USAGE_DIMENSION_TIER: _ClassVar[UsageDimension]
USAGE_GRANULARITY_UNSPECIFIED: UsageGranularity
USAGE_GRANULARITY_DAILY: UsageGranularity
USAGE_GRANULARITY_MONTHLY: UsageGranularity
USAGE_DIMENSION_UNSPECIFIED: UsageDimension
USAGE_DIMENSION_MARKET: UsageDimension
USAGE_DIMENSION_CATEGORY: UsageDimension
USAGE_DIMENSION_PRICING_TYPE: UsageDimension
USAGE_DIMENSION_BUSINESS: UsageDimension
USAGE_DIMENSION_TIER: UsageDimension

class GetUsageRequest(_message.Message):
    __slots__ = ("account_id", "start", "end", "granularity", "dimensions")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    granularity: UsageGranularity
    dimensions: _containers.RepeatedScalarFieldContainer[UsageDimension]
    def __init__(self, account_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., granularity: _Optional[_Union[UsageGranularity, str]] = ..., dimensions: _Optional[_Iterable[_Union[UsageDimension, str]]] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("data_points",)
    DATA_POINTS_FIELD_NUMBER: _ClassVar[int]
    data_points: _containers.RepeatedCompositeFieldContainer[UsageDataPoint]
    def __init__(self, data_points: _Optional[_Iterable[_Union[UsageDataPoint, _Mapping]]] = ...) -> None: ...

class UsageDataPoint(_message.Message):
    __slots__ = ("start", "end", "market", "category", "pricing_type", "business_id", "volume", "failed", "conversations", "cost", "tier")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    market: str
    category: _policy_pb2.Category
    pricing_type: _policy_pb2.PricingType
    business_id: str
    volume: int
    failed: int
    conversations: int
    cost: _policy_pb2.Money
    tier: int
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., market: _Optional[str] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., pricing_type: _Optional[_Union[_policy_pb2.PricingType, str]] = ..., business_id: _Optional[str] = ..., volume: _Optional[int] = ..., failed: _Optional[int] = ..., conversations: _Optional[int] = ..., cost: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., tier: _Optional[int] = ...) -> None: ...

class GetReconciliationRequest(_message.Message):
    __slots__ = ("account_id", "start", "end")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetReconciliationResponse(_message.Message):
    __slots__ = ("matched", "mismatched", "category_differs", "pricing_type_differs", "billable_differs", "pending", "failed", "unmatched", "discrepancies", "meta_tiers")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCIES_FIELD_NUMBER: _ClassVar[int]
    META_TIERS_FIELD_NUMBER: _ClassVar[int]
    matched: int
    mismatched: int
    category_differs: int
    pricing_type_differs: int
    billable_differs: int
    pending: int
    failed: int
    unmatched: int
    discrepancies: _containers.RepeatedCompositeFieldContainer[Discrepancy]
    meta_tiers: _containers.RepeatedCompositeFieldContainer[MetaVolumeTier]
    def __init__(self, matched: _Optional[int] = ..., mismatched: _Optional[int] = ..., category_differs: _Optional[int] = ..., pricing_type_differs: _Optional[int] = ..., billable_differs: _Optional[int] = ..., pending: _Optional[int] = ..., failed: _Optional[int] = ..., unmatched: _Optional[int] = ..., discrepancies: _Optional[_Iterable[_Union[Discrepancy, _Mapping]]] = ..., meta_tiers: _Optional[_Iterable[_Union[MetaVolumeTier, _Mapping]]] = ...) -> None: ...

class MetaVolumeTier(_message.Message):
    __slots__ = ("market", "category", "effective_month", "tier", "updated_at", "hourglass_tier", "hourglass_count", "matches")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_MONTH_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    HOURGLASS_TIER_FIELD_NUMBER: _ClassVar[int]
    HOURGLASS_COUNT_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    market: str
    category: str
    effective_month: str
    tier: str
    updated_at: _timestamp_pb2.Timestamp
    hourglass_tier: str
    hourglass_count: int
    matches: bool
    def __init__(self, market: _Optional[str] = ..., category: _Optional[str] = ..., effective_month: _Optional[str] = ..., tier: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hourglass_tier: _Optional[str] = ..., hourglass_count: _Optional[int] = ..., matches: _Optional[bool] = ...) -> None: ...

class Discrepancy(_message.Message):
    __slots__ = ("business_id", "customer_id", "message_id", "predicted", "reported", "category_differs", "pricing_type_differs", "billable_differs")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_DIFFERS_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    customer_id: str
    message_id: str
    predicted: Prediction
    reported: MetaReport
    category_differs: bool
    pricing_type_differs: bool
    billable_differs: bool
    def __init__(self, business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., message_id: _Optional[str] = ..., predicted: _Optional[_Union[Prediction, _Mapping]] = ..., reported: _Optional[_Union[MetaReport, _Mapping]] = ..., category_differs: _Optional[bool] = ..., pricing_type_differs: _Optional[bool] = ..., billable_differs: _Optional[bool] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("at", "category", "pricing_type", "billable", "price", "template_name", "template_language")
    AT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    category: _policy_pb2.Category
    pricing_type: _policy_pb2.PricingType
    billable: bool
    price: _policy_pb2.Money
    template_name: str
    template_language: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., pricing_type: _Optional[_Union[_policy_pb2.PricingType, str]] = ..., billable: _Optional[bool] = ..., price: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., template_name: _Optional[str] = ..., template_language: _Optional[str] = ...) -> None: ...

class MetaReport(_message.Message):
    __slots__ = ("sent_at", "delivered_at", "read_at", "failed_at", "error_codes", "category", "pricing_type", "billable")
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    READ_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICING_TYPE_FIELD_NUMBER: _ClassVar[int]
    BILLABLE_FIELD_NUMBER: _ClassVar[int]
    sent_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    read_at: _timestamp_pb2.Timestamp
    failed_at: _timestamp_pb2.Timestamp
    error_codes: _containers.RepeatedScalarFieldContainer[int]
    category: str
    pricing_type: str
    billable: bool
    def __init__(self, sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., read_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_codes: _Optional[_Iterable[int]] = ..., category: _Optional[str] = ..., pricing_type: _Optional[str] = ..., billable: _Optional[bool] = ...) -> None: ...

class GetDeliveryStatsRequest(_message.Message):
    __slots__ = ("account_id", "start", "end")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDeliveryStatsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[DeliveryStatsRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[DeliveryStatsRow, _Mapping]]] = ...) -> None: ...

class DeliveryStatsRow(_message.Message):
    __slots__ = ("business_id", "template_name", "template_language", "recorded", "sent", "delivered", "read", "failed", "delivery_rate", "read_rate")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_RATE_FIELD_NUMBER: _ClassVar[int]
    READ_RATE_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    template_name: str
    template_language: str
    recorded: int
    sent: int
    delivered: int
    read: int
    failed: int
    delivery_rate: float
    read_rate: float
    def __init__(self, business_id: _Optional[str] = ..., template_name: _Optional[str] = ..., template_language: _Optional[str] = ..., recorded: _Optional[int] = ..., sent: _Optional[int] = ..., delivered: _Optional[int] = ..., read: _Optional[int] = ..., failed: _Optional[int] = ..., delivery_rate: _Optional[float] = ..., read_rate: _Optional[float] = ...) -> None: ...

class EstimateCostRequest(_message.Message):
    __slots__ = ("account_id", "at", "lines")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    at: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[EstimateLine]
    def __init__(self, account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[EstimateLine, _Mapping]]] = ...) -> None: ...

class EstimateLine(_message.Message):
    __slots__ = ("market", "customer_id", "category", "count")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    market: str
    customer_id: str
    category: _policy_pb2.Category
    count: int
    def __init__(self, market: _Optional[str] = ..., customer_id: _Optional[str] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., count: _Optional[int] = ...) -> None: ...

class EstimateCostResponse(_message.Message):
    __slots__ = ("lines", "totals", "total")
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LineEstimate]
    totals: _containers.RepeatedCompositeFieldContainer[_policy_pb2.Money]
    total: _policy_pb2.Money
    def __init__(self, lines: _Optional[_Iterable[_Union[LineEstimate, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[_policy_pb2.Money, _Mapping]]] = ..., total: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ...) -> None: ...

class LineEstimate(_message.Message):
    __slots__ = ("market", "category", "count", "pricing_model", "unit_price", "tiers", "cost")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PRICING_MODEL_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    market: str
    category: _policy_pb2.Category
    count: int
    pricing_model: _policy_pb2.PricingModel
    unit_price: _policy_pb2.Money
    tiers: _containers.RepeatedCompositeFieldContainer[TierUse]
    cost: _policy_pb2.Money
    def __init__(self, market: _Optional[str] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., count: _Optional[int] = ..., pricing_model: _Optional[_Union[_policy_pb2.PricingModel, str]] = ..., unit_price: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., tiers: _Optional[_Iterable[_Union[TierUse, _Mapping]]] = ..., cost: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ...) -> None: ...

class TierUse(_message.Message):
    __slots__ = ("rate", "count")
    FROM_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    rate: _policy_pb2.Money
    count: int
    def __init__(self, rate: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., count: _Optional[int] = ..., **kwargs) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("account_id", "at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("month_start", "month_end", "budget", "spent", "remaining")
    MONTH_START_FIELD_NUMBER: _ClassVar[int]
    MONTH_END_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    month_start: _timestamp_pb2.Timestamp
    month_end: _timestamp_pb2.Timestamp
    budget: _policy_pb2.Money
    spent: _policy_pb2.Money
    remaining: _policy_pb2.Money
    def __init__(self, month_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., month_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., budget: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., spent: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., remaining: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ...) -> None: ...
