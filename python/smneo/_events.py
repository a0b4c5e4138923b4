"""client.meta as botocore's: events (botocore's HierarchicalEmitter), the
botocore service model and method_to_api_mapping, so that
``botocore.stub.Stubber(smneo_client)`` and event hooks written for boto3
work (docs/python.md, "Events and botocore's Stubber").

Nothing here imports botocore until ``client.meta.events`` (or
``service_model``) is first used. From then on every request the client's
calls, paginators and waiter send passes through :func:`_EventHook.__call__`
(the extension's send hook, a transport double in front of the transport):
it fires the events for SageMaker requests and answers with what a handler
returned, else lets the transport send the request.
"""
import datetime
import json
import threading
import weakref

_SERVICE_ID = "sagemaker"  # botocore's hyphenized service id: the events' middle part
_TARGET_PREFIX = "SageMaker."
_service_model = None
_lock = threading.Lock()


def service_model():
    """botocore's SageMaker service model (loaded once, on first use)."""
    global _service_model
    if _service_model is None:
        with _lock:
            if _service_model is None:
                import botocore.session

                _service_model = botocore.session.get_session().get_service_model("sagemaker")
    return _service_model


def _json_default(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # naive: UTC, as botocore serializes
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    raise TypeError("a stubbed response holds a %s, which has no JSON form" % type(value).__name__)


def response_bytes(status, parsed, headers=None):
    """(status, headers, body) of the HTTP response a parsed response dict
    (botocore's form: Error for an error, modeled members at the top level)
    stands for, for the core to parse as it parses the service's."""
    parsed = dict(parsed or {})
    metadata = parsed.pop("ResponseMetadata", None) or {}
    out_headers = {"Content-Type": "application/x-amz-json-1.1",
                   "x-amzn-RequestId": str(metadata.get("RequestId", ""))}
    out_headers.update(headers or {})
    if status >= 300:
        error = parsed.pop("Error", None) or {}
        body = {"__type": error.get("Code", ""), "Message": error.get("Message", "")}
        body.update(parsed)  # the error shape's modeled members
    else:
        body = parsed
    return status, out_headers, json.dumps(body, default=_json_default).encode()


class Meta:
    """client.meta: region_name, endpoint_url, service_name, partition, config,
    method_to_api_mapping, and on first use events and service_model."""

    def __init__(self, client, operations, config=None):
        self._client = weakref.ref(client)  # no cycle: a dropped client is freed at once, as before
        self.region_name = client.region_name
        self.endpoint_url = client.endpoint_url
        self.service_name = "sagemaker"
        self.partition = "aws"
        self.config = config
        self.method_to_api_mapping = {op["python_name"]: op["name"] for op in operations}
        self._events = None

    @property
    def service_model(self):
        return service_model()

    @property
    def events(self):
        """botocore's HierarchicalEmitter; the client fires before-parameter-build,
        before-call and before-send on it (needs botocore)."""
        if self._events is None:
            try:
                from botocore.hooks import HierarchicalEmitter
            except ImportError as e:
                raise AttributeError("client.meta.events needs botocore (%s); without it use smneo.stub.Stubber, "
                                     "which works on its own" % e) from None
            self._events = HierarchicalEmitter()
            self._client()._set_send_hook(_EventHook(self.region_name, self._events))
        return self._events


class _EventHook:
    """The send hook that fires botocore's events for one client."""

    def __init__(self, region_name, events):
        self._region_name = region_name
        self._events = events

    def __call__(self, request):
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(_TARGET_PREFIX):
            return None  # credentials, STS, S3: not a SageMaker operation
        name = target[len(_TARGET_PREFIX):]
        model = service_model().operation_model(name)
        params = json.loads(request.body) if request.body else {}
        context = {"client_region": self._region_name, "client_config": None, "has_streaming_input": False,
                   "auth_type": None}
        events = self._events
        suffix = "%s.%s" % (_SERVICE_ID, name)
        events.emit("before-parameter-build." + suffix, params=params, model=model, context=context)
        request_dict = {"url_path": "/", "query_string": "", "method": request.method,
                        "headers": dict(request.headers), "body": request.body, "url": request.url,
                        "context": context}
        _, answer = events.emit_until_response("before-call." + suffix, model=model, params=request_dict,
                                               request_signer=None, context=context)
        if answer is not None:
            http, parsed = answer
            return response_bytes(int(http.status_code), parsed, dict(getattr(http, "headers", None) or {}))
        from botocore.awsrequest import AWSPreparedRequest

        prepared = AWSPreparedRequest(request.method, request.url, dict(request.headers), request.body, False)
        _, answer = events.emit_until_response("before-send." + suffix, request=prepared)
        if answer is not None:
            return int(answer.status_code), dict(answer.headers or {}), answer.content or b""
        return None
