"""Inside moto's mock_aws, a smneo client must never reach AWS: clients made
inside it without an explicit endpoint_url send their requests to moto's
in-process backends (the handler moto puts in front of botocore's sending),
and a request moto does not answer fails instead of going out
(docs/testing.md, "moto")."""
import sys


def active():
    """True while a moto.mock_aws is started in this process (looked up only
    where moto was imported: smneo never imports it)."""
    models = sys.modules.get("moto.core.models")
    cls = getattr(models, "MockAWS", None) if models is not None else None
    return bool(cls is not None and getattr(cls, "_nested_count", 0) > 0)


def transport(request):
    """A smneo transport answering from moto's backends."""
    from botocore.awsrequest import AWSPreparedRequest
    from moto.core.models import botocore_stubber

    if not active() or not botocore_stubber.enabled:
        raise ConnectionRefusedError(
            "moto's mock_aws has ended: this smneo client was made inside it and sends nothing to AWS; "
            "make a new client")
    prepared = AWSPreparedRequest(request.method, request.url, dict(request.headers), request.body, False)
    answer = botocore_stubber.process_request(prepared)
    if answer is None:
        raise ConnectionRefusedError(
            "inside moto's mock_aws, moto has no in-process answer for %s %s and smneo never sends it to AWS: "
            "use smneo.local.mock(), or moto's server mode (moto_server, then endpoint_url=...)"
            % (request.method, request.url.split("?", 1)[0]))
    status, headers, body = answer
    if isinstance(body, str):
        body = body.encode("utf-8")
    return int(status), {str(k): str(v) for k, v in dict(headers or {}).items()}, body or b""
