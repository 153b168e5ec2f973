"""Loading model.conf with Casbin, and checking it has the shape the gateway relies on.

The gateway builds its requests as `(subject, department, model, operation)`, reads the effect of a
matched line from its `eft` column, and pre-selects the lines a request can match by subject (and the
roles it holds) and by department before Casbin evaluates the matcher on them (see snapshot.py). That
pre-selection is exact only while the matcher requires `g(r.sub, p.sub, r.dom)` and
`wildcardMatch(r.dom, p.dom)`, so those, like the definitions and the effect, are checked here; the
other conditions of the matcher (how models and operations match) are the policy author's to change.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import casbin  # type: ignore[import-untyped]
from casbin.constant.constants import ALLOW_AND_DENY_EFFECT  # type: ignore[import-untyped]
from casbin.model import FunctionMap  # type: ignore[import-untyped]

from gateway.authz.errors import PolicyError
from gateway.authz.matching import wildcard_match

__all__ = ["MATCH_FUNCTION", "REQUIRED_CONDITIONS", "load_model", "new_enforcer"]

MATCH_FUNCTION = "wildcardMatch"
"""The name under which `wildcard_match` is available to the matcher."""

REQUIRED_CONDITIONS = ("g(r.sub, p.sub, r.dom)", f"{MATCH_FUNCTION}(r.dom, p.dom)")
"""Conditions the matcher must `&&` with the rest (the gateway's pre-selection depends on them)."""

_SECTIONS = {
    "r": ("request_definition", "r = sub, dom, obj, act"),
    "p": ("policy_definition", "p = sub, dom, obj, act, eft"),
    "g": ("role_definition", "g = _, _, _"),
    "e": ("policy_effect", "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))"),
    "m": ("matchers", "m = ..."),
}
_REQUEST_TOKENS = ["r_sub", "r_dom", "r_obj", "r_act"]
_POLICY_TOKENS = ["p_sub", "p_dom", "p_obj", "p_act", "p_eft"]


def _as_casbin(condition: str) -> str:
    return re.sub(r"\b([rp])\.", r"\1_", condition)


def _python_expression(matcher: str) -> str:
    # The same rewriting Casbin applies before evaluating the matcher.
    expression = matcher.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", expression)


def _check_matcher(matcher: str, functions: set[str]) -> list[str]:
    try:
        tree = ast.parse(_python_expression(matcher).strip(), mode="eval")
    except SyntaxError as exc:
        return [f"[matchers] `m` is not a valid expression: {exc.msg}"]
    problems: list[str] = []
    names = set(_REQUEST_TOKENS) | set(_POLICY_TOKENS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                problems.append(f"[matchers] only plain function calls are allowed: `{ast.unparse(node)}`")
            elif node.func.id not in functions:
                problems.append(f"[matchers] unknown function `{node.func.id}`")
        elif isinstance(node, ast.Name) and node.id not in names and node.id not in functions:
            shown = re.sub(r"^([rp])_", r"\1.", node.id)
            problems.append(f"[matchers] unknown name `{shown}`")
    body = tree.body
    conditions = body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    present = {ast.unparse(condition) for condition in conditions}
    for required in REQUIRED_CONDITIONS:
        if ast.unparse(ast.parse(_as_casbin(required), mode="eval").body) not in present:
            problems.append(f"[matchers] `m` must keep `{required}` as one of its `&&` conditions")
    return problems


def load_model(text: str, path: Path) -> Any:
    """A Casbin model from model.conf's text, or a `PolicyError` listing what does not fit."""
    try:
        model = casbin.Enforcer.new_model(text=text)
    except Exception as exc:  # Casbin's parser raises bare RuntimeErrors and friends
        raise PolicyError(path, [f"not a Casbin model: {exc}"]) from None
    problems: list[str] = []
    for section, (title, expected) in _SECTIONS.items():
        keys = list(model[section] or {})
        if section not in keys:
            problems.append(f"[{title}] is missing or has no `{section}` (expected `{expected}`)")
        extra = [key for key in keys if key != section]
        if extra:
            problems.append(f"[{title}] defines {', '.join(extra)}, which the gateway does not use")
    if problems:
        raise PolicyError(path, problems)
    if model["r"]["r"].tokens != _REQUEST_TOKENS:
        problems.append(f"[request_definition] must be `{_SECTIONS['r'][1]}`")
    if model["p"]["p"].tokens != _POLICY_TOKENS:
        problems.append(f"[policy_definition] must be `{_SECTIONS['p'][1]}`")
    if len(model["g"]["g"].tokens) != 3 or model["g"]["g"].params_tokens:
        problems.append(f"[role_definition] must be `{_SECTIONS['g'][1]}` (roles are granted per department)")
    if model["e"]["e"].value != ALLOW_AND_DENY_EFFECT:
        problems.append(f"[policy_effect] must be `{_SECTIONS['e'][1]}` (deny overrides allow)")
    functions = {*FunctionMap.load_function_map().get_functions(), MATCH_FUNCTION, "g"}
    problems += _check_matcher(model["m"]["m"].value, functions)
    if problems:
        raise PolicyError(path, problems)
    return model


class _Enforcer(casbin.Enforcer):  # type: ignore[misc]
    """Casbin's enforcer, parsing the matcher once instead of at every call.

    `enforce_ex` rebuilds the matcher's evaluator (`ast.parse` and `compile`, about 35 microseconds)
    on each call, though a loaded model's matcher never changes. The evaluator keeps a reference to
    the enforcer's function map, which Casbin updates in place, so reusing it evaluates exactly what
    a fresh one would. Should a future pycasbin stop calling this hook, decisions stay the same, only
    slower (the benchmark in loadtests/bench_authz.py would show it).
    """

    _expressions: dict[str, Any]

    def _get_expression(self, expr: str, functions: Any = None) -> Any:
        cache = self.__dict__.setdefault("_expressions", {})
        expression = cache.get(expr)
        if expression is None:
            expression = cache[expr] = casbin.Enforcer._get_expression(expr, functions)
        return expression


def new_enforcer(model: Any) -> Any:
    """An enforcer over `model` (no adapter: the caller adds the rules) with the wildcard function
    registered for the matcher and for role grants' departments."""
    enforcer = _Enforcer(model)
    enforcer.add_function(MATCH_FUNCTION, wildcard_match)
    # A role granted in department `*` (or `dgfip-*`) then holds in every department it matches.
    enforcer.get_role_manager().add_domain_matching_func(wildcard_match)
    return enforcer
