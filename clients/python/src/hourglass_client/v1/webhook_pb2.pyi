from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestWebhookRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: str
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class IngestWebhookResponse(_message.Message):
    __slots__ = ("applied", "duplicates", "ignored", "errors", "ignored_items")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    applied: int
    duplicates: int
    ignored: int
    errors: _containers.RepeatedCompositeFieldContainer[WebhookItemError]
    ignored_items: _containers.RepeatedCompositeFieldContainer[WebhookItemNote]
    def __init__(self, applied: _Optional[int] = ..., duplicates: _Optional[int] = ..., ignored: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[WebhookItemError, _Mapping]]] = ..., ignored_items: _Optional[_Iterable[_Union[WebhookItemNote, _Mapping]]] = ...) -> None: ...

class WebhookItemError(_message.Message):
    __slots__ = ("path", "reason")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WebhookItemNote(_message.Message):
    __slots__ = ("path", "reason")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
