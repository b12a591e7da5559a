#!/usr/bin/env python3
"""Checks of infra/template.yaml that the linters do not make: the template against the code.

cfn-lint validates resource schemas and checkov security policies, but neither knows that the
worker reads `SEVERA_SECRET_ID`, that the table's TTL attribute is the one the code writes, or
that a wrong Runtime string or Function URL AuthType would still pass. This script does, with
the template read by cfn-lint's own CloudFormation YAML decoder (intrinsic tags understood).

Run with the project venv's Python (scripts/lint-infra.sh does): exit 0 when every check holds,
1 with one line per failed check otherwise.
"""

import json
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"

# What each function cannot start without (its main.rs documents the same list).
REQUIRED_ENV = {
    "WebhookFunction": {"JOB_QUEUE_URL", "TABLE_NAME", "SOURCES_JSON"},
    "WorkerFunction": {"JOB_QUEUE_URL", "DLQ_URL", "TABLE_NAME", "SEVERA_SECRET_ID"},
    "SchedulerFunction": {"JOB_QUEUE_URL", "TABLE_NAME", "SEVERA_SECRET_ID", "SYNCS_JSON"},
    "RotationFunction": set(),
}

# Read by libraries rather than by a string literal of ours.
READ_BY_LIBRARIES = {"RUST_LOG"}  # tracing-subscriber's EnvFilter::try_from_default_env

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def rust_sources():
    """All Rust source of the functions and the shared crates, for 'does the code read X'."""
    text = []
    for pattern in ("functions/*/src/**/*.rs", "shared/*/src/**/*.rs"):
        for path in ROOT.glob(pattern):
            text.append(path.read_text(encoding="utf-8"))
    return "\n".join(text)


