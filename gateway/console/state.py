"""What one worker keeps for the console: its settings and the session codec, nothing per person."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.console.identity_providers import ConsoleProvider, console_providers
from gateway.console.sessions import SessionCodec, derive_secret
from gateway.console.settings import ConsoleConfig
from gateway.console.usage import CellsCache
from gateway.identity import admin_key_for, read_secret
from gateway.identity.errors import CredentialError
from gateway.state import AnyRequest
from gateway.worker import Worker

__all__ = ["Console", "console_of"]


class Console:
    """The console of one worker. `start` runs once the worker has started (it needs the pepper)."""

    def __init__(self, settings: ConsoleConfig) -> None:
        self.settings = settings
        self._codec: SessionCodec | None = None
        self.admin_fingerprint: str | None = None
        """The bootstrap admin key's fingerprint while one is configured."""
        self.usage = CellsCache(settings.usage_cache_seconds)
        """Usage figures read recently, shared by this worker's pages."""
        self.providers: Mapping[str, ConsoleProvider] = {}
        """The identity providers people sign in with, by name."""

    def start(self, worker: Worker) -> None:
        """Load the signing secret (or derive it from the pepper) and the providers' client secrets; a
        secret too short or missing stops the start."""
        secret_text = read_secret(self.settings.secret_env)
        if secret_text is not None:
            secret = secret_text.encode("utf-8")
            if len(secret) < 32:
                raise CredentialError(
                    f"{self.settings.secret_env}: the console secret must be at least 32 bytes"
                )
        else:
            secret = derive_secret(worker.pepper.reveal())
        self._codec = SessionCodec(secret)
        self.providers = console_providers(
            self.settings.oidc_providers, worker.identity_client, worker.gateway.metrics
        )
        admin_key = admin_key_for(worker.gateway.config.auth)
        self.admin_fingerprint = (
            self._codec.fingerprint(admin_key.reveal()) if admin_key is not None else None
        )

    @property
    def codec(self) -> SessionCodec:
        assert self._codec is not None, "the console has not started"
        return self._codec


def console_of(request: AnyRequest) -> Console:
    console: Console = request.app.state.console
    return console
