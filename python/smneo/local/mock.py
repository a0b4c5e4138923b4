"""smneo.local.mock(): an in-process smneo.local, used as moto's mock_aws is.

    from smneo.local import mock

    @mock()
    def test_compile():
        client = smneo.Client(region_name="us-west-2")  # no endpoint_url: the mock answers
        ...

    with mock(job_duration=0.1) as server:               # the Server, for faults and records
        ...

Every smneo.Client made inside it without an explicit endpoint_url sends its
requests (SageMaker, S3 (compile's uploads and downloads), STS, Logs) to a
fresh smneo.local Server answering in this process: no socket is opened and
no AWS endpoint can be reached. Where no credentials are set in the
environment, the server's test credentials are (and removed afterwards);
keys set in the environment are accepted by the server as well.
docs/testing.md shows it beside the Stubber and a local server.
"""
import functools
import os
import threading

from .server import DEFAULT_CREDENTIALS, Server

_lock = threading.Lock()
_active = []  # the mocks entered, innermost last

_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                         "AWS_SECURITY_TOKEN")


def current_transport():
    """The transport of the innermost active mock, or None (smneo.Client asks)."""
    with _lock:
        return _active[-1].transport if _active else None


class mock:  # noqa: N801 (used as moto's mock_aws: a decorator and a context manager)
    """mock(**server_options): a fresh in-process smneo.local for the clients
    made inside. server_options go to smneo.local.Server (job_duration,
    region, account, faults, credentials, ...); job_duration defaults to 0.2
    seconds here."""

    def __init__(self, **server_options):
        server_options.setdefault("job_duration", 0.2)
        self._options = server_options
        self.server = None
        self._saved_env = None

    def __enter__(self):
        options = dict(self._options)
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if "credentials" not in options and key and secret:
            # as moto: the environment's keys are accepted too (they stay in this process)
            options["credentials"] = list(DEFAULT_CREDENTIALS) + ["%s:%s" % (key, secret)]
        self.server = Server(**options)  # not started: answers through dispatch() only
        self._saved_env = None
        if not key and not os.environ.get("AWS_PROFILE"):
            key, secret = DEFAULT_CREDENTIALS[0].split(":", 1)
            if self._options.get("credentials"):
                key, secret = list(self._options["credentials"])[0].split(":", 1)
            self._saved_env = {k: os.environ.get(k) for k in _CREDENTIAL_VARIABLES}
            for k in _CREDENTIAL_VARIABLES:
                os.environ.pop(k, None)
            os.environ["AWS_ACCESS_KEY_ID"] = key
            os.environ["AWS_SECRET_ACCESS_KEY"] = secret
        with _lock:
            _active.append(self)
        return self.server

    def __exit__(self, *exc):
        with _lock:
            _active.remove(self)
        if self._saved_env is not None:
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        server, self.server = self.server, None
        server.stop()  # removes its temporary data directory
        return False

    def transport(self, request):
        """The clients' transport: the request answered by this mock's server."""
        server = self.server
        if server is None:
            raise ConnectionRefusedError("smneo.local.mock() has ended: this client was made inside it")
        return server.dispatch(request.method, request.url, request.headers, request.body)

    def __call__(self, func):
        options = self._options

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mock(**options):
                return func(*args, **kwargs)
        return wrapper
