{{/*
The gateway's configuration file (docs/configuration.md), built as a dict and written with toYaml:
toYaml keeps large integers whole (50000000, not 5e+07), which printing numbers one by one would not.
Paths of mounted files and names of secret variables are fixed here, where the Deployment mounts and
sets them.
*/}}

{{- define "sovereign-gateway.configDirectory" -}}/etc/gateway/config{{- end -}}
{{- define "sovereign-gateway.policyDirectory" -}}/etc/gateway/policies{{- end -}}
{{- define "sovereign-gateway.metricsDirectory" -}}/var/run/gateway/metrics{{- end -}}
{{- define "sovereign-gateway.batchFilesDirectory" -}}/var/lib/gateway/files{{- end -}}
{{- define "sovereign-gateway.pepperEnv" -}}GATEWAY_KEY_PEPPER{{- end -}}
{{- define "sovereign-gateway.adminKeyEnv" -}}GATEWAY_ADMIN_KEY{{- end -}}
{{- define "sovereign-gateway.redisPasswordEnv" -}}GATEWAY_REDIS_PASSWORD{{- end -}}
{{- define "sovereign-gateway.sentinelPasswordEnv" -}}GATEWAY_REDIS_SENTINEL_PASSWORD{{- end -}}
{{- define "sovereign-gateway.metricsTokenEnv" -}}GATEWAY_METRICS_TOKEN{{- end -}}

{{- define "sovereign-gateway.backendsByName" -}}
{{- $byName := dict -}}
{{- range .Values.backends -}}
{{- if hasKey $byName .name -}}
{{- fail (printf "backends: %s is listed twice" .name) -}}
{{- end -}}
{{- if regexMatch "/v1/?$" .url -}}
{{- fail (printf "backends[%s].url: give the server's base URL without /v1 (the gateway adds the API path)" .name) -}}
{{- end -}}
{{- $entry := dict "url" .url -}}
{{- if .weight -}}{{- $_ := set $entry "weight" .weight -}}{{- end -}}
{{- if .maxConcurrent -}}{{- $_ := set $entry "max_concurrent" .maxConcurrent -}}{{- end -}}
{{- if .schedulingPolicy -}}{{- $_ := set $entry "scheduling_policy" .schedulingPolicy -}}{{- end -}}
{{- if .apiKeySecret -}}{{- $_ := set $entry "api_key_env" (include "sovereign-gateway.backendKeyEnv" .name) -}}{{- end -}}
{{- $_ := set $byName .name $entry -}}
{{- end -}}
{{- toJson $byName -}}
{{- end -}}

{{- define "sovereign-gateway.models" -}}
{{- $backends := include "sovereign-gateway.backendsByName" . | fromJson -}}
{{- $models := list -}}
{{- range .Values.models -}}
{{- $model := dict "name" .name "backends" list -}}
{{- range .backends -}}
{{- if not (hasKey $backends .) -}}
{{- fail (printf "models: backend %s is not in `backends`" .) -}}
{{- end -}}
{{- $_ := set $model "backends" (append $model.backends (get $backends .)) -}}
{{- end -}}
{{- if .kind -}}{{- $_ := set $model "kind" .kind -}}{{- end -}}
{{- if .operations -}}{{- $_ := set $model "operations" .operations -}}{{- end -}}
{{- if .timeouts -}}{{- $_ := set $model "timeouts" .timeouts -}}{{- end -}}
{{- if .routing -}}{{- $_ := set $model "routing" .routing -}}{{- end -}}
{{- $models = append $models $model -}}
{{- end -}}
{{- toJson $models -}}
{{- end -}}

