#!/usr/bin/env python3
"""Cold start of the function binaries: time from exec to "ready for the first event" and RSS then.

A Lambda function is ready when it asks the Runtime API for its first event
(`GET /2018-06-01/runtime/invocation/next`). This script serves that API on 127.0.0.1 (the same
endpoints cargo-lambda's emulator serves; a stand-in because the emulator cannot timestamp the
request), starts each release binary with the environment Lambda gives it, and records

- ready: exec -> first `next` request (init: config, tracing, AWS SDK config, clients);
- RSS: VmRSS of the process at that moment (and its peak so far, VmHWM);
- first answer: exec -> the answer to a first event that needs no network (the webhook gets
  a GET, answered 405; the worker an empty SQS batch; the scheduler a sync that is not
  configured and the rotation a step that does not exist, both answered with an error before any
  AWS or Severa call).

- ready, not cached: the same with the binary's pages dropped from the page cache before each
  start (posix_fadvise DONTNEED on the file, nothing else is evicted), closer to a Lambda host
  that has not read the binary yet: the cost of a larger bootstrap shows here.

With cargo-lambda on PATH (`cargo-lambda`), it also runs each binary under cargo-lambda's own
emulator (`cargo lambda watch --only-lambda-apis`): exec -> the answer to a first invoke sent right
after exec, and RSS after it. That figure includes the emulator's own hop.

Usage: scripts/coldstart.py BIN_DIR [RUNS]   (make coldstart builds and runs it)
       scripts/coldstart.py BIN_DIR [RUNS] --against OTHER_DIR
           two builds of the functions (e.g. before and after a profile change), their runs
           interleaved one by one so that the machine's load hits both alike; medians only.
Reports; fails only if a function does not start or answers wrongly, never on timing.
"""

import argparse
import http.server
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
READY_TARGET_MS = 25
RSS_TARGET_MIB = 25


def webhook_event():
    """A Function URL (HTTP API v2) event: GET on the webhook path, which needs no network."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/webhooks/toggl",
        "rawQueryString": "",
        "headers": {"host": "example.lambda-url.eu-west-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "coldstart",
            "domainName": "example.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "example",
            "http": {
                "method": "GET",
                "path": "/webhooks/toggl",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "coldstart",
            },
            "requestId": "coldstart",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795860000000,
        },
        "isBase64Encoded": False,
    }


FUNCTIONS = {
    "webhook": {
        "env": {
            "JOB_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
            "TABLE_NAME": "severa-bridge",
            "SOURCES_FILE": str(ROOT / "examples" / "sources.json"),
        },
        "event": webhook_event(),
        "expect": lambda answer: answer.get("statusCode") == 405,
    },
    "worker": {
        "env": {
            "JOB_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
            "DLQ_URL": "http://127.0.0.1:9/000000000000/jobs-dlq",
            "TABLE_NAME": "severa-bridge",
            "SEVERA_SECRET_ID": "severa-bridge/severa-api-key",
        },
        "event": {"Records": []},
        "expect": lambda answer: answer.get("batchItemFailures") == [],
    },
    "scheduler": {
        "env": {
            "JOB_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
            "TABLE_NAME": "severa-bridge",
            "SEVERA_SECRET_ID": "severa-bridge/severa-api-key",
            "SYNCS_FILE": str(ROOT / "examples" / "syncs.json"),
        },
        # A sync that is not configured: refused before the lease, the secret or Severa.
        "event": {"sync": "coldstart-not-configured"},
        "expect_error": "no sync named",
    },
    "rotation": {
        "env": {},
        # A step Secrets Manager never sends: refused while the event is read.
        "event": {"SecretId": "severa-bridge/severa-api-key", "ClientRequestToken": "coldstart", "Step": "coldstartStep"},
        "expect_error": "coldstartStep",
    },
}


def answered_as_expected(spec, answer, error):
    """The first event's outcome: an answer `expect` accepts, or an error naming `expect_error`."""
    if "expect_error" in spec:
        return error is not None and spec["expect_error"] in error
    return error is None and answer is not None and spec["expect"](answer)


class RuntimeApi(http.server.ThreadingHTTPServer):
    """One function process's Runtime API: hands out one event, records the timeline."""

    daemon_threads = True

    def __init__(self, event):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.event = json.dumps(event).encode()
        self.pid = None
        # Set once `pid` is known: a fast binary can ask for its first event before Popen's caller
        # has stored the PID (seen on a loaded machine; the handler then failed and the function
        # saw a closed connection).
        self.pid_known = threading.Event()
        self.ready_ns = None
        self.rss_kib = None
        self.hwm_kib = None
        self.answer_ns = None
        self.answer = None
        self.error = None
        self.nexts = 0
        self.done = threading.Event()

    def handle_error(self, request, client_address):
        # The function process is killed while its second `next` waits: broken pipes are expected.
        pass


