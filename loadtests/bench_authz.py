"""Benchmark: what one authorization costs at 2,000 policy lines, for each way of asking Casbin.

    .venv/bin/python -m loadtests.bench_authz [--lines 2000] [--departments 50] [--requests 2000]
                                             [--plain-samples 200] [--seed 1]

A policy of `--lines` lines is generated in a temporary directory with the gateway's own
policies/model.conf: the platform roles of policies/policy.csv, then for each department a set of
services (some names reused across departments, as "assistant" would be), each with allow and deny
lines and a role grant. Random requests (department, service, key roles, model, operation) are then
decided by:

- plain      `casbin.Enforcer.enforce_ex` for each subject of the principal (every line evaluated);
- fast       `casbin.FastEnforcer` indexed on the subject (`cache_key_order=[0]`): fast, but blind to
             lines reached through a role or a wildcard, so it is also scored against plain;
- cold       the gateway's `PolicySnapshot` with its decision cache off (pre-selected lines);
- cached     the gateway's `Authorizer.decide` once every request has been decided once.

It also prints what loading the policy costs (the pause a reload makes on the event loop) and what
the reloader's check costs when nothing changed (reading and hashing both files).

Each figure is the p50 and p99 of single calls, in microseconds, timed with `perf_counter_ns`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin  # type: ignore[import-untyped]

from gateway.authz import ANY_MODEL, MODEL_ACTIONS, Authorizer, load_policy, wildcard_match
from gateway.authz.actions import ADMIN, USAGE_READ
from gateway.authz.casbin_model import MATCH_FUNCTION
from gateway.authz.sources import read_policy_files

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parent.parent
_MODELS = ("mistral-small", "mistral-large-2411", "llama-3.1-8b", "llama-3.1-405b", "bge-m3")
_KEY_ROLES: tuple[tuple[str, ...], ...] = ((), (), ("user",), ("department-admin",))
_PLATFORM_LINES = [
    "p, admin, *, *, *, allow",
    "p, department-admin, *, *, admin, allow",
    "p, department-admin, *, *, usage:read, allow",
    "g, department-admin, user, *",
    *(f"p, user, *, *, {action}, allow" for action in MODEL_ACTIONS),
]

Request = tuple[str, str, tuple[str, ...], str, str]


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    p50: float
    p99: float
    calls: int


def generate_policy(lines: int, departments: int) -> list[str]:
    """`lines` policy lines over `departments` departments (fewer if there are too few departments)."""
    out = list(_PLATFORM_LINES)
    services_per_department = max(1, -(-(lines - len(out)) // (departments * 4)))
    for d in range(departments):
        department = f"dep{d:03d}"
        for s in range(services_per_department):
            # Half the names are shared by every department, half are the department's own.
            service = f"svc{s}" if s % 2 == 0 else f"{department}-svc{s}"
            out += [
                f"p, {service}, {department}, mistral-*, chat, allow",
                f"p, {service}, {department}, llama-3.1-{8 + s % 3}b, embeddings, allow",
                f"p, {service}, {department}, mistral-large*, *, deny",
                f"g, {service}, user, {department}"
                if s % 3 == 0
                else f"p, {service}, {department}, bge-*, *, allow",
            ]
            if len(out) >= lines:
                return out[:lines]
    return out


def random_requests(count: int, departments: int, services: int, rng: random.Random) -> list[Request]:
    requests: list[Request] = []
    for _ in range(count):
        d = rng.randrange(departments)
        s = rng.randrange(services)
        department = f"dep{d:03d}"
        service = f"svc{s}" if s % 2 == 0 else f"{department}-svc{s}"
        operation = rng.choice((*MODEL_ACTIONS, *MODEL_ACTIONS, ADMIN, USAGE_READ))
        model = ANY_MODEL if operation in (ADMIN, USAGE_READ) else rng.choice(_MODELS)
        requests.append((department, service, rng.choice(_KEY_ROLES), model, operation))
    return requests


def plain_enforcer(model_file: Path, policy_file: Path, cls: Any = None, **kwargs: Any) -> Any:
    enforcer = (cls or casbin.Enforcer)(str(model_file), str(policy_file), **kwargs)
    enforcer.add_function(MATCH_FUNCTION, wildcard_match)
    enforcer.get_role_manager().add_domain_matching_func(wildcard_match)
    return enforcer


def combine(verdicts: Sequence[tuple[bool, bool]]) -> bool:
    """(allowed, denied by a line) per subject -> the principal's verdict."""
    return any(allowed for allowed, _ in verdicts) and not any(denied for _, denied in verdicts)


