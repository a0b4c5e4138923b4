"""Type stubs for smneo: a boto3-compatible client for the SageMaker Neo compilation API."""
import datetime
import types
import os
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence, Union

from . import artifact as artifact
from ._smneo import (
    ArtifactError as ArtifactError,
    DigestMismatchError as DigestMismatchError,
    UnsafeArchiveError as UnsafeArchiveError,
    ValidationWarning as ValidationWarning,
    LogWarning as LogWarning,
    JobLogs as JobLogs,
    ClientError as ClientError,
    CompilationJobFailed as CompilationJobFailed,
    CompilationJobStopped as CompilationJobStopped,
    ConnectionClosedError as ConnectionClosedError,
    CredentialRetrievalError as CredentialRetrievalError,
    TokenRetrievalError as TokenRetrievalError,
    UnauthorizedSSOTokenError as UnauthorizedSSOTokenError,
    EndpointConnectionError as EndpointConnectionError,
    HTTPClientError as HTTPClientError,
    Issue as Issue,
    NoCredentialsError as NoCredentialsError,
    NoRegionError as NoRegionError,
    PaginationError as PaginationError,
    ParamValidationError as ParamValidationError,
    ReadTimeoutError as ReadTimeoutError,
    ConnectTimeoutError as ConnectTimeoutError,
    ProxyConnectionError as ProxyConnectionError,
    Request as Request,
    ResponseParserError as ResponseParserError,
    SmneoError as SmneoError,
    S3UploadFailedError as S3UploadFailedError,
    SSLError as SSLError,
    WaiterCancelled as WaiterCancelled,
    WaiterError as WaiterError,
    WaiterTimeout as WaiterTimeout,
    parse_response as parse_response,
    validate as validate,
)
from ._smneo import Client as _CClient, PageRun
from . import _smneo as _smneo
# BEGIN GENERATED errors (tools/gen_model.py)
from ._smneo import ResourceInUse as ResourceInUse
from ._smneo import ResourceLimitExceeded as ResourceLimitExceeded
from ._smneo import ResourceNotFound as ResourceNotFound
# END GENERATED errors
# BEGIN GENERATED type-imports (tools/gen_model.py)
from .type_defs import (
    CompilationJobStatusType,
    CompilationJobSummaryTypeDef,
    CreateCompilationJobResponseTypeDef,
    DescribeCompilationJobResponseTypeDef,
    EmptyResponseMetadataTypeDef,
    InputConfigTypeDef,
    ListCompilationJobsResponseTypeDef,
    ListCompilationJobsSortByType,
    ListPipelineExecutionStepsResponseTypeDef,
    NeoVpcConfigTypeDef,
    OutputConfigTypeDef,
    PipelineExecutionStepTypeDef,
    ResponseMetadataTypeDef,
    SortOrderType,
    StoppingConditionTypeDef,
    TagTypeDef,
    TimestampTypeDef,
)
# END GENERATED type-imports

__version__: str
core_version: str

class Diagnosis(dict[str, Any]):
    id: str
    matched: bool
    category: str
    title: str
    cause: str
    fix: str
    rule: Optional[str]
    source: Optional[str]
    evidence: Optional[str]
    evidence_source: Optional[str]
    evidence_line: Optional[int]
    job_name: Optional[str]
    status: Optional[str]
    failure_reason: Optional[str]
    issues: list[Issue]
    text: str

def set_stream_logger(name: str = ..., level: int = ..., format_string: Optional[str] = ...) -> None: ...
def explain(description: Union[Mapping[str, Any], str, None] = ...,
            logs: Optional[Iterable[Union[str, bytes, Mapping[str, Any]]]] = ...) -> Diagnosis: ...

class _Exceptions:
    ClientError: type[_smneo.ClientError]
    # BEGIN GENERATED exceptions (tools/gen_model.py)
    ResourceInUse: type[_smneo.ResourceInUse]
    ResourceLimitExceeded: type[_smneo.ResourceLimitExceeded]
    ResourceNotFound: type[_smneo.ResourceNotFound]
    # END GENERATED exceptions
    def from_code(self, error_code: str) -> type[_smneo.ClientError]: ...

class PageIterator:
    resume_token: Optional[str]
    @property
    def result_keys(self) -> list[str]: ...
    def __iter__(self) -> Iterator[dict[str, Any]]: ...
    def build_full_result(self) -> dict[str, Any]: ...
    def search(self, expression: str) -> Iterator[Any]: ...

class Paginator:
    def paginate(self, PaginationConfig: Optional[Mapping[str, Any]] = ..., **kwargs: Any) -> PageIterator: ...

class CompileResult(NamedTuple):
    job: dict[str, Any]
    job_name: str
    artifact_path: Optional[str]
    extracted_dir: Optional[str]
    digest_verified: bool
    input_uri: Optional[str]
    issues: list[Issue]
    logs: list[dict[str, Any]]
    diagnosis: Optional[Diagnosis]
    def _repr_html_(self) -> str: ...
    def _repr_pretty_(self, p: Any, cycle: bool) -> None: ...

class CompileRow(NamedTuple):
    model: str
    target: str
    compilation_job_name: Optional[str]
    compilation_job_status: str
    duration_seconds: float
    artifact_path: Optional[str]
    digest_verified: bool
    failure_reason: Optional[str]
    stopped_by_smneo: bool
    skipped: bool
    diagnosis: Optional[Diagnosis]

