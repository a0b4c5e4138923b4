"""client.meta as botocore's: events (botocore's HierarchicalEmitter), the
botocore service model and method_to_api_mapping, so that
``botocore.stub.Stubber(smneo_client)`` and event hooks written for boto3
work (docs/python.md, "Events and botocore's Stubber").

Nothing here imports botocore until ``client.meta.events`` (or
``service_model``) is first used. Two hooks of the extension carry the
events and the stubbers:

- the request hook (:class:`CallHook`, the core's smneo_client_set_request_hook):
  asked once per operation request (a call, each page of a paginator, each
  poll of the waiter), before credentials are resolved and the request is
  signed, as botocore's ``_make_api_call`` runs once per request: it fires
  before-call (just after the parameters hook, :meth:`CallHook.params`, the
  core's smneo_client_set_params_hook, fired provide-client-params and
  before-parameter-build, whose handlers may change the parameters), and an
  answer (a stubber's, a before-call handler's) is the request's final
  answer, never signed, sent or retried;
- the send hook (:class:`_SendHook`): each signed request as it is sent
  (retries included) fires request-created, before-sign and before-send;
- the response hook (:class:`_ResponseHook`, the core's
  smneo_client_set_response_hook): after each attempt; it fires
  response-received and needs-retry (the core's own retry decision answers
  as botocore's retry handler, registered first with
  its unique_id ``retry-config-sagemaker``; the first answer that is not
  None decides, as botocore's endpoint takes it) and, on the request's last
  attempt, after-call or (no HTTP response) after-call-error.

Each hook is installed when the first handler of an event it fires is
registered (:meth:`Meta._registered`): a client pays only for the events
that have handlers.
"""
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
    import datetime  # here, not at import: `import smneo` stays fast (issue 17)
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
    import json
    return status, out_headers, json.dumps(body, default=_json_default).encode()


class CallHook:
    """The client's request hook: smneo.stub's queue and client.meta.events,
    whichever are active, asked for each SageMaker operation request."""

    def __init__(self, region_name, endpoint_url, operations):
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.operations = frozenset(operations)
        self.events = None  # botocore's HierarchicalEmitter, once client.meta.events was used
        self.stub = None    # an active smneo.stub.Stubber's answerer: fn(operation, params) -> answer

    def _context(self, model):
        return {"client_region": self.region_name, "client_config": None,
                "has_streaming_input": model.has_streaming_input, "auth_type": model.resolved_auth_type}

    def params(self, operation, params):
        """The parameters hook (client.meta.events): provide-client-params
        (a handler's answer replaces the parameters, as botocore takes it) and
        before-parameter-build (handlers change them in place). Returns the
        parameters to send instead, or None when they are unchanged."""
        events = self.events
        if operation not in self.operations or events is None:
            return None
        import json
        model = service_model().operation_model(operation)
        context = self._context(model)
        suffix = "%s.%s" % (_SERVICE_ID, operation)
        before = json.dumps(params, default=_json_default, sort_keys=True)
        responses = events.emit("provide-client-params." + suffix, params=params, model=model, context=context)
        params = next((r for _, r in responses if r is not None), params)
        events.emit("before-parameter-build." + suffix, params=params, model=model, context=context)
        return None if json.dumps(params, default=_json_default, sort_keys=True) == before else params

    def __call__(self, operation, params):
        if operation not in self.operations:
            return None  # CloudWatch Logs, STS: not this client's operations
        events, stub = self.events, self.stub
        if events is None:
            return stub(operation, params) if stub is not None else None
        model = service_model().operation_model(operation)
        context = self._context(model)
        suffix = "%s.%s" % (_SERVICE_ID, operation)
        if stub is not None:
            answer = stub(operation, params)
            if answer is not None:
                return answer
        import json
        body = json.dumps(params, default=_json_default).encode()
        request_dict = {"url_path": "/", "query_string": "", "method": "POST",
                        "headers": {"X-Amz-Target": _TARGET_PREFIX + operation,
                                    "Content-Type": "application/x-amz-json-1.1"},
                        "body": body, "url": self.endpoint_url.rstrip("/") + "/", "context": context}
        _, answer = events.emit_until_response("before-call." + suffix, model=model, params=request_dict,
                                               request_signer=None, context=context)
        if answer is None:
            return None
        http, parsed = answer
        events.emit("after-call." + suffix, http_response=http, parsed=parsed, model=model, context=context)
        return response_bytes(int(http.status_code), parsed, dict(getattr(http, "headers", None) or {}))


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
        self._hook = None
        self._events = None
        self._retry = None
        self._installed = set()  # the hooks installed: "call", "params", "send", "response"

    @property
    def service_model(self):
        return service_model()

    def call_hook(self, install=True):
        """The client's request hook, installed on first use (with install)."""
        if self._hook is None:
            self._hook = CallHook(self.region_name, self.endpoint_url, self.method_to_api_mapping.values())
        if install and "call" not in self._installed:
            self._installed.add("call")
            self._client()._set_call_hook(self._hook)
        return self._hook

    @property
    def events(self):
        """botocore's HierarchicalEmitter; the client fires botocore's events on
        it (docs/python.md, "Stubbing and events"; needs botocore)."""
        if self._events is None:
            try:
                from botocore.hooks import HierarchicalEmitter
            except ImportError as e:
                raise AttributeError("client.meta.events needs botocore (%s); without it use smneo.stub.Stubber, "
                                     "which works on its own" % e) from None
            events = _Emitter()
            self._retry = _CoreRetry()
            events.register("needs-retry." + _SERVICE_ID, self._retry, unique_id="retry-config-" + _SERVICE_ID)
            self.call_hook(install=False).events = events
            self._events = events
            events.on_register = self._registered
        return self._events

    def _registered(self, event_name):
        """A handler was registered (or one unregistered): the hook that
        fires its event is installed then, so a client pays only for the
        events that have handlers (none until one is registered)."""
        hook = _HOOK_OF_EVENT.get(event_name.split(".", 1)[0])
        if hook is None or hook in self._installed:
            return
        client = self._client()
        if hook == "call":
            self.call_hook()
            return
        self._installed.add(hook)
        if hook == "params":
            client._set_params_hook(self._hook.params)
        elif hook == "send":
            client._set_send_hook(_SendHook(self.region_name, self._events))
        else:
            client._set_response_hook(_ResponseHook(self, self._events, self._retry))


