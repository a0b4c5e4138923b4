"""Type stubs for smneo: a boto3-compatible client for the SageMaker Neo compilation API."""
import types
from typing import Any, Callable, Iterator, Mapping, Optional, Union

from . import artifact as artifact
from ._smneo import (
    ArtifactError as ArtifactError,
    DigestMismatchError as DigestMismatchError,
    UnsafeArchiveError as UnsafeArchiveError,
    ValidationWarning as ValidationWarning,
    ClientError as ClientError,
    CompilationJobFailed as CompilationJobFailed,
    CompilationJobStopped as CompilationJobStopped,
    CredentialRetrievalError as CredentialRetrievalError,
    EndpointConnectionError as EndpointConnectionError,
    HTTPClientError as HTTPClientError,
    Issue as Issue,
    NoCredentialsError as NoCredentialsError,
    NoRegionError as NoRegionError,
    ParamValidationError as ParamValidationError,
    ReadTimeoutError as ReadTimeoutError,
    Request as Request,
    ResourceInUse as ResourceInUse,
    ResourceLimitExceeded as ResourceLimitExceeded,
    ResourceNotFound as ResourceNotFound,
    ResponseParserError as ResponseParserError,
    SmneoError as SmneoError,
    SSLError as SSLError,
    WaiterCancelled as WaiterCancelled,
    WaiterError as WaiterError,
    WaiterTimeout as WaiterTimeout,
    parse_response as parse_response,
    validate as validate,
)
from ._smneo import Client as _CClient, PageRun

__version__: str
core_version: str

class _Exceptions:
    ClientError: type[ClientError]
    ResourceNotFound: type[ResourceNotFound]
    ResourceInUse: type[ResourceInUse]
    ResourceLimitExceeded: type[ResourceLimitExceeded]
    def from_code(self, error_code: str) -> type[ClientError]: ...

class PageIterator:
    resume_token: Optional[str]
    @property
    def result_keys(self) -> list[str]: ...
    def __iter__(self) -> Iterator[dict[str, Any]]: ...
    def build_full_result(self) -> dict[str, Any]: ...
    def search(self, expression: str) -> Iterator[Any]: ...

class Paginator:
    def paginate(self, PaginationConfig: Optional[Mapping[str, Any]] = ..., **kwargs: Any) -> PageIterator: ...

class Client(_CClient):
    meta: types.SimpleNamespace
    def __init__(self, region_name: Optional[str] = ..., endpoint_url: Optional[str] = ...,
                 profile_name: Optional[str] = ..., aws_access_key_id: Optional[str] = ...,
                 aws_secret_access_key: Optional[str] = ..., aws_session_token: Optional[str] = ...,
                 max_attempts: Optional[int] = ..., retry_mode: Optional[str] = ...,
                 connect_timeout: Optional[float] = ..., read_timeout: Optional[float] = ...,
                 verify: Union[bool, str, None] = ..., validation: str = ...,
                 allow_unknown_enum_values: bool = ..., config: Any = ...) -> None: ...
    @property
    def exceptions(self) -> _Exceptions: ...
    def can_paginate(self, operation_name: str) -> bool: ...
    def get_paginator(self, operation_name: str) -> Paginator: ...
    def iter_compilation_jobs(self, **filters: Any) -> PageRun: ...
    def iter_pipeline_execution_steps(self, **kwargs: Any) -> PageRun: ...
    def __enter__(self) -> "Client": ...
