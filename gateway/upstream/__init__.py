"""Talking to backends: the pooled client, forwarding with retries, relaying streams."""

from gateway.upstream.client import create_upstream_client, create_upstream_transport
from gateway.upstream.forward import Forwarder
from gateway.upstream.relay import StreamRelay

__all__ = ["Forwarder", "StreamRelay", "create_upstream_client", "create_upstream_transport"]
