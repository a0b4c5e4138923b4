"""smneo.stub: botocore's Stubber for smneo clients, without needing botocore.

    from smneo.stub import Stubber, ANY
    client = smneo.Client(region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", {...}, {"CompilationJobName": ANY})
        client.describe_compilation_job(CompilationJobName="x")
        stubber.assert_no_pending_responses()

The same API and semantics as ``botocore.stub.Stubber`` (which also works on
smneo clients where botocore is installed, through ``client.meta.events``).
It works through the core's request hook: the stubbed answer of an operation
request is its final answer, never signed, sent or retried (as botocore's
Stubber answers in before-call), so no credentials are needed, and the
paginators, the waiter and compile()'s SageMaker calls run against it, with
the core's validation and parsing. Queued responses are checked against the
output shape by the core (smneo_validate_response), as smneo.stub in Lua
checks them. See docs/python.md, "Stubbing".
"""
import collections
import pprint

from . import _errors, _events, _smneo

__all__ = ["Stubber", "ANY", "StubResponseError", "StubAssertionError", "UnStubbedResponseError"]

try:  # botocore's ANY and error classes where it is installed, so either module's work with both
    from botocore.stub import ANY
    from botocore.exceptions import StubAssertionError, StubResponseError, UnStubbedResponseError
except ImportError:
    class _Any:
        """Equal to anything: a parameter whose value is not checked."""

        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __repr__(self):
            return "<ANY>"

    ANY = _Any()

    class StubResponseError(_errors.classes()["SmneoError"]):
        fmt = "Error getting response stub for operation {operation_name}: {reason}"

    class StubAssertionError(StubResponseError, AssertionError):
        pass

    class UnStubbedResponseError(StubAssertionError):
        pass

    for _cls in (StubResponseError, StubAssertionError, UnStubbedResponseError):
        _cls.__module__ = "smneo.stub"

class Stubber:
    """Queues responses for a smneo.Client's calls, in order (botocore's Stubber API)."""

    def __init__(self, client):
        self.client = client
        self._queue = collections.deque()
        self._operations = dict(client.meta.method_to_api_mapping)

    def __enter__(self):
        self.activate()
        return self

    def __exit__(self, *exc):
        self.deactivate()
        return False

    def activate(self):
        """Answers the client's SageMaker requests from the queue from now on."""
        queue = self._queue  # the hook holds the queue, not the Stubber: no cycle through the client
        self.client.meta.call_hook().stub = lambda operation, params: _answer(queue, operation, params)

    def deactivate(self):
        """Lets the client's requests go to the service again."""
        self.client.meta.call_hook().stub = None

    def add_response(self, method, service_response, expected_params=None):
        """Queues a successful response for method (checked against the
        operation's output shape, as botocore does)."""
        operation = self._operation(method)
        body = dict(service_response)
        body.pop("ResponseMetadata", None)
        self._check_output(operation, body)
        self._queue.append((operation, _events.response_bytes(200, service_response), expected_params))

    def add_client_error(self, method, service_error_code="", service_message="", http_status_code=400,
                         service_error_meta=None, expected_params=None, response_meta=None, modeled_fields=None):
        """Queues an error response: the call raises the ClientError (or modeled
        subclass) for service_error_code, as botocore's Stubber does."""
        operation = self._operation(method)
        parsed = {"ResponseMetadata": dict(response_meta or {}),
                  "Error": {"Code": service_error_code, "Message": service_message}}
        parsed["Error"].update(service_error_meta or {})
        parsed.update(modeled_fields or {})
        self._queue.append((operation, _events.response_bytes(int(http_status_code), parsed), expected_params))

    def assert_no_pending_responses(self):
        """Raises AssertionError when queued responses were not used."""
        if self._queue:
            raise AssertionError("%d responses remaining in queue." % len(self._queue))

    # ---- internals -----------------------------------------------------------------

    def _operation(self, method):
        operation = self._operations.get(method)
        if operation is None:
            raise ValueError("Client %s does not have method: %s" % (self.client.meta.service_name, method))
        return operation

    def _check_output(self, operation, body):
        # the core's check (smneo_validate_response), the same for smneo.stub in Lua:
        # botocore's Stubber rules (required and unknown members, types, minimums)
        _, _, raw = _events.response_bytes(200, body)
        _smneo._validate_response(operation, raw)



def _answer(queue, operation, params):
    """An active Stubber's part of the request hook: the next queued answer
    for a SageMaker operation request, after checking its parameters."""
    if not queue:
        raise UnStubbedResponseError(
            operation_name=operation,
            reason="Unexpected API Call: A call was made but no additional calls expected. Either the API "
                   "Call was not stubbed or it was called multiple times.")
    queued, answer, expected = queue[0]
    if queued != operation:
        raise StubResponseError(operation_name=operation, reason="Operation mismatch: found response for %s."
                                % queued)
    if expected is not None:
        if sorted(expected) != sorted(params) or any(expected[k] != params[k] for k in expected):
            raise StubAssertionError(operation_name=operation, reason="Expected parameters:\n%s,\nbut received:\n%s"
                                     % (pprint.pformat(expected), pprint.pformat(params)))
    queue.popleft()
    return answer
