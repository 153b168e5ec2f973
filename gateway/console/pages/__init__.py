"""The console's pages, one module each; `PAGE_ROUTES` lists their handlers."""

from gateway.console.pages.backends import backends_page
from gateway.console.pages.batches import BATCH_PAGES
from gateway.console.pages.department import DEPARTMENT_ROUTES
from gateway.console.pages.keys import KEY_ROUTES
from gateway.console.pages.overview import overview
from gateway.console.pages.policies import policies_page
from gateway.console.pages.requests import REQUEST_ROUTES

__all__ = ["PAGE_ROUTES"]

PAGE_ROUTES = [
    overview,
    *DEPARTMENT_ROUTES,
    *REQUEST_ROUTES,
    *KEY_ROUTES,
    *BATCH_PAGES,
    backends_page,
    policies_page,
]
