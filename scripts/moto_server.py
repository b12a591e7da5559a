"""moto's server mode with DynamoDB's conditional writes made atomic.

moto 5 evaluates a ConditionExpression and applies the write as separate steps, without a lock,
while its server handles each request on its own thread. Two concurrent conditional UpdateItems on
one item can then both succeed, which real DynamoDB never allows (a conditional write is atomic per
item). The worker's per-record lock relies on exactly that guarantee, so under plain moto two jobs
of one record could both take the lock (seen as a 1-in-4 flake of
`two_upserts_of_one_record_in_one_batch_end_as_one_entry_with_the_newer_values`).

This launcher runs the same WSGI application as `moto_server`, with one change: DynamoDB requests
(those with an `X-Amz-Target: DynamoDB_20120810.*` header) are handled one at a time. They are
short (no long polls), so serialising them costs nothing measurable. SQS, Secrets Manager and the
rest stay concurrent, as before.

    python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

DYNAMODB_TARGET_PREFIX = "DynamoDB_"


class SerialDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, the rest untouched."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            # The whole response is produced under the lock: the write happens while the app runs.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    # moto builds some URLs (SQS queue URLs) from this, as moto_server does.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(
        args.host,
        args.port,
        SerialDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
