"""Type stubs for smneo.aio: the asyncio client (docs/python.md, "asyncio")."""
import datetime
import os
from typing import Any, AsyncIterator, Callable, Mapping, Optional, Sequence, Union

from . import Client as _SyncClient, CompileResult, CompileRow, _Exceptions
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

class AsyncPageIterator:
    resume_token: Optional[str]
    @property
    def result_keys(self) -> list[str]: ...
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...
    async def build_full_result(self) -> dict[str, Any]: ...

class AsyncPaginator:
    def paginate(self, PaginationConfig: Optional[Mapping[str, Any]] = ..., **kwargs: Any) -> AsyncPageIterator: ...

class Client:
    sync: _SyncClient
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
    def region_name(self) -> str: ...
    @property
    def endpoint_url(self) -> str: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_mode(self) -> Optional[str]: ...
    @property
    def defaults_mode(self) -> Optional[str]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def meta(self) -> Any: ...
    @property
    def exceptions(self) -> _Exceptions: ...
    def can_paginate(self, operation_name: str) -> bool: ...
    def get_paginator(self, operation_name: str) -> AsyncPaginator: ...
    def build_request(self, operation_name: str, params: Optional[Mapping[str, Any]] = ...,
                      timestamp: Any = ...) -> Any: ...
    def parse_response(self, operation_name: str, status_code: int, headers: Any = ...,
                       body: Any = ...) -> dict[str, Any]: ...
    # BEGIN GENERATED operations (tools/gen_model.py)
    async def create_compilation_job(self, *, CompilationJobName: str, RoleArn: str,
                                     OutputConfig: OutputConfigTypeDef,
                                     StoppingCondition: StoppingConditionTypeDef,
                                     ModelPackageVersionArn: str = ..., InputConfig: InputConfigTypeDef = ...,
                                     VpcConfig: NeoVpcConfigTypeDef = ..., Tags: Sequence[TagTypeDef] = ...) -> CreateCompilationJobResponseTypeDef: ...
    async def describe_compilation_job(self, *, CompilationJobName: str) -> DescribeCompilationJobResponseTypeDef: ...
    async def list_compilation_jobs(self, *, NextToken: str = ..., MaxResults: int = ...,
                                    CreationTimeAfter: TimestampTypeDef = ...,
                                    CreationTimeBefore: TimestampTypeDef = ...,
                                    LastModifiedTimeAfter: TimestampTypeDef = ...,
                                    LastModifiedTimeBefore: TimestampTypeDef = ..., NameContains: str = ...,
                                    StatusEquals: CompilationJobStatusType = ...,
                                    SortBy: ListCompilationJobsSortByType = ...,
                                    SortOrder: SortOrderType = ...) -> ListCompilationJobsResponseTypeDef: ...
    async def stop_compilation_job(self, *, CompilationJobName: str) -> EmptyResponseMetadataTypeDef: ...
    async def delete_compilation_job(self, *, CompilationJobName: str) -> EmptyResponseMetadataTypeDef: ...
    async def list_pipeline_execution_steps(self, *, PipelineExecutionArn: str = ..., NextToken: str = ...,
                                            MaxResults: int = ..., SortOrder: SortOrderType = ...) -> ListPipelineExecutionStepsResponseTypeDef: ...
    # END GENERATED operations
    # BEGIN GENERATED iterators (tools/gen_model.py)
    def iter_compilation_jobs(self, *, CreationTimeAfter: TimestampTypeDef = ...,
                              CreationTimeBefore: TimestampTypeDef = ...,
                              LastModifiedTimeAfter: TimestampTypeDef = ...,
                              LastModifiedTimeBefore: TimestampTypeDef = ..., NameContains: str = ...,
                              StatusEquals: CompilationJobStatusType = ...,
                              SortBy: ListCompilationJobsSortByType = ..., SortOrder: SortOrderType = ...) -> AsyncIterator[CompilationJobSummaryTypeDef]: ...
    def iter_pipeline_execution_steps(self, *, PipelineExecutionArn: str = ..., SortOrder: SortOrderType = ...) -> AsyncIterator[PipelineExecutionStepTypeDef]: ...
    # END GENERATED iterators
    async def wait_for_compilation_job(self, name: str, *, delay: float = ..., max_delay: float = ...,
                                       timeout: Optional[float] = ...,
                                       callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
                                       progress: bool = ...) -> dict[str, Any]: ...
    def get_compilation_job_logs(self, name: str, *, start_time: Union[datetime.datetime, float, None] = ...,
                                 follow: bool = ..., delay: Optional[float] = ..., max_delay: Optional[float] = ...,
                                 tail: Optional[int] = ...) -> AsyncIterator[dict[str, Any]]: ...
    async def compile(self, model: Union[str, os.PathLike, None] = ..., *, framework: Optional[str] = ...,
                      role_arn: str, s3_bucket: Optional[str] = ...,
                      target_device: Optional[str] = ..., target_os: Optional[str] = ...,
                      target_arch: Optional[str] = ..., target_accelerator: Optional[str] = ...,
                      data_input_config: Union[str, dict, list, None] = ...,
                      framework_version: Optional[str] = ..., compiler_options: Union[str, dict, None] = ...,
                      s3_prefix: Optional[str] = ..., job_name: Optional[str] = ...,
                      output_dir: Union[str, os.PathLike, None] = ..., extract: bool = ...,
                      timeout: Optional[float] = ..., delay: Optional[float] = ..., max_delay: Optional[float] = ...,
                      max_runtime_seconds: Optional[int] = ...,
                      tags: Union[str, Sequence[Mapping[str, str]], None] = ...,
                      kms_key_id: Optional[str] = ..., keep_job_on_cancel: bool = ...,
                      vpc_config: Union[str, Mapping[str, Any], None] = ...,
                      model_package_version_arn: Optional[str] = ..., max_wait_seconds: Optional[int] = ...,
                      max_pending_seconds: Optional[int] = ...,
                      callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
                      follow_logs: bool = ..., progress: bool = ...) -> CompileResult: ...
    async def compile_many(self, jobs: Optional[Sequence[Mapping[str, Any]]] = ..., *,
                           models: Optional[Sequence[Union[str, os.PathLike]]] = ...,
                           targets: Optional[Sequence[Union[str, Mapping[str, Any]]]] = ...,
                           max_concurrent: Optional[int] = ..., state_file: Union[str, os.PathLike, None] = ...,
                           retry_failed: bool = ..., keep_jobs_on_cancel: bool = ...,
                           callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
                           **common: Any) -> list[CompileRow]: ...
    async def close(self) -> None: ...
    async def __aenter__(self) -> "Client": ...
    async def __aexit__(self, *exc: Any) -> bool: ...
