import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hourglass_client.v1 import policy_pb2 as _policy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessagingLimit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGING_LIMIT_UNSPECIFIED: _ClassVar[MessagingLimit]
    MESSAGING_LIMIT_250: _ClassVar[MessagingLimit]
    MESSAGING_LIMIT_2K: _ClassVar[MessagingLimit]
    MESSAGING_LIMIT_10K: _ClassVar[MessagingLimit]
    MESSAGING_LIMIT_100K: _ClassVar[MessagingLimit]
    MESSAGING_LIMIT_UNLIMITED: _ClassVar[MessagingLimit]

class TemplateStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEMPLATE_STATUS_UNSPECIFIED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_APPROVED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_PENDING: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_REJECTED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_PAUSED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_DISABLED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_IN_APPEAL: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_PENDING_DELETION: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_DELETED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_ARCHIVED: _ClassVar[TemplateStatus]
    TEMPLATE_STATUS_LIMIT_EXCEEDED: _ClassVar[TemplateStatus]

class ConsentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_KIND_UNSPECIFIED: _ClassVar[ConsentKind]
    CONSENT_KIND_OPT_IN: _ClassVar[ConsentKind]
    CONSENT_KIND_OPT_OUT: _ClassVar[ConsentKind]
    CONSENT_KIND_MARKETING_STOP: _ClassVar[ConsentKind]
    CONSENT_KIND_MARKETING_RESUME: _ClassVar[ConsentKind]
    CONSENT_KIND_MARKETING_HOLD: _ClassVar[ConsentKind]
MESSAGING_LIMIT_UNSPECIFIED: MessagingLimit
MESSAGING_LIMIT_250: MessagingLimit
MESSAGING_LIMIT_2K: MessagingLimit
MESSAGING_LIMIT_10K: MessagingLimit
MESSAGING_LIMIT_100K: MessagingLimit
MESSAGING_LIMIT_UNLIMITED: MessagingLimit
TEMPLATE_STATUS_UNSPECIFIED: TemplateStatus
TEMPLATE_STATUS_APPROVED: TemplateStatus
TEMPLATE_STATUS_PENDING: TemplateStatus
TEMPLATE_STATUS_REJECTED: TemplateStatus
TEMPLATE_STATUS_PAUSED: TemplateStatus
TEMPLATE_STATUS_DISABLED: TemplateStatus
TEMPLATE_STATUS_IN_APPEAL: TemplateStatus
TEMPLATE_STATUS_PENDING_DELETION: TemplateStatus
TEMPLATE_STATUS_DELETED: TemplateStatus
TEMPLATE_STATUS_ARCHIVED: TemplateStatus
TEMPLATE_STATUS_LIMIT_EXCEEDED: TemplateStatus
CONSENT_KIND_UNSPECIFIED: ConsentKind
CONSENT_KIND_OPT_IN: ConsentKind
CONSENT_KIND_OPT_OUT: ConsentKind
CONSENT_KIND_MARKETING_STOP: ConsentKind
CONSENT_KIND_MARKETING_RESUME: ConsentKind
CONSENT_KIND_MARKETING_HOLD: ConsentKind