def main():
    template = cfn_yaml.load(str(TEMPLATE))
    resources = template["Resources"]
    globals_fn = template["Globals"]["Function"]
    code = rust_sources()

    check(globals_fn.get("Runtime") == "provided.al2023", "Globals: Runtime must be provided.al2023")
    check(globals_fn.get("Architectures") == ["arm64"], "Globals: Architectures must be [arm64]")
    check(globals_fn.get("Handler") == "bootstrap", "Globals: Handler must be bootstrap")
    global_env = set(globals_fn.get("Environment", {}).get("Variables", {}))

    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    check(set(functions) == set(REQUIRED_ENV), f"functions: expected {sorted(REQUIRED_ENV)}, found {sorted(functions)}")

    for name, resource in functions.items():
        props = resource["Properties"]
        check(resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda", f"{name}: BuildMethod must be rust-cargolambda")
        code_dir = (TEMPLATE.parent / props["CodeUri"]).resolve()
        manifest = code_dir / "Cargo.toml"
        check(manifest.is_file(), f"{name}: CodeUri {props['CodeUri']} has no Cargo.toml")
        if manifest.is_file():
            package = re.search(r'^name\s*=\s*"([^"]+)"', manifest.read_text(), re.M)
            check(package is not None and package.group(1) == code_dir.name, f"{name}: package name must equal its folder {code_dir.name}")
        logging = props.get("LoggingConfig", {})
        check(logging.get("LogFormat") == "JSON", f"{name}: LoggingConfig.LogFormat must be JSON")
        log_group = logging.get("LogGroup", {}).get("Ref")
        check(log_group in resources and resources[log_group]["Type"] == "AWS::Logs::LogGroup", f"{name}: LogGroup must reference a log group of this template")
        if log_group in resources:
            check("RetentionInDays" in resources[log_group]["Properties"], f"{log_group}: RetentionInDays missing")
        env = set(props.get("Environment", {}).get("Variables", {}))
        missing = REQUIRED_ENV.get(name, set()) - env
        check(not missing, f"{name}: environment lacks {sorted(missing)}")
        for variable in sorted((env | global_env) - READ_BY_LIBRARIES):
            check(f'"{variable}"' in code, f"{name}: sets {variable}, which no Rust source reads")
        for statement in policy_statements(props):
            resources_of = statement.get("Resource")
            check(resources_of not in ("*", ["*"]), f"{name}: a policy statement grants {statement.get('Action')} on every resource")

    webhook = functions["WebhookFunction"]["Properties"]
    table_statements = [st for st in policy_statements(webhook) if any("dynamodb:" in a for a in (st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action", "")]))]
    for statement in table_statements:
        keys = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        check(keys == ["job#webhook/*"], "WebhookFunction: table access must be limited with dynamodb:LeadingKeys to job#webhook/* (its own delivery claims)")
    table = resources["StateTable"]
    check(table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain", "StateTable: DeletionPolicy and UpdateReplacePolicy must be Retain (the id map cannot be rebuilt)")
    reserved = functions["WorkerFunction"]["Properties"].get("ReservedConcurrentExecutions")
    max_concurrency = template["Parameters"]["WorkerMaximumConcurrency"].get("MaxValue")
    check(isinstance(reserved, int) and isinstance(max_concurrency, int) and max_concurrency <= reserved, "WorkerMaximumConcurrency may not exceed the worker's ReservedConcurrentExecutions (throttled receives burn attempts)")
    check(webhook.get("FunctionUrlConfig", {}).get("AuthType") == "NONE", "WebhookFunction: Function URL AuthType must be NONE (signatures are checked in code)")

    worker = functions["WorkerFunction"]["Properties"]
    sqs_events = [e["Properties"] for e in worker.get("Events", {}).values() if e["Type"] == "SQS"]
    check(len(sqs_events) == 1, "WorkerFunction: exactly one SQS event source")
    for event in sqs_events:
        check("ReportBatchItemFailures" in event.get("FunctionResponseTypes", []), "WorkerFunction: SQS event needs ReportBatchItemFailures")
        check("MaximumConcurrency" in event.get("ScalingConfig", {}), "WorkerFunction: SQS event needs ScalingConfig.MaximumConcurrency")

    queue = resources["JobQueue"]["Properties"]
    # The worker's backstop (bridge::worker::MAX_RECEIVES): a day of retries must fit under it.
    check(queue.get("RedrivePolicy", {}).get("maxReceiveCount") == 500, "JobQueue: redrive maxReceiveCount must be 500 (bridge::worker::MAX_RECEIVES)")
    check(queue.get("SqsManagedSseEnabled") is True, "JobQueue: SSE")
    # The producers split and refuse by bridge::ports::MAX_MESSAGE_BYTES; both queues must take that size.
    limit = re.search(r"pub const MAX_MESSAGE_BYTES: usize = (\d+) \* 1024;", code)
    check(limit is not None, "bridge::ports::MAX_MESSAGE_BYTES not found in the code")
    if limit:
        for name in ("JobQueue", "DeadLetterQueue"):
            size = resources[name]["Properties"].get("MaximumMessageSize")
            check(size == int(limit.group(1)) * 1024, f"{name}: MaximumMessageSize must be {int(limit.group(1)) * 1024} (bridge::ports::MAX_MESSAGE_BYTES), is {size}")
    check(resources["DeadLetterQueue"]["Properties"].get("SqsManagedSseEnabled") is True, "DeadLetterQueue: SSE")
    params = template["Parameters"]
    batch, per_invocation = params["WorkerBatchSize"]["Default"], params["WorkerRecordConcurrency"]["Default"]
    # The batch barrier: a batch that is not a multiple leaves calls idle in its last round.
    check(batch % per_invocation == 0, f"WorkerBatchSize default ({batch}) must be a multiple of WorkerRecordConcurrency ({per_invocation})")
    # The client's bound on Severa calls only binds when records can use it.
    calls = params["WorkerSeveraCallsInFlight"]["Default"]
    check(calls <= per_invocation, f"WorkerSeveraCallsInFlight default ({calls}) must not exceed WorkerRecordConcurrency ({per_invocation})")
    longest_window = params["WorkerBatchWindowSeconds"]["MaxValue"]
    visibility = template["Mappings"]["WorkerTimeoutToVisibility"]
    allowed = template["Parameters"]["WorkerTimeout"]["AllowedValues"]
    check(sorted(visibility) == sorted(allowed), "WorkerTimeoutToVisibility must map every allowed WorkerTimeout")
    for timeout, row in visibility.items():
        check(row["Seconds"] >= 6 * int(timeout) + longest_window, f"visibility for a {timeout} s worker must be >= 6 x timeout + {longest_window}")

    table = resources["StateTable"]["Properties"]
    check(table.get("BillingMode") == "PAY_PER_REQUEST", "StateTable: on-demand")
    check(table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, "StateTable: point-in-time recovery")
    ttl = table.get("TimeToLiveSpecification", {})
    check(ttl.get("Enabled") is True and f'"{ttl.get("AttributeName")}"' in code, "StateTable: TTL attribute must be the one the code writes")
    check([k["AttributeName"] for k in table["KeySchema"]] == ["pk"] and '"pk"' in code, "StateTable: key must be the code's `pk`")

    schedules = {
        f"{name}.{event_name}": event["Properties"]
        for name, resource in functions.items()
        for event_name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "ScheduleV2"
    }
    check(schedules, "no EventBridge Scheduler schedules")
    for name, schedule in schedules.items():
        for key in ("FlexibleTimeWindow", "RetryPolicy", "DeadLetterConfig", "ScheduleExpressionTimezone"):
            check(key in schedule, f"{name}: {key} missing")
        try:
            check(isinstance(json.loads(schedule["Input"]).get("sync"), str), f"{name}: Input must name a sync")
        except ValueError:
            failures.append(f"{name}: Input is not JSON")

    custom_metrics = {
        r["Properties"]["MetricName"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == {"Ref": "MetricsNamespace"}
    }
    for metric in sorted(custom_metrics):
        check(f'"{metric}"' in code, f"alarm on metric {metric}, which no Rust source emits")

    for failure in failures:
        print(f"check_template: {failure}")
    if failures:
        return 1
    print(f"check_template: {len(functions)} functions, {len(schedules)} schedules, {len(custom_metrics)} custom-metric alarms: all checks hold")
    return 0


def policy_statements(props):
    for policy in props.get("Policies", []):
        if isinstance(policy, dict):
            yield from policy.get("Statement", [])


if __name__ == "__main__":
    sys.exit(main())