{{/*
The `store` section (docs/configuration.md, store): the Redis of redis.mode. What the values schema
cannot say (which keys each mode needs) is refused here, with a sentence.
*/}}
{{- define "sovereign-gateway.store" -}}
{{- $redis := .Values.redis -}}
{{- $url := $redis.url | default "" -}}
{{- if regexMatch "^rediss?://[^/@]*:[^/@]*@" $url -}}
{{- fail "redis.url must not contain a password: give it in redis.passwordSecret" -}}
{{- end -}}
{{- $hasHost := and $url (ne (urlParse $url).host "") -}}
{{- $store := dict "kind" "redis" "redis_mode" $redis.mode "prefix" $redis.prefix "timeout" $redis.timeout -}}
{{- if $url -}}{{- $_ := set $store "url" $url -}}{{- end -}}
{{- if $redis.passwordSecret -}}
{{- $_ := set $store "password_env" (include "sovereign-gateway.redisPasswordEnv" .) -}}
{{- end -}}
{{- if eq $redis.mode "standalone" -}}
{{- if not $hasHost -}}
{{- fail "redis.url: mode standalone needs the server's URL, e.g. redis://redis.redis.svc.cluster.local:6379/0" -}}
{{- end -}}
{{- else if eq $redis.mode "sentinel" -}}
{{- if not $redis.sentinel.addresses -}}
{{- fail "redis.sentinel.addresses: mode sentinel needs host:port of every Sentinel" -}}
{{- end -}}
{{- if $hasHost -}}
{{- fail "redis.url: with mode sentinel the Sentinels name the master: set redis.url to null, or give only the scheme, user and database (rediss://gateway@/0)" -}}
{{- end -}}
{{- $_ := set $store "sentinels" $redis.sentinel.addresses -}}
{{- $_ := set $store "sentinel_master" $redis.sentinel.masterName -}}
{{- if $redis.sentinel.passwordSecret -}}
{{- $_ := set $store "sentinel_password_env" (include "sovereign-gateway.sentinelPasswordEnv" .) -}}
{{- end -}}
{{- else -}}
{{- if not (or $hasHost $redis.cluster.nodes) -}}
{{- fail "redis.cluster.nodes: mode cluster needs nodes to discover the cluster from (host:port), or a redis.url with a host" -}}
{{- end -}}
{{- if regexMatch "/0*[1-9][0-9]*$" $url -}}
{{- fail "redis.url: a Redis Cluster has only database 0: end the URL with /0 or nothing" -}}
{{- end -}}
{{- if $redis.cluster.nodes -}}{{- $_ := set $store "cluster_nodes" $redis.cluster.nodes -}}{{- end -}}
{{- end -}}
{{- toJson $store -}}
{{- end -}}

{{- define "sovereign-gateway.config" -}}
{{- $values := .Values -}}
{{- $config := deepCopy ($values.config | default dict) -}}
{{- $auth := $config.auth | default dict -}}
{{- range list "pepper_env" "admin_key_env" -}}
{{- if hasKey $auth . -}}
{{- fail (printf "config.auth.%s is set by the chart: give the secret in `secrets` instead" .) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $auth "pepper_env" (include "sovereign-gateway.pepperEnv" .) -}}
{{- $_ = set $auth "admin_key_env" (include "sovereign-gateway.adminKeyEnv" .) -}}
{{- $_ = set $config "auth" $auth -}}
{{- $_ = set $config "server" (dict
  "host" "0.0.0.0"
  "port" $values.server.port
  "workers" (include "sovereign-gateway.workers" . | int)
  "max_body_bytes" $values.server.maxBodyBytes
  "max_header_bytes" $values.server.maxHeaderBytes
  "header_timeout_seconds" $values.server.headerTimeoutSeconds
  "body_timeout_seconds" $values.server.bodyTimeoutSeconds
  "shutdown_timeout_seconds" $values.server.shutdownTimeoutSeconds
  "trusted_proxies" $values.server.trustedProxies) -}}
{{- $_ = set $config "models" (include "sovereign-gateway.models" . | fromJsonArray) -}}
{{- $_ = set $config "store" (include "sovereign-gateway.store" . | fromJson) -}}
{{- $policyDirectory := include "sovereign-gateway.policyDirectory" . -}}
{{- $_ = set $config "policy" (dict
  "model_file" (printf "%s/model.conf" $policyDirectory)
  "policy_file" (printf "%s/policy.csv" $policyDirectory)
  "reload_interval" $values.policy.reloadIntervalSeconds
  "decision_cache_size" $values.policy.decisionCacheSize) -}}
{{- $_ = set $config "tracing" (dict
  "enabled" $values.tracing.enabled
  "trust_incoming_traceparent" $values.tracing.trustIncomingTraceparent
  "record_content" $values.tracing.recordContent) -}}
{{- if regexMatch "^/v1(/|$)" $values.metrics.path -}}
{{- fail "metrics.path must be outside /v1, e.g. /metrics" -}}
{{- end -}}
{{- $metrics := dict "enabled" $values.metrics.enabled "path" $values.metrics.path "multiprocess_directory" (include "sovereign-gateway.metricsDirectory" .) -}}
{{- if and $values.metrics.tokenSecret $values.metrics.allowAnonymous -}}
{{- fail "metrics: give tokenSecret or allowAnonymous: true, not both" -}}
{{- end -}}
{{- if $values.metrics.tokenSecret -}}
{{- $_ = set $metrics "token_env" (include "sovereign-gateway.metricsTokenEnv" .) -}}
{{- end -}}
{{- if $values.metrics.allowAnonymous -}}
{{- $_ = set $metrics "allow_anonymous" true -}}
{{- end -}}
{{- $_ = set $config "metrics" $metrics -}}
{{- $batches := $config.batches | default dict -}}
{{- if or (hasKey $batches "directory") (hasKey $batches "enabled") -}}
{{- fail "config.batches.directory and .enabled are set by the chart: use `batches` instead" -}}
{{- end -}}
{{- $_ = set $batches "enabled" $values.batches.enabled -}}
{{- $_ = set $batches "directory" (include "sovereign-gateway.batchFilesDirectory" .) -}}
{{- $_ = set $config "batches" $batches -}}
{{- toYaml $config -}}
{{- end -}}