class Client(_CClient):
    meta: types.SimpleNamespace
    def __init__(self, region_name: Optional[str] = ..., endpoint_url: Optional[str] = ...,
                 profile_name: Optional[str] = ..., aws_access_key_id: Optional[str] = ...,
                 aws_secret_access_key: Optional[str] = ..., aws_session_token: Optional[str] = ...,
                 max_attempts: Optional[int] = ..., retry_mode: Optional[str] = ...,
                 connect_timeout: Optional[float] = ..., read_timeout: Optional[float] = ...,
                 verify: Union[bool, str, None] = ..., validation: str = ...,
                 allow_unknown_enum_values: bool = ..., config: Any = ..., use_ssl: bool = ...,
                 api_version: Optional[str] = ..., aws_account_id: Optional[str] = ...,
                 mfa_token_callback: Optional[Callable[[str], str]] = ...) -> None: ...
    @property
    def exceptions(self) -> _Exceptions: ...
    def can_paginate(self, operation_name: str) -> bool: ...
    def get_paginator(self, operation_name: str) -> Paginator: ...
    # BEGIN GENERATED iterators (tools/gen_model.py)
    def iter_compilation_jobs(self, *, CreationTimeAfter: TimestampTypeDef = ...,
                              CreationTimeBefore: TimestampTypeDef = ...,
                              LastModifiedTimeAfter: TimestampTypeDef = ...,
                              LastModifiedTimeBefore: TimestampTypeDef = ..., NameContains: str = ...,
                              StatusEquals: CompilationJobStatusType = ...,
                              SortBy: ListCompilationJobsSortByType = ..., SortOrder: SortOrderType = ...) -> PageRun[CompilationJobSummaryTypeDef]: ...
    def iter_pipeline_execution_steps(self, *, PipelineExecutionArn: str = ..., SortOrder: SortOrderType = ...) -> PageRun[PipelineExecutionStepTypeDef]: ...
    # END GENERATED iterators
    def compile(self, model: Union[str, os.PathLike, None] = ..., *, framework: Optional[str] = ...,
                role_arn: str, s3_bucket: Optional[str] = ...,
                target_device: Optional[str] = ..., target_os: Optional[str] = ..., target_arch: Optional[str] = ...,
                target_accelerator: Optional[str] = ..., data_input_config: Union[str, dict, list, None] = ...,
                framework_version: Optional[str] = ..., compiler_options: Union[str, dict, None] = ...,
                s3_prefix: Optional[str] = ..., job_name: Optional[str] = ...,
                output_dir: Union[str, os.PathLike, None] = ..., extract: bool = ..., timeout: Optional[float] = ...,
                delay: Optional[float] = ..., max_delay: Optional[float] = ...,
                max_runtime_seconds: Optional[int] = ..., tags: Union[str, Sequence[Mapping[str, str]], None] = ...,
                kms_key_id: Optional[str] = ..., keep_job_on_cancel: bool = ...,
                vpc_config: Union[str, Mapping[str, Any], None] = ...,
                model_package_version_arn: Optional[str] = ..., max_wait_seconds: Optional[int] = ...,
                max_pending_seconds: Optional[int] = ...,
                callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
                follow_logs: bool = ..., progress: bool = ...) -> CompileResult: ...
    def wait_for_compilation_job(self, name: str, *, delay: float = ..., max_delay: float = ...,
                                 timeout: Optional[float] = ...,
                                 callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
                                 progress: bool = ...) -> dict[str, Any]: ...
    def get_compilation_job_logs(self, name: str, *, start_time: Union[datetime.datetime, float, None] = ...,
                                 follow: bool = ..., delay: Optional[float] = ..., max_delay: Optional[float] = ...,
                                 tail: Optional[int] = ...) -> JobLogs: ...
    def compile_many(self, jobs: Optional[Sequence[Mapping[str, Any]]] = ..., *,
                     models: Optional[Sequence[Union[str, os.PathLike]]] = ...,
                     targets: Optional[Sequence[Union[str, Mapping[str, Any]]]] = ...,
                     max_concurrent: Optional[int] = ..., state_file: Union[str, os.PathLike, None] = ...,
                     retry_failed: bool = ..., keep_jobs_on_cancel: bool = ...,
                     callback: Optional[Callable[[dict[str, Any]], Any]] = ..., **common: Any) -> list[CompileRow]: ...
    def upload_file(self, Filename: Union[str, os.PathLike], Bucket: str, Key: str,
                    ExtraArgs: Optional[Mapping[str, Any]] = ..., Callback: Optional[Callable[[int], Any]] = ...,
                    Config: Any = ...) -> None: ...
    def download_file(self, Bucket: str, Key: str, Filename: Union[str, os.PathLike],
                      ExtraArgs: Optional[Mapping[str, Any]] = ..., Callback: Optional[Callable[[int], Any]] = ...,
                      Config: Any = ...) -> None: ...
    def upload_fileobj(self, Fileobj: Any, Bucket: str, Key: str, ExtraArgs: Optional[Mapping[str, Any]] = ...,
                       Callback: Optional[Callable[[int], Any]] = ..., Config: Any = ...) -> None: ...
    def download_fileobj(self, Bucket: str, Key: str, Fileobj: Any, ExtraArgs: Optional[Mapping[str, Any]] = ...,
                         Callback: Optional[Callable[[int], Any]] = ..., Config: Any = ...) -> None: ...
    def __enter__(self) -> "Client": ...
