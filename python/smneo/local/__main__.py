"""python3 -m smneo.local: run the local SageMaker Neo + S3 endpoint.

Prints the endpoint URL as the first line of stdout, then serves until
interrupted (SIGINT/SIGTERM)."""
import argparse
import signal
import sys

from .server import Server


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m smneo.local",
        description="Local SageMaker Neo + S3 endpoint (smneo.local).")
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
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--fault", action="append", default=[], metavar="JSON",
                   help='inject a fault, e.g. \'{"kind": "throttle", "count": 2}\'')
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log each request to stderr")
    args = p.parse_args(argv)
    if args.job_duration < 0:
        p.error("--job-duration must not be negative")
    import json
    try:
        faults = [json.loads(f) for f in args.fault]
        server = Server(host=args.host, port=args.port, data_dir=args.data_dir,
                        credentials=args.credentials, pipelines=args.pipelines,
                        job_duration=args.job_duration, region=args.region,
                        account=args.account, faults=faults, verbose=args.verbose)
    except (ValueError, OSError) as e:
        print("smneo.local: %s" % e, file=sys.stderr)
        return 2

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.start()
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
