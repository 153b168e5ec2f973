"""A fast, faithful simulator of vLLM 0.32's OpenAI-compatible server.

Public interface (the gateway depends on exactly this):

- ``SimulatorSettings``: the frozen configuration;
- ``create_app(settings)``: a plain ASGI callable serving one simulated vLLM;
- ``main(argv)``: the ``gateway sim`` command line (runs uvicorn, returns 0 on a clean stop).
"""

from backends.simulator.app import create_app
from backends.simulator.cli import main
from backends.simulator.settings import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app", "main"]
