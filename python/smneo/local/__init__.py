"""smneo.local: a local SageMaker Neo + S3 endpoint for tests and demos.

Pure standard library; see docs/local-endpoint.md.

    from smneo.local import Server
    with Server(job_duration=0.5) as s:
        print(s.url)   # endpoint_url for SageMaker and S3 clients
"""
from .server import Server

__all__ = ["Server"]