def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields.get("VmRSS"), fields.get("VmHWM")


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        api = self.server
        if not self.path.endswith("/runtime/invocation/next"):
            return self.reply(404)
        api.nexts += 1
        if api.nexts == 1:
            api.ready_ns = time.perf_counter_ns()
            api.pid_known.wait(10)
            api.rss_kib, api.hwm_kib = memory_kib(api.pid)
            deadline_ms = int(time.time() * 1000) + 30_000
            return self.reply(
                200,
                api.event,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": "coldstart-1",
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:coldstart",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                },
            )
        # Second `next`: the function is idle again; keep it waiting until it is stopped.
        api.done.wait(30)
        self.reply(503)

    def do_POST(self):
        api = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/response"):
            api.answer_ns = time.perf_counter_ns()
            try:
                api.answer = json.loads(body or b"{}")
            except ValueError:
                api.answer = {"unparsable": body[:200].decode(errors="replace")}
        else:  # /init/error or /invocation/<id>/error
            api.answer_ns = time.perf_counter_ns()
            api.error = body[:500].decode(errors="replace")
        self.reply(202, b"{}", {"Content-Type": "application/json"})
        api.done.set()


def lambda_env(name, api_port, extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "coldstart",
        "AWS_SECRET_ACCESS_KEY": "coldstart",
        "AWS_SESSION_TOKEN": "coldstart",
        "RUST_LOG": "info",
    }
    env.update(extra)
    return env


