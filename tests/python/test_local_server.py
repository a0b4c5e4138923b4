"""smneo.local as a server: concurrent clients, keep-alive, clean shutdown,
HTTPS, the connections it served."""
import http.client
import json
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from local_fixtures import Server, boto3, client, job_request
from local_fixtures import server  # noqa: F401  (fixture)


def test_concurrent_clients(server):
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="conc")
    errors = []

    def worker(i):
        try:
            c = client(server, "s3")
            sm = client(server, "sagemaker")
            for j in range(10):
                key = "t%d/%d" % (i, j)
                c.put_object(Bucket="conc", Key=key, Body=key.encode())
                assert c.get_object(Bucket="conc", Key=key)["Body"].read() == key.encode()
            sm.create_compilation_job(**job_request("conc-%d" % i, out="s3://conc/o"))
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert s3.list_objects_v2(Bucket="conc")["KeyCount"] == 80
    sm = client(server, "sagemaker")
    assert len(sm.list_compilation_jobs(MaxResults=100)["CompilationJobSummaries"]) == 8


def test_keep_alive_serves_many_requests_on_one_connection(server):
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.connect()
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/_smneo/health")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") == str(len(r.read()))
        assert conn.sock is sock  # same socket: the server kept it open
    # an S3 error answer keeps the connection usable too
    conn.request("GET", "/nobucket/key")
    r = conn.getresponse()
    assert r.status == 403 and r.read().startswith(b"<?xml")
    conn.request("GET", "/_smneo/health")
    assert conn.getresponse().status == 200 and conn.sock is sock
    conn.close()


def test_stop_closes_idle_keep_alive_connections():
    srv = Server().start()
    u = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", "/_smneo/health")
    conn.getresponse().read()
    t = time.monotonic()
    srv.stop()
    assert time.monotonic() - t < 3
    srv.stop()  # stopping twice is harmless
    conn.close()


def _certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl(1)), or skip."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def _health(url, context=None):
    with urllib.request.urlopen(url + "/_smneo/health", timeout=10, context=context) as r:
        return json.loads(r.read())


def test_https_with_a_certificate_and_the_connections_it_served(tmp_path):
    cert, key = _certificate(tmp_path)
    with Server(tls_cert=cert, tls_key=key) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=cert)
        assert _health(srv.url, trusting)["connections"] == 1
        # a client that refuses the certificate: no connection is served
        with pytest.raises(Exception) as e:
            _health(srv.url, ssl.create_default_context())
        assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)
        assert _health(srv.url, trusting)["connections"] == 2
        sm = boto3.client("sagemaker", endpoint_url=srv.url, region_name="us-east-1", verify=cert,
                          aws_access_key_id="test", aws_secret_access_key="test")
        sm.create_compilation_job(**job_request("tls-1"))
        assert sm.describe_compilation_job(CompilationJobName="tls-1")["CompilationJobName"] == "tls-1"
    with pytest.raises(ValueError, match="cannot serve HTTPS with tls_cert"):
        Server(tls_cert=str(tmp_path / "missing.pem")).start()
    with pytest.raises(ValueError, match="tls_key needs tls_cert"):
        Server(tls_key=key)


def test_health_counts_plain_connections(server):
    first = _health(server.url)["connections"]
    assert _health(server.url)["connections"] == first + 1  # urllib opens one per request
