"""smneo.local: a local SageMaker Neo endpoint, with S3, STS, the SSO
portal, SSO-OIDC and CloudWatch Logs on the same port, for tests and demos.

Pure standard library; see docs/local-endpoint.md.

    from smneo.local import Server
    with Server(job_duration=0.5) as s:
        print(s.url)   # endpoint_url for every service (or AWS_ENDPOINT_URL)

    from smneo.local import mock
    with mock():       # clients made inside talk to an in-process server, no socket
        smneo.Client(region_name="us-east-1").list_compilation_jobs()
"""
from .identity import fingerprint
from .mock import mock
from .server import Server

__all__ = ["Server", "fingerprint", "mock"]
