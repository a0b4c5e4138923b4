"""smneo.local as a server: concurrent clients, keep-alive, clean shutdown."""
import http.client
import threading
import time
import urllib.parse

from local_fixtures import Server, client, job_request
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
