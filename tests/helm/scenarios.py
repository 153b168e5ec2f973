"""Representative values the chart is rendered with: what operators would really write."""

from __future__ import annotations

from typing import Any

__all__ = [
    "FIXED_REPLICAS",
    "MONITORING",
    "REDIS_CLUSTER",
    "REDIS_SENTINEL",
    "SCENARIOS",
    "SERVICE_MONITOR",
    "SEVERAL_BACKENDS",
]

Values = dict[str, Any]

# Three kinds of vLLM server: pods in the cluster behind a Service whose port 80 maps to the pods'
# 8000, a server given by its IP address, and a GPU node outside the cluster named by DNS. One of
# them serves two model names. Redis over TLS by IP, with an ACL user and a password; tracing to an
# in-cluster collector over gRPC; quotas with large budgets (they must stay integers).
SEVERAL_BACKENDS: Values = {
    "resources": {"requests": {"cpu": "4", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
    "server": {
        "trustedProxies": ["10.42.0.0/16"],
        "shutdownTimeoutSeconds": 120,
        "maxHeaderBytes": 65536,
        "bodyTimeoutSeconds": 120,
    },
    "backends": [
        {
            "name": "vllm-mistral-small",
            "url": "http://vllm-mistral-small.inference.svc.cluster.local",
            "weight": 2,
            "apiKeySecret": {"name": "vllm-keys", "key": "mistral-small"},
            "network": {
                "namespace": "inference",
                "podLabels": {"app.kubernetes.io/instance": "mistral-small"},
                "port": 8000,
            },
        },
        {"name": "vllm-embeddings", "url": "http://10.0.0.11:8001", "maxConcurrent": 64, "network": None},
        {
            "name": "gpu-node-3",
            "url": "https://gpu-node-3.dc1.internal:8443",
            "schedulingPolicy": "priority",
            "apiKeySecret": {"name": "vllm-keys", "key": "gpu-node-3"},
            "network": {"cidr": "10.20.3.0/28"},
        },
    ],
    "models": [
        {
            "name": "mistral-small",
            "backends": ["vllm-mistral-small", "gpu-node-3"],
            "timeouts": {"first_byte": 300, "total": 1800},
            "routing": {"max_attempts": 2},
        },
        {"name": "mistral-small-long-context", "backends": ["gpu-node-3"]},
        {"name": "bge-m3", "backends": ["vllm-embeddings"], "kind": "embedding"},
    ],
    "redis": {
        "url": "rediss://gateway@10.0.5.20:6380/2",
        "passwordSecret": {"name": "redis-gateway", "key": "password"},
        "prefix": "sgw-prod",
        "network": None,
    },
    "tracing": {
        "enabled": True,
        "endpoint": "http://otel-collector.observability.svc.cluster.local:4317",
        "protocol": "grpc",
        # Merged by helm with the default namespace.
        "network": {"podLabels": {"app.kubernetes.io/name": "opentelemetry-collector"}},
    },
    "config": {
        "health": {"interval": 10},
        "quotas": {
            "departments": {"dgfip": {"tokens_per_month": 50_000_000, "requests_per_minute": 600}},
            "services": {"dgfip/assistant-courrier": {"tokens_per_day": 1_000_000, "max_concurrent": 20}},
        },
        "pii": {"mode": "pseudonymize", "rules": [{"department": "dgfip", "entities": {"FR_NIR": "block"}}]},
        "audit": {"enabled": True},
        "auth": {"failed_auth_per_minute": 50},
        "admission": {"departments": {"dgfip": "interactive"}, "weights": {"dgfip": 2}},
    },
    "networkPolicy": {"ingress": {"namespaces": ["open-webui", "ingress-nginx"]}},
}

# Prometheus operator scraping with a bearer token, Prometheus pods selected by label.
SERVICE_MONITOR: Values = {
    "metrics": {
        "tokenSecret": {"name": "gateway-metrics", "key": "token"},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "networkPolicy": {"monitoring": {"podLabels": {"app.kubernetes.io/name": "prometheus"}}},
}

# A fixed number of pods, without autoscaler or disruption budget.
FIXED_REPLICAS: Values = {
    "autoscaling": {"enabled": False},
    "replicaCount": 3,
    "podDisruptionBudget": {"enabled": False},
    "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}},
}

# A Redis Cluster of three pods in the namespace `redis` (the default of redis.network, merged with the
# labels given here), found through a headless Service's pod names, over TLS with an ACL user.
REDIS_CLUSTER: Values = {
    "redis": {
        "mode": "cluster",
        "url": "rediss://gateway@/0",
        "passwordSecret": {"name": "redis-gateway", "key": "password"},
        "network": {"podLabels": {"app.kubernetes.io/name": "redis-cluster"}},
        "cluster": {
            "nodes": [
                "redis-cluster-0.redis-cluster-headless.redis.svc.cluster.local:6379",
                "redis-cluster-1.redis-cluster-headless.redis.svc.cluster.local:6379",
                "redis-cluster-2.redis-cluster-headless.redis.svc.cluster.local:6379",
            ]
        },
    },
}

# A master and replicas watched by three Sentinels (the Bitnami chart's layout: the Sentinels run next
# to Redis in the same pods, on 26379), with a password for Redis and another for the Sentinels.
REDIS_SENTINEL: Values = {
    "redis": {
        "mode": "sentinel",
        "url": None,
        "passwordSecret": {"name": "redis-gateway", "key": "password"},
        "network": {"podLabels": {"app.kubernetes.io/name": "redis"}},
        "sentinel": {
            "masterName": "mymaster",
            "addresses": [
                "redis-node-0.redis-headless.redis.svc.cluster.local:26379",
                "redis-node-1.redis-headless.redis.svc.cluster.local:26379",
                "redis-node-2.redis-headless.redis.svc.cluster.local:26379",
            ],
            "passwordSecret": {"name": "redis-gateway", "key": "sentinel-password"},
        },
    },
}

# Prometheus operator scraping, its alerting rules, and the Grafana dashboard for the sidecar.
MONITORING: Values = {
    "metrics": {
        "tokenSecret": {"name": "gateway-metrics", "key": "token"},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Gateway"}},
    },
}

SCENARIOS: dict[str, Values] = {
    "defaults": {},
    "several-backends": SEVERAL_BACKENDS,
    "service-monitor": SERVICE_MONITOR,
    "monitoring": MONITORING,
    "fixed-replicas": FIXED_REPLICAS,
    "redis-cluster": REDIS_CLUSTER,
    "redis-sentinel": REDIS_SENTINEL,
}