def plain_decide(enforcer: Any, request: Request) -> bool:
    department, service, roles, model, operation = request
    verdicts = []
    for subject in (service, *roles):
        allowed, rule = enforcer.enforce_ex(subject, department, model, operation)
        verdicts.append((bool(allowed), bool(rule) and rule[-1] == "deny"))
    return combine(verdicts)


def fast_decide(enforcer: Any, request: Request) -> bool:
    # FastEnforcer.enforce only reports allowed or not, so a refusal by a deny line and "nothing
    # matched" look alike; any allowing subject then wins. It is scored against plain below.
    department, service, roles, model, operation = request
    return any(enforcer.enforce(subject, department, model, operation) for subject in (service, *roles))


def timed(name: str, call: Callable[[Request], object], requests: Sequence[Request]) -> Figures:
    samples = []
    for request in requests:
        start = time.perf_counter_ns()
        call(request)
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(len(samples) * 0.99))]
    return Figures(name, statistics.median(samples), p99, len(samples))


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="bench-authz-"))
    try:
        model_file = workdir / "model.conf"
        policy_file = workdir / "policy.csv"
        shutil.copyfile(_ROOT / "policies" / "model.conf", model_file)
        lines = generate_policy(args.lines, args.departments)
        policy_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        services = max(1, -(-(args.lines - len(_PLATFORM_LINES)) // (args.departments * 4)))
        requests = random_requests(args.requests, args.departments, services, rng)
        plain_sample = requests[: args.plain_samples]

        start = time.perf_counter()
        cold = load_policy(model_file, policy_file, cache_size=0)
        compile_ms = (time.perf_counter() - start) * 1000
        reads = []
        for _ in range(50):  # what the reloader pays every interval when nothing changed
            start = time.perf_counter()
            read_policy_files(model_file, policy_file)
            reads.append((time.perf_counter() - start) * 1e6)
        authorizer = Authorizer.from_files(model_file, policy_file)
        plain = plain_enforcer(model_file, policy_file)
        fast = plain_enforcer(model_file, policy_file, casbin.FastEnforcer, cache_key_order=[0])

        expected = [plain_decide(plain, request) for request in plain_sample]
        ours = [cold.decide(*request).allowed for request in plain_sample]
        fast_answers = [fast_decide(fast, request) for request in plain_sample]
        for request in requests:  # warm the cache
            authorizer.decide(*request)

        results = [
            timed("plain Enforcer", lambda request: plain_decide(plain, request), plain_sample),
            timed("FastEnforcer [sub]", lambda request: fast_decide(fast, request), requests),
            timed("gateway, cold", lambda request: cold.decide(*request), requests),
            timed("gateway, cached", lambda request: authorizer.decide(*request), requests),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    allowed = sum(expected)
    print(
        f"{len(lines)} policy lines, {args.departments} departments, {len(requests)} requests "
        f"({allowed}/{len(expected)} of the plain sample allowed)"
    )
    print(
        f"load and check: {compile_ms:.1f} ms; reload check, nothing changed: {statistics.median(reads):.0f} µs"
    )
    print(f"{'':20} {'p50 µs':>10} {'p99 µs':>10} {'calls':>7}")
    for figures in results:
        print(f"{figures.name:20} {figures.p50:10.1f} {figures.p99:10.1f} {figures.calls:7}")
    wrong_ours = sum(a != b for a, b in zip(ours, expected, strict=True))
    wrong_fast = sum(a != b for a, b in zip(fast_answers, expected, strict=True))
    print(
        f"disagreements with plain Enforcer: gateway {wrong_ours}, FastEnforcer {wrong_fast} (of {len(expected)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--departments", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--plain-samples", type=int, default=200, help="requests timed on the plain Enforcer")
    parser.add_argument("--seed", type=int, default=1)
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
