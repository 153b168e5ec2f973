"""Choosing a backend for each request: load, prefix affinity and health."""

from gateway.routing.backend import Backend
from gateway.routing.health import HealthMonitor
from gateway.routing.pool import ModelPool, build_pools

__all__ = ["Backend", "HealthMonitor", "ModelPool", "build_pools"]