class MarketingCap(_message.Message):
    __slots__ = ("count", "window")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    count: int
    window: _duration_pb2.Duration
    def __init__(self, count: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "portfolio_id", "time_zone", "currency", "require_opt_in", "require_registered_templates", "marketing_cap", "monthly_budget", "effective_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_OPT_IN_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_REGISTERED_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    MARKETING_CAP_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_BUDGET_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    portfolio_id: str
    time_zone: str
    currency: str
    require_opt_in: bool
    require_registered_templates: bool
    marketing_cap: MarketingCap
    monthly_budget: _policy_pb2.Money
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., portfolio_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., currency: _Optional[str] = ..., require_opt_in: _Optional[bool] = ..., require_registered_templates: _Optional[bool] = ..., marketing_cap: _Optional[_Union[MarketingCap, _Mapping]] = ..., monthly_budget: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutAccountRequest(_message.Message):
    __slots__ = ("account_id", "portfolio_id", "time_zone", "currency", "require_opt_in", "require_registered_templates", "marketing_cap", "monthly_budget", "effective_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_OPT_IN_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_REGISTERED_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    MARKETING_CAP_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_BUDGET_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    portfolio_id: str
    time_zone: str
    currency: str
    require_opt_in: bool
    require_registered_templates: bool
    marketing_cap: MarketingCap
    monthly_budget: _policy_pb2.Money
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., portfolio_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., currency: _Optional[str] = ..., require_opt_in: _Optional[bool] = ..., require_registered_templates: _Optional[bool] = ..., marketing_cap: _Optional[_Union[MarketingCap, _Mapping]] = ..., monthly_budget: _Optional[_Union[_policy_pb2.Money, _Mapping]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id", "at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class Portfolio(_message.Message):
    __slots__ = ("portfolio_id", "messaging_limit", "effective_at")
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    portfolio_id: str
    messaging_limit: MessagingLimit
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, portfolio_id: _Optional[str] = ..., messaging_limit: _Optional[_Union[MessagingLimit, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutPortfolioRequest(_message.Message):
    __slots__ = ("portfolio_id", "messaging_limit", "effective_at")
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    portfolio_id: str
    messaging_limit: MessagingLimit
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, portfolio_id: _Optional[str] = ..., messaging_limit: _Optional[_Union[MessagingLimit, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutPortfolioResponse(_message.Message):
    __slots__ = ("portfolio",)
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    portfolio: Portfolio
    def __init__(self, portfolio: _Optional[_Union[Portfolio, _Mapping]] = ...) -> None: ...

class GetPortfolioRequest(_message.Message):
    __slots__ = ("portfolio_id", "at")
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    portfolio_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, portfolio_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPortfolioResponse(_message.Message):
    __slots__ = ("portfolio",)
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    portfolio: Portfolio
    def __init__(self, portfolio: _Optional[_Union[Portfolio, _Mapping]] = ...) -> None: ...

class Business(_message.Message):
    __slots__ = ("business_id", "account_id", "portfolio_id", "time_zone", "effective_at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    account_id: str
    portfolio_id: str
    time_zone: str
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., account_id: _Optional[str] = ..., portfolio_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutBusinessRequest(_message.Message):
    __slots__ = ("business_id", "account_id", "effective_at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    account_id: str
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., account_id: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutBusinessResponse(_message.Message):
    __slots__ = ("business",)
    BUSINESS_FIELD_NUMBER: _ClassVar[int]
    business: Business
    def __init__(self, business: _Optional[_Union[Business, _Mapping]] = ...) -> None: ...

class GetBusinessRequest(_message.Message):
    __slots__ = ("business_id", "at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBusinessResponse(_message.Message):
    __slots__ = ("business",)
    BUSINESS_FIELD_NUMBER: _ClassVar[int]
    business: Business
    def __init__(self, business: _Optional[_Union[Business, _Mapping]] = ...) -> None: ...

class TemplateChange(_message.Message):
    __slots__ = ("status", "category", "effective_at", "paused_until")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    status: TemplateStatus
    category: _policy_pb2.Category
    effective_at: _timestamp_pb2.Timestamp
    paused_until: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[TemplateStatus, str]] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisteredTemplate(_message.Message):
    __slots__ = ("account_id", "name", "language", "status", "category", "effective_at", "paused_until", "history")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    language: str
    status: TemplateStatus
    category: _policy_pb2.Category
    effective_at: _timestamp_pb2.Timestamp
    paused_until: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[TemplateChange]
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., status: _Optional[_Union[TemplateStatus, str]] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[TemplateChange, _Mapping]]] = ...) -> None: ...

class PutTemplateRequest(_message.Message):
    __slots__ = ("account_id", "name", "language", "status", "category", "effective_at", "paused_until")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    language: str
    status: TemplateStatus
    category: _policy_pb2.Category
    effective_at: _timestamp_pb2.Timestamp
    paused_until: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., status: _Optional[_Union[TemplateStatus, str]] = ..., category: _Optional[_Union[_policy_pb2.Category, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutTemplateResponse(_message.Message):
    __slots__ = ("template",)
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: RegisteredTemplate
    def __init__(self, template: _Optional[_Union[RegisteredTemplate, _Mapping]] = ...) -> None: ...

class GetTemplateRequest(_message.Message):
    __slots__ = ("account_id", "name", "language", "at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    language: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTemplateResponse(_message.Message):
    __slots__ = ("template", "quality_score")
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    template: RegisteredTemplate
    quality_score: str
    def __init__(self, template: _Optional[_Union[RegisteredTemplate, _Mapping]] = ..., quality_score: _Optional[str] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ("templates", "next_page_token")
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedCompositeFieldContainer[RegisteredTemplate]
    next_page_token: str
    def __init__(self, templates: _Optional[_Iterable[_Union[RegisteredTemplate, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConsentEvent(_message.Message):
    __slots__ = ("kind", "at", "source")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    kind: ConsentKind
    at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, kind: _Optional[_Union[ConsentKind, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("opted_in", "opted_out", "marketing_stopped", "opted_in_by", "opted_out_by", "marketing_stopped_by", "marketing_held", "marketing_held_by")
    OPTED_IN_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    MARKETING_STOPPED_FIELD_NUMBER: _ClassVar[int]
    OPTED_IN_BY_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_BY_FIELD_NUMBER: _ClassVar[int]
    MARKETING_STOPPED_BY_FIELD_NUMBER: _ClassVar[int]
    MARKETING_HELD_FIELD_NUMBER: _ClassVar[int]
    MARKETING_HELD_BY_FIELD_NUMBER: _ClassVar[int]
    opted_in: bool
    opted_out: bool
    marketing_stopped: bool
    opted_in_by: ConsentEvent
    opted_out_by: ConsentEvent
    marketing_stopped_by: ConsentEvent
    marketing_held: bool
    marketing_held_by: ConsentEvent
    def __init__(self, opted_in: _Optional[bool] = ..., opted_out: _Optional[bool] = ..., marketing_stopped: _Optional[bool] = ..., opted_in_by: _Optional[_Union[ConsentEvent, _Mapping]] = ..., opted_out_by: _Optional[_Union[ConsentEvent, _Mapping]] = ..., marketing_stopped_by: _Optional[_Union[ConsentEvent, _Mapping]] = ..., marketing_held: _Optional[bool] = ..., marketing_held_by: _Optional[_Union[ConsentEvent, _Mapping]] = ...) -> None: ...

class RecordConsentRequest(_message.Message):
    __slots__ = ("business_id", "customer_id", "kind", "at", "source")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    customer_id: str
    kind: ConsentKind
    at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., kind: _Optional[_Union[ConsentKind, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class RecordConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class GetConsentRequest(_message.Message):
    __slots__ = ("business_id", "customer_id", "at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    customer_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class LinkCustomerRequest(_message.Message):
    __slots__ = ("business_id", "phone", "bsuid", "at")
    BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    BSUID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    business_id: str
    phone: str
    bsuid: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, business_id: _Optional[str] = ..., phone: _Optional[str] = ..., bsuid: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LinkCustomerResponse(_message.Message):
    __slots__ = ("linked", "customer_id")
    LINKED_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    linked: bool
    customer_id: str
    def __init__(self, linked: _Optional[bool] = ..., customer_id: _Optional[str] = ...) -> None: ...
