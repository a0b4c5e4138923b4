"""python3 -m smneo.local: run the local SageMaker Neo endpoint (with S3,
STS, the SSO portal, SSO-OIDC and CloudWatch Logs on the same port).

Prints the endpoint URL as the first line of stdout, then serves until
interrupted (SIGINT/SIGTERM)."""
import argparse
import json
import signal
import sys

from .server import Server


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m smneo.local",
        description="Local SageMaker Neo endpoint with S3, STS, SSO, SSO-OIDC and "
                    "CloudWatch Logs (smneo.local).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0,
                   help="port to listen on; 0 picks a free port (default 0)")
    p.add_argument("--data-dir", default=None,
                   help="directory for S3 data (default: a temporary directory "
                        "removed on exit)")
    p.add_argument("--credentials", action="append", metavar="KEYID:SECRET",
                   help="accepted access key id and secret; repeatable "
                        "(default test:test)")
    p.add_argument("--pipelines", metavar="FILE", default=None,
                   help="JSON file {PipelineExecutionArn: [steps...]} served by "
                        "ListPipelineExecutionSteps")
    p.add_argument("--job-duration", type=float, default=3.0, metavar="SECONDS",
                   help="how long a compilation job runs (default 3)")
    p.add_argument("--max-concurrent-jobs", type=int, default=None, metavar="N",
                   help="answer ResourceLimitExceeded to CreateCompilationJob while N "
                        "jobs are STARTING or INPROGRESS (default: no limit)")
    p.add_argument("--region", default=None,
                   help="serve only this region (default: every region a request is "
                        "signed for, each with its own jobs)")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--identity", metavar="FILE", default=None,
                   help="JSON identity settings: roles, web_identity, sso_tokens, "
                        "oidc_clients, refresh_tokens, credential_duration")
    p.add_argument("--credential-duration", type=float, default=None, metavar="SECONDS",
                   help="lifetime of every credential STS and SSO issue, whatever "
                        "was asked (default: as asked)")
    p.add_argument("--fault", action="append", default=[], metavar="JSON",
                   help='inject a fault, e.g. \'{"kind": "throttle", "count": 2}\' or '
                        '\'{"kind": "fail", "failure": "unsupported-operator"}\'')
    p.add_argument("--tls-cert", metavar="PEM", default=None,
                   help="serve HTTPS with this certificate (and --tls-key, unless the "
                        "file holds the key too)")
    p.add_argument("--tls-key", metavar="PEM", default=None,
                   help="the private key of --tls-cert")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log each request to stderr")
    args = p.parse_args(argv)
    if args.job_duration < 0:
        p.error("--job-duration must not be negative")
    if args.max_concurrent_jobs is not None and args.max_concurrent_jobs < 1:
        p.error("--max-concurrent-jobs must be at least 1")
    if args.credential_duration is not None and args.credential_duration <= 0:
        p.error("--credential-duration must be positive")
    try:
        faults = [json.loads(f) for f in args.fault]
        server = Server(host=args.host, port=args.port, data_dir=args.data_dir,
                        credentials=args.credentials, pipelines=args.pipelines,
                        job_duration=args.job_duration, region=args.region,
                        account=args.account, faults=faults, verbose=args.verbose,
                        identity=args.identity,
                        max_concurrent_jobs=args.max_concurrent_jobs,
                        tls_cert=args.tls_cert, tls_key=args.tls_key)
        if args.credential_duration is not None:
            server.configure_identity({"credential_duration": args.credential_duration})
    except (ValueError, OSError) as e:
        print("smneo.local: %s" % e, file=sys.stderr)
        return 2

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.start()
    except ValueError as e:
        print("smneo.local: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("smneo.local: cannot listen on %s:%s: %s" % (args.host, args.port, e),
              file=sys.stderr)
        return 2
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
