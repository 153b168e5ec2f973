"""Hot reload: edits on disk reach decisions without a restart; broken edits never do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from gateway.authz import Authorizer, PolicyError, PolicyReloader
from gateway.authz import reloader as reloader_module
from tests.authz.conftest import TEST_POLICY, PolicyFiles
from tests.waiting import async_wait_for

COURRIER_SMALL = ("dgfip", "assistant-courrier", (), "mistral-small", "chat")
DENY_SMALL = "p, assistant-courrier, dgfip, mistral-small, *, deny\n"
ALWAYS_ALLOWED = ("dgfip", "recherche", (), "bge-m3", "embeddings")
NEVER_ALLOWED = ("dinum", "recherche", (), "bge-m3", "embeddings")


@pytest_asyncio.fixture
async def watched(files: PolicyFiles) -> AsyncIterator[tuple[Authorizer, PolicyReloader]]:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=0.05, settle=0.02)
    reloader.start()
    yield authorizer, reloader
    await reloader.stop()


def _error(reloader: PolicyReloader) -> str | None:
    # A function call, so that mypy does not carry an earlier assertion about the attribute over.
    return reloader.last_error


def _running(reloader: PolicyReloader) -> bool:
    return reloader.running


@pytest.mark.asyncio
async def test_edit_on_disk_changes_the_decision(
    files: PolicyFiles, watched: tuple[Authorizer, PolicyReloader]
) -> None:
    authorizer, reloader = watched
    assert reloader.running and authorizer.version == 1
    first_loaded_at = authorizer.loaded_at
    assert authorizer.decide(*COURRIER_SMALL).allowed

    files.write_policy(TEST_POLICY + DENY_SMALL)
    assert await async_wait_for(lambda: not authorizer.decide(*COURRIER_SMALL).allowed, 2.0)
    assert authorizer.version == 2 and authorizer.loaded_at >= first_loaded_at
    assert authorizer.decide(*COURRIER_SMALL).rule == (
        "p",
        "assistant-courrier",
        "dgfip",
        "mistral-small",
        "*",
        "deny",
    )


@pytest.mark.asyncio
async def test_edit_written_in_place_is_picked_up(
    files: PolicyFiles, watched: tuple[Authorizer, PolicyReloader]
) -> None:
    authorizer, _ = watched
    files.policy_file.write_text(TEST_POLICY + DENY_SMALL, encoding="utf-8")
    assert await async_wait_for(lambda: not authorizer.decide(*COURRIER_SMALL).allowed, 2.0)


@pytest.mark.asyncio
async def test_same_content_rewritten_does_not_reload(
    files: PolicyFiles, watched: tuple[Authorizer, PolicyReloader]
) -> None:
    authorizer, reloader = watched
    files.write_policy(TEST_POLICY)
    checked = reloader.last_checked_at
    assert await async_wait_for(lambda: reloader.last_checked_at != checked, 2.0)
    await asyncio.sleep(0.2)
    assert authorizer.version == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("cache_size", [0, 1024])
async def test_decisions_during_reloads_are_never_wrong(files: PolicyFiles, cache_size: int) -> None:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file, cache_size=cache_size)
    reloader = PolicyReloader(authorizer, interval=0.02, settle=0.0)
    reloader.start()
    stop = asyncio.Event()
    seen: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    async def decide_in_a_loop() -> None:
        for _ in range(200_000):  # bounded; the test stops it much earlier
            if stop.is_set():
                return
            try:
                assert authorizer.decide(*ALWAYS_ALLOWED).allowed
                assert not authorizer.decide(*NEVER_ALLOWED).allowed
                # No await between the two: a swap cannot fall between them.
                seen.append((authorizer.version, authorizer.decide(*COURRIER_SMALL).allowed))
            except BaseException as exc:
                errors.append(exc)
                return
            await asyncio.sleep(0)

    def loaded(version: int) -> Callable[[], bool]:
        return lambda: authorizer.version == version

    def answered_by(version: int) -> Callable[[], bool]:
        return lambda: bool(seen) and seen[-1][0] == version

    loop_task = asyncio.create_task(decide_in_a_loop())
    try:
        # Versions 2, 3, 4, 5 deny, allow, deny, allow; each is waited for before the next edit.
        for version in range(2, 6):
            deny = version % 2 == 0
            files.write_policy(TEST_POLICY + (DENY_SMALL if deny else ""))
            reached = await async_wait_for(loaded(version), 2.0)
            assert reached, f"version {version} not loaded within 2 s: {reloader.last_error}"
            # Let the loop answer at least once from this version before the next edit.
            assert await async_wait_for(answered_by(version), 2.0)
    finally:
        stop.set()
        await loop_task
        await reloader.stop()
    assert not errors
    # Every answer is the one of the version that gave it: odd versions allow, even ones deny.
    wrong = [(version, allowed) for version, allowed in seen if allowed != (version % 2 == 1)]
    assert not wrong
    assert {version for version, _ in seen} == {1, 2, 3, 4, 5}


@pytest.mark.asyncio
async def test_broken_policy_is_refused_and_logged_once(
    files: PolicyFiles, caplog: pytest.LogCaptureFixture
) -> None:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=1.0, settle=0.0)
    caplog.set_level(logging.ERROR, logger="gateway.authz")

    files.write_policy(TEST_POLICY.replace("p, user, *, *, chat, allow", "p, user, *, *, chatt, allow"))
    assert await reloader.check() is False
    assert authorizer.version == 1
    assert authorizer.decide("dinum", "portail", ("user",), "m", "chat").allowed, "old policy in force"
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert str(files.policy_file) in message and "line 5: unknown operation `chatt`" in message
    assert reloader.last_error is not None and "chatt" in reloader.last_error

    assert await reloader.check() is False
    assert len([record for record in caplog.records if record.levelno == logging.ERROR]) == 1

    files.write_policy(TEST_POLICY + DENY_SMALL)
    assert await reloader.check() is True
    assert authorizer.version == 2 and _error(reloader) is None
    assert not authorizer.decide(*COURRIER_SMALL).allowed


@pytest.mark.asyncio
async def test_broken_model_is_refused_by_the_watcher(
    files: PolicyFiles, watched: tuple[Authorizer, PolicyReloader], caplog: pytest.LogCaptureFixture
) -> None:
    authorizer, reloader = watched
    caplog.set_level(logging.ERROR, logger="gateway.authz")
    files.write_model("[request_definition]\nr = sub, obj\n")
    assert await async_wait_for(lambda: reloader.last_error is not None, 2.0)
    assert str(files.model_file) in (reloader.last_error or "")
    assert any(str(files.model_file) in record.getMessage() for record in caplog.records)
    assert authorizer.version == 1
    assert authorizer.decide(*COURRIER_SMALL).allowed
    assert not authorizer.decide(*NEVER_ALLOWED).allowed


@pytest.mark.asyncio
async def test_deleted_file_keeps_the_policy_in_force(files: PolicyFiles) -> None:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=1.0, settle=0.0)
    files.policy_file.unlink()
    assert await reloader.check() is False
    assert "no such file" in (reloader.last_error or "")
    assert authorizer.decide(*COURRIER_SMALL).allowed
    files.write_policy(TEST_POLICY)
    assert await reloader.check() is False, "back to the policy in force: nothing to reload"
    assert reloader.last_error is None and authorizer.version == 1


@pytest.mark.asyncio
async def test_reload_now_forces_a_reload_or_raises(files: PolicyFiles) -> None:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=0)
    reloader.start()
    assert not reloader.running, "interval 0 turns the watcher off"
    snapshot = await reloader.reload_now()
    assert snapshot is authorizer.snapshot and authorizer.version == 2

    files.write_policy("p, a, b, c, d\n")
    with pytest.raises(PolicyError, match="line 1"):
        await reloader.reload_now()
    assert authorizer.version == 2 and authorizer.snapshot is snapshot


@pytest.mark.asyncio
async def test_reload_drops_cached_decisions(files: PolicyFiles) -> None:
    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=0)
    assert authorizer.decide(*COURRIER_SMALL).allowed
    assert authorizer.snapshot.cached_decisions() == 1
    files.write_policy(TEST_POLICY + DENY_SMALL)
    await reloader.reload_now()
    assert authorizer.snapshot.cached_decisions() == 0
    assert not authorizer.decide(*COURRIER_SMALL).allowed


@pytest.mark.asyncio
async def test_stop_ends_the_watcher(watched: tuple[Authorizer, PolicyReloader]) -> None:
    _, reloader = watched
    assert _running(reloader)
    await reloader.stop()
    assert not _running(reloader)
    await reloader.stop()  # twice is harmless


@pytest.mark.asyncio
async def test_unexpected_failure_while_loading_is_refused_once(
    files: PolicyFiles, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    authorizer = Authorizer.from_files(files.model_file, files.policy_file)
    reloader = PolicyReloader(authorizer, interval=1.0, settle=0.0)
    monkeypatch.setattr(reloader_module, "compile_policy", explode)
    caplog.set_level(logging.ERROR, logger="gateway.authz")
    files.write_policy(TEST_POLICY + DENY_SMALL)
    assert await reloader.check() is False
    assert await reloader.check() is False
    assert "RuntimeError: disk on fire" in (reloader.last_error or "")
    assert len([record for record in caplog.records if record.levelno == logging.ERROR]) == 1
    assert authorizer.version == 1 and authorizer.decide(*COURRIER_SMALL).allowed
