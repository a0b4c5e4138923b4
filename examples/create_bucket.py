#!/usr/bin/env python3
"""Creates an S3 bucket on an S3-compatible endpoint (the local endpoint,
moto) with a SigV4-signed PUT, using the Python standard library only:

    python3 examples/create_bucket.py ENDPOINT_URL BUCKET

Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
and AWS_DEFAULT_REGION (default us-east-1). Exits 0 when the bucket exists
afterwards (created now, or already owned by you). On AWS use
`aws s3 mb s3://BUCKET` instead.
"""
import datetime
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def create_bucket(endpoint, bucket, access_key, secret_key, region):
    url = urllib.parse.urlsplit(endpoint.rstrip("/") + "/" + bucket)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(b"").hexdigest()
    headers = {"host": url.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", urllib.parse.quote(url.path), "",
                           "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)),
                           signed, payload_hash])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(url.geturl(), data=b"", method="PUT")
    req.add_header("x-amz-content-sha256", payload_hash)
    req.add_header("x-amz-date", amz_date)
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                   % (access_key, scope, signed, signature))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        if e.code == 409 and "BucketAlreadyOwnedByYou" in body:
            return 200, ""
        return e.code, body


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    access_key, secret_key = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        print("create_bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", file=sys.stderr)
        return 2
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    status, body = create_bucket(argv[1], argv[2], access_key, secret_key, region)
    if status != 200:
        print("create_bucket: %s answered %d: %s" % (argv[1], status, body), file=sys.stderr)
        return 1
    print("bucket s3://%s ready at %s" % (argv[2], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