# The hook (of the extension) that fires each event.
_HOOK_OF_EVENT = {"provide-client-params": "params", "before-parameter-build": "params", "before-call": "call",
                  "request-created": "send", "before-sign": "send", "before-send": "send",
                  "response-received": "response", "needs-retry": "response", "after-call": "response",
                  "after-call-error": "response"}


def _emitter_class():
    from botocore.hooks import HierarchicalEmitter

    class Emitter(HierarchicalEmitter):
        """botocore's HierarchicalEmitter telling its client which events
        have handlers (register, register_first, register_last all land in
        _register_section)."""

        on_register = None

        def _register_section(self, event_name, *args, **kwargs):
            super()._register_section(event_name, *args, **kwargs)
            if self.on_register is not None:
                self.on_register(event_name)

        def unregister(self, event_name, *args, **kwargs):
            # unregistering the core's retry handler (as botocore's can be) needs the hook too
            super().unregister(event_name, *args, **kwargs)
            if self.on_register is not None:
                self.on_register(event_name)

    return Emitter


def _Emitter():
    global _emitter_cls
    if _emitter_cls is None:
        _emitter_cls = _emitter_class()
    return _emitter_cls()


_emitter_cls = None


class _CoreRetry:
    """needs-retry's first handler, in botocore's retry handler's place: it
    answers with the core's decision for the attempt being decided (a delay
    in seconds, or None: no retry)."""

    def __init__(self):
        self._local = threading.local()

    def set(self, delay):
        self._local.delay = delay

    def __call__(self, **kwargs):
        return getattr(self._local, "delay", None)


class _Raw:
    """The raw stream botocore's AWSResponse reads its content from."""

    def __init__(self, body):
        self._body = body

    def stream(self, **kwargs):
        yield self._body


class _ResponseHook:
    """The response hook: response-received and needs-retry after each
    attempt, after-call or after-call-error after the request's last one."""

    def __init__(self, meta, events, retry):
        self._meta = weakref.ref(meta)
        self._events = events
        self._retry = retry

    def __call__(self, name, attempt, http, parsed, exception, delay):
        from botocore.awsrequest import AWSResponse

        meta = self._meta()
        events = self._events
        model = service_model().operation_model(name)
        suffix = "%s.%s" % (_SERVICE_ID, name)
        context = {"client_region": meta.region_name if meta else None, "client_config": None,
                   "has_streaming_input": model.has_streaming_input, "auth_type": model.resolved_auth_type,
                   "retries": {"attempt": attempt}}
        http_response = response_dict = None
        if http is not None:
            status, headers, body = http
            http_response = AWSResponse(meta.endpoint_url if meta else "", status, headers, _Raw(body))
            response_dict = {"headers": http_response.headers, "status_code": status, "body": body}
        exc = exception if http is None else None  # botocore's caught_exception: no HTTP answer
        events.emit("response-received." + suffix, response_dict=response_dict,
                    parsed_response=parsed if http is not None else None, context=context, exception=exc)
        self._retry.set(delay)
        try:
            responses = events.emit("needs-retry." + suffix, response=(http_response, parsed) if http is not None
                                    else None, endpoint=None, operation=model, attempts=attempt,
                                    caught_exception=exc, request_dict={"context": context})
        finally:
            self._retry.set(None)
        answer = next((r for _, r in responses if r is not None), None)
        if answer is None or answer is False:
            answer = None
        if answer is None:  # the request's last attempt
            if http is not None:
                events.emit("after-call." + suffix, http_response=http_response, parsed=parsed, model=model,
                            context=context)
            else:
                events.emit("after-call-error." + suffix, exception=exception, context=context)
        return answer


class _SendHook:
    """The send hook that fires botocore's per-request events for one client:
    on the signed request, as it is sent (each retry too)."""

    def __init__(self, region_name, events):
        self._region_name = region_name
        self._events = events

    def __call__(self, request):
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(_TARGET_PREFIX):
            return None  # credentials, STS, S3: not a SageMaker operation
        name = target[len(_TARGET_PREFIX):]
        events = self._events
        suffix = "%s.%s" % (_SERVICE_ID, name)
        from botocore.awsrequest import AWSPreparedRequest, AWSRequest

        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body,
                                 headers=dict(request.headers))
        events.emit("request-created." + suffix, request=aws_request, operation_name=name)
        events.emit("before-sign." + suffix, request=aws_request, signing_name="sagemaker",
                    region_name=self._region_name, signature_version="v4", request_signer=None,
                    operation_name=name)
        prepared = AWSPreparedRequest(request.method, request.url, dict(request.headers), request.body, False)
        _, answer = events.emit_until_response("before-send." + suffix, request=prepared)
        if answer is not None:
            return int(answer.status_code), dict(answer.headers or {}), answer.content or b""
        return None