def evict(binary):
    """Drops the binary's pages from the page cache (only this file; clean pages only)."""
    fd = os.open(binary, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def one_run(name, spec, binary, cold=False):
    if cold:
        evict(binary)
    api = RuntimeApi(spec["event"])
    server = threading.Thread(target=api.serve_forever, daemon=True)
    server.start()
    port = api.server_address[1]
    started = time.perf_counter_ns()
    process = subprocess.Popen(
        [str(binary)],
        env=lambda_env(name, port, spec["env"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    api.pid = process.pid
    api.pid_known.set()
    try:
        api.done.wait(15)
    finally:
        api.done.set()
        process.kill()  # by PID: the process object we started
        _, stderr = process.communicate(timeout=10)
        api.shutdown()
        api.server_close()
    if api.answer_ns is None or not answered_as_expected(spec, api.answer, api.error):
        raise SystemExit(
            f"{name}: no good answer to the first event (answer {api.answer!r}, error {api.error!r}, "
            f"stderr {stderr[-500:].decode(errors='replace')!r})"
        )
    return {
        "ready_ms": (api.ready_ns - started) / 1e6,
        "rss_mib": api.rss_kib / 1024,
        "hwm_mib": api.hwm_kib / 1024,
        "answer_ms": (api.answer_ns - started) / 1e6,
    }


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("cargo lambda watch exited before serving its Runtime API")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"cargo lambda watch did not listen on 127.0.0.1:{port}")


def emulator_run(name, spec, binary, port):
    """exec -> answer of cargo-lambda's emulator to an invoke sent right after exec."""
    env = lambda_env(name, 0, spec["env"])
    # The emulator's default function (`_`), as `--only-lambda-apis` prints it.
    env["AWS_LAMBDA_RUNTIME_API"] = f"http://127.0.0.1:{port}/.rt"
    env["AWS_LAMBDA_FUNCTION_NAME"] = "_"
    invoke = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations",
        data=json.dumps(spec["event"]).encode(),
        method="POST",
    )
    started = time.perf_counter_ns()
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    answer, error = None, None
    try:
        try:
            with urllib.request.urlopen(invoke, timeout=15) as response:
                body = response.read()
        except urllib.error.HTTPError as failed:  # the function reported an error
            body = failed.read()
        answered = time.perf_counter_ns()
        _, hwm = memory_kib(process.pid)
    finally:
        process.kill()  # by PID: the process object we started
        _, stderr = process.communicate(timeout=10)
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and "errorMessage" in answer:
        error = json.dumps(answer)
    if not answered_as_expected(spec, answer, error):
        raise SystemExit(f"{name} under cargo-lambda: unexpected answer {answer!r} ({stderr[-300:]!r})")
    return (answered - started) / 1e6, hwm / 1024


def under_cargo_lambda(bin_dir, runs):
    if shutil.which("cargo-lambda") is None:
        print("cargo-lambda not on PATH: skipping the run under its emulator")
        return
    port = free_port()
    emulator = subprocess.Popen(
        ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, emulator)
        print("under cargo lambda watch --only-lambda-apis (first answer includes the emulator hop); median / worst")
        print(f"{'function':<9} | {'first answer (ms)':>17} | {'peak RSS (MiB)':>14}")
        for name, spec in FUNCTIONS.items():
            binary = bin_dir / name
            emulator_run(name, spec, binary, port)
            results = [emulator_run(name, spec, binary, port) for _ in range(runs)]
            answers = [r[0] for r in results]
            peaks = [r[1] for r in results]
            print(
                f"{name:<9} | {statistics.median(answers):>7.1f} / {max(answers):>7.1f} | "
                f"{statistics.median(peaks):>5.1f} / {max(peaks):>5.1f}"
            )
    finally:
        emulator.terminate()  # by PID
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
            emulator.wait()


def check_binaries(*bin_dirs):
    for bin_dir in bin_dirs:
        for name in FUNCTIONS:
            if not (bin_dir / name).is_file():
                raise SystemExit(f"missing {bin_dir / name}; build it first (make coldstart does)")


def compare(bin_dir, other_dir, runs):
    """Interleaved runs of two builds: A, B, A, B, ... for each function, warm and not cached."""
    check_binaries(bin_dir, other_dir)
    print(f"cold start, {bin_dir} (A) against {other_dir} (B): {runs} interleaved runs each; medians")
    print(
        f"{'function':<9} | {'ready A':>7} | {'ready B':>7} | {'not cached A':>12} | {'not cached B':>12} | "
        f"{'RSS A (MiB)':>11} | {'RSS B (MiB)':>11}"
    )
    for name, spec in FUNCTIONS.items():
        a, b = bin_dir / name, other_dir / name
        one_run(name, spec, a)
        one_run(name, spec, b)
        warm = {a: [], b: []}
        cold = {a: [], b: []}
        for _ in range(runs):
            for binary in (a, b):
                warm[binary].append(one_run(name, spec, binary))
            for binary in (a, b):
                cold[binary].append(one_run(name, spec, binary, cold=True))

        def median(results, key):
            return statistics.median(r[key] for r in results)

        print(
            f"{name:<9} | {median(warm[a], 'ready_ms'):>7.1f} | {median(warm[b], 'ready_ms'):>7.1f} | "
            f"{median(cold[a], 'ready_ms'):>12.1f} | {median(cold[b], 'ready_ms'):>12.1f} | "
            f"{median(warm[a], 'rss_mib'):>11.1f} | {median(warm[b], 'rss_mib'):>11.1f}"
        )


def main():
    parser = argparse.ArgumentParser(description="cold start of the function binaries")
    parser.add_argument("bin_dir", type=pathlib.Path)
    parser.add_argument("runs", type=int, nargs="?", default=20)
    parser.add_argument("--against", type=pathlib.Path, help="a second build to compare with, runs interleaved")
    args = parser.parse_args()
    bin_dir, runs = args.bin_dir, args.runs
    if args.against is not None:
        compare(bin_dir, args.against, runs)
        return
    check_binaries(bin_dir)
    print(f"cold start over {runs} runs per function ({bin_dir}); median / worst")
    print(
        f"{'function':<9} | {'ready (ms)':>13} | {'RSS at ready (MiB)':>19} | {'peak (MiB)':>11} | "
        f"{'first answer (ms)':>17} | {'ready, not cached (ms)':>22}"
    )
    verdicts = []
    for name, spec in FUNCTIONS.items():
        binary = bin_dir / name
        one_run(name, spec, binary)  # page cache warm, as on a Lambda host after the first start
        results = [one_run(name, spec, binary) for _ in range(runs)]
        cold = [one_run(name, spec, binary, cold=True)["ready_ms"] for _ in range(runs)]

        def pair(key):
            values = [r[key] for r in results]
            return statistics.median(values), max(values)

        ready, rss, hwm, answer = (pair(k) for k in ("ready_ms", "rss_mib", "hwm_mib", "answer_ms"))
        print(
            f"{name:<9} | {ready[0]:>5.1f} / {ready[1]:>5.1f} | {rss[0]:>8.1f} / {rss[1]:>8.1f} | "
            f"{hwm[1]:>11.1f} | {answer[0]:>7.1f} / {answer[1]:>7.1f} | "
            f"{statistics.median(cold):>9.1f} / {max(cold):>9.1f}"
        )
        verdicts.append(
            f"{name}: ready {'<' if ready[0] < READY_TARGET_MS else '>='} {READY_TARGET_MS} ms "
            f"(median), RSS {'<' if rss[1] < RSS_TARGET_MIB else '>='} {RSS_TARGET_MIB} MiB (worst)"
        )
    print("targets: " + "; ".join(verdicts))
    print()
    under_cargo_lambda(bin_dir, runs)


if __name__ == "__main__":
    main()
