"""Locust scenarios for the gateway, as an SRE sizing a deployment would run them.

    locust -f loadtests/locustfile.py --host http://gateway:8080        # against any deployment
    make loadtest                                                      # simulators on loopback

Keys come from the environment, never from this file:
    LOADTEST_KEYS_FILE   a JSON file: {"services": [{"department", "service", "key"}, ...],
                         "quota_key": "..."} (what `python -m loadtests.run_locust` writes)
    LOADTEST_KEY         or one key for every user (a real deployment, one service)
    LOADTEST_CHAT_MODEL, LOADTEST_EMBEDDING_MODEL   default mistral-small and bge-m3
    LOADTEST_MAX_TOKENS  tokens asked per answer (default 32)
    LOADTEST_RAMP        "users_per_step,step_seconds,max_users": ramp in steps to find saturation

Time to first token and inter-token latency of streams are reported as their own rows (request
types TTFT and ITL). A service that runs into its quota gets 429s: they are expected and counted
as successes under "chat (over quota, refused)", not as failures.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from locust import FastHttpUser, HttpUser, LoadTestShape, between, task

_CHAT_MODEL = os.environ.get("LOADTEST_CHAT_MODEL", "mistral-small")
_EMBEDDING_MODEL = os.environ.get("LOADTEST_EMBEDDING_MODEL", "bge-m3")
_MAX_TOKENS = int(os.environ.get("LOADTEST_MAX_TOKENS", "32"))
_PROMPTS = (
    "Résume en une phrase la procédure de renouvellement d'un passeport.",
    "Rédige une réponse courtoise à un usager qui demande un délai de paiement.",
    "Quelles pièces faut-il joindre à une demande de logement social ?",
    "Explique simplement ce qu'est le prélèvement à la source.",
)


def _keys() -> tuple[list[str], str | None]:
    """The service keys users pick from, and the key of the service meant to exhaust its quota."""
    path = os.environ.get("LOADTEST_KEYS_FILE")
    if path:
        with open(path, encoding="utf-8") as file:
            data: dict[str, Any] = json.load(file)
        return [entry["key"] for entry in data["services"]], data.get("quota_key")
    single = os.environ.get("LOADTEST_KEY")
    if not single:
        raise RuntimeError("set LOADTEST_KEYS_FILE or LOADTEST_KEY (see loadtests/locustfile.py)")
    return [single], None


_SERVICE_KEYS, _QUOTA_KEY = _keys()


def _chat_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": _CHAT_MODEL,
        "messages": [{"role": "user", "content": random.choice(_PROMPTS)}],
        "max_tokens": _MAX_TOKENS,
    }
    if stream:
        body["stream"] = True
    return body


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


class ChatUser(FastHttpUser):
    """A tool asking for whole answers, as most integrations do."""

    weight = 5
    wait_time = between(0.0, 0.1)

    def on_start(self) -> None:
        self.key = random.choice(_SERVICE_KEYS)

    @task
    def chat(self) -> None:
        self.client.post("/v1/chat/completions", json=_chat_body(False), headers=_auth(self.key), name="chat")


class EmbeddingsUser(FastHttpUser):
    """Indexing documents for retrieval."""

    weight = 1
    wait_time = between(0.0, 0.1)

    def on_start(self) -> None:
        self.key = random.choice(_SERVICE_KEYS)

    @task
    def embed(self) -> None:
        body = {"model": _EMBEDDING_MODEL, "input": random.sample(_PROMPTS, 2)}
        self.client.post("/v1/embeddings", json=body, headers=_auth(self.key), name="embeddings")


class StreamingChatUser(HttpUser):
    """A chat window: the answer streamed, time to first token and between tokens measured."""

    weight = 3
    wait_time = between(0.0, 0.1)

    def on_start(self) -> None:
        self.key = random.choice(_SERVICE_KEYS)

    @task
    def chat_stream(self) -> None:
        started = time.perf_counter()
        first: float | None = None
        last = started
        gaps: list[float] = []
        with self.client.post(
            "/v1/chat/completions",
            json=_chat_body(True),
            headers=_auth(self.key),
            stream=True,
            catch_response=True,
            name="chat stream",
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            done = False
            for line in response.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                now = time.perf_counter()
                if line == b"data: [DONE]":
                    done = True
                    break
                if first is None:
                    first = now
                else:
                    gaps.append(now - last)
                last = now
            if not done:
                response.failure("the stream ended without [DONE]")
                return
            response.success()
        fire = self.environment.events.request.fire
        if first is not None:
            fire(
                request_type="TTFT",
                name="chat stream",
                response_time=(first - started) * 1000,
                response_length=0,
                exception=None,
                context={},
            )
        if gaps:
            fire(
                request_type="ITL",
                name="chat stream",
                response_time=sum(gaps) / len(gaps) * 1000,
                response_length=0,
                exception=None,
                context={},
            )


class OverQuotaUser(FastHttpUser):
    """A service with a small budget: once it is spent, 429 is the right answer, not a failure."""

    weight = 1 if _QUOTA_KEY else 0
    wait_time = between(0.05, 0.2)

    @task
    def chat(self) -> None:
        assert _QUOTA_KEY is not None
        with self.client.post(
            "/v1/chat/completions",
            json=_chat_body(False),
            headers=_auth(_QUOTA_KEY),
            catch_response=True,
            name="chat (over quota)",
        ) as response:
            if response.status_code == 429:
                # Its own row, so that the refusals can be counted and told apart from answers.
                response.request_meta["name"] = "chat (over quota, refused)"
                response.success()
            elif response.status_code == 200:
                response.success()
            else:
                response.failure(f"status {response.status_code}")


# Locust uses a shape class whenever the locustfile defines one, so the ramp is defined only when
# asked for; otherwise --users, --spawn-rate and --run-time apply as usual.
if os.environ.get("LOADTEST_RAMP"):
    _PER_STEP, _STEP_SECONDS, _MOST_USERS = os.environ["LOADTEST_RAMP"].split(",")

    class StepRamp(LoadTestShape):
        """Add users every step until the most, to find where latency turns."""

        per_step = int(_PER_STEP)
        step_seconds = float(_STEP_SECONDS)
        most = int(_MOST_USERS)

        def tick(self) -> tuple[int, float] | None:
            elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]  # locust leaves it unannotated
            users = (int(elapsed // self.step_seconds) + 1) * self.per_step
            return (users, float(self.per_step)) if users <= self.most else None
