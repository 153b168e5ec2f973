"""Sovereign inference gateway: an OpenAI-compatible gateway in front of vLLM backends."""

from gateway.app import create_app
from gateway.config import GatewayConfig, load_config

__all__ = ["GatewayConfig", "__version__", "create_app", "load_config"]

__version__ = "0.1.0"
