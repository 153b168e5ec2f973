"""`ConsolePlugin`: puts the console on the gateway's application when `console.enabled` is true.

    Litestar(..., plugins=[ConsolePlugin(config.console)] if config.console.enabled else [])

It adds a router under `/console` (the pages, with the CSRF guard and HTML error pages of their own,
so the OpenAI and admin APIs keep their JSON errors and are not behind the guard), the static files
under `/console/static`, the Jinja2 templates, and `app.state.console`, started after the gateway.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.plugins import InitPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from gateway.console.auth import AUTH_ROUTES
from gateway.console.csrf import csrf_guard
from gateway.console.oidc_signin import OIDC_ROUTES
from gateway.console.pages import PAGE_ROUTES
from gateway.console.render import BASE, error_handlers
from gateway.console.settings import ConsoleConfig
from gateway.console.state import Console

__all__ = ["ConsolePlugin"]

_HERE = Path(__file__).resolve().parent
TEMPLATES = _HERE / "templates"
STATIC = _HERE / "static"


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class ConsolePlugin(InitPlugin):
    """Mounts the console on the app being built."""

    __slots__ = ("_console",)

    def __init__(self, settings: ConsoleConfig) -> None:
        self._console = Console(settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        console = self._console
        router = Router(
            path=BASE,
            route_handlers=[*AUTH_ROUTES, *OIDC_ROUTES, *PAGE_ROUTES],
            guards=[csrf_guard],
            exception_handlers=error_handlers(),
            include_in_schema=False,
        )
        static = create_static_files_router(
            path=f"{BASE}/static",
            directories=[STATIC],
            name="console-static",
            cache_control=CacheControlHeader(max_age=3600, private=True),
            include_in_schema=False,
        )
        app_config.route_handlers.extend([router, static])
        app_config.template_config = TemplateConfig(
            instance=JinjaTemplateEngine.from_environment(_environment())
        )
        app_config.state["console"] = console

        def start_console(app: Litestar) -> None:
            console.start(app.state.worker)

        app_config.on_startup.append(start_console)
        return app_config
