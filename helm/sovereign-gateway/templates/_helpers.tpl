{{/* Names, labels and small computations shared by the templates. */}}

{{- define "sovereign-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sovereign-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sovereign-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sovereign-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sovereign-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sovereign-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sovereign-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sovereign-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sovereign-gateway.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Worker processes per pod: one per whole CPU requested, at least one. Values may hold the request as a
number (2, 1.5) or a quantity string ("2", "1500m").
*/}}
{{- define "sovereign-gateway.workers" -}}
{{- $cpu := toString .Values.resources.requests.cpu -}}
{{- $millicores := 0 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $millicores = trimSuffix "m" $cpu | atoi -}}
{{- else -}}
{{- $millicores = mulf (float64 $cpu) 1000 | int -}}
{{- end -}}
{{- max 1 (div $millicores 1000) -}}
{{- end -}}

{{/* Seconds Kubernetes waits after asking a pod to stop: the preStop sleep, the drain, the flush. */}}
{{- define "sovereign-gateway.terminationGracePeriodSeconds" -}}
{{- $server := .Values.server -}}
{{- add (int $server.preStopSleepSeconds) (int $server.shutdownTimeoutSeconds) (int $server.shutdownMarginSeconds) -}}
{{- end -}}

{{/* Environment variable holding a backend's API key: VLLM_API_KEY_ and its name in capitals. */}}
{{- define "sovereign-gateway.backendKeyEnv" -}}
{{- printf "VLLM_API_KEY_%s" (. | upper | replace "-" "_") -}}
{{- end -}}

{{/*
The TCP port a URL names, or its scheme's usual one. Argument: (list URL DEFAULT-PORT-BY-SCHEME-DICT).
*/}}
{{- define "sovereign-gateway.urlPort" -}}
{{- $url := urlParse (index . 0) -}}
{{- $explicit := regexFind ":[0-9]+$" $url.host | trimPrefix ":" -}}
{{- if $explicit -}}
{{- $explicit -}}
{{- else -}}
{{- index (index . 1) $url.scheme -}}
{{- end -}}
{{- end -}}

{{/*
One NetworkPolicy egress rule towards a server named by a URL. Argument: a dict with
  what:    how error messages name the server (e.g. "backends[vllm-a]")
  url:     its URL
  network: its `network` value (cidr, or namespace and/or podLabels; port)
  ports:   default port per URL scheme
A server given by an IPv4 address needs no `network`: its /32 is used.
*/}}
{{- define "sovereign-gateway.egressRule" -}}
{{- $network := .network | default dict -}}
{{- $host := (urlParse .url).hostname -}}
{{- $port := $network.port | default (include "sovereign-gateway.urlPort" (list .url .ports)) -}}
{{- $peer := dict -}}
{{- if and $network.cidr (or $network.namespace $network.podLabels) -}}
{{- fail (printf "%s: network.cidr and network.namespace/podLabels exclude each other: set the one you do not use to null" .what) -}}
{{- end -}}
{{- if $network.cidr -}}
{{- $_ := set $peer "ipBlock" (dict "cidr" $network.cidr) -}}
{{- else if or $network.namespace $network.podLabels -}}
{{- $_ := set $peer "podSelector" (dict "matchLabels" ($network.podLabels | default dict)) -}}
{{- if $network.namespace -}}
{{- $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" $network.namespace)) -}}
{{- end -}}
{{- else if regexMatch "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$" $host -}}
{{- $_ := set $peer "ipBlock" (dict "cidr" (printf "%s/32" $host)) -}}
{{- else -}}
{{- fail (printf "%s: the NetworkPolicy cannot tell where %s is: set its network.cidr, or network.namespace and/or network.podLabels" .what .url) -}}
{{- end -}}
{{- toYaml (list (dict "to" (list $peer) "ports" (list (dict "protocol" "TCP" "port" (int $port))))) -}}
{{- end -}}

{{/*
The egress rules towards Redis, for redis.mode:
  standalone: the server of redis.url;
  sentinel:   every Redis server that may become the master (redis.network, required: the address
              comes from the Sentinels at run time) and every Sentinel address, on its own port;
  cluster:    every node address listed (redis.url's and redis.cluster.nodes), on its own port.
Rules that come out the same (several nodes matched by one selector on one port) are written once.
*/}}
{{- define "sovereign-gateway.redisEgress" -}}
{{- $redis := .Values.redis -}}
{{- $network := $redis.network | default dict -}}
{{- $ports := dict "redis" 6379 "rediss" 6379 -}}
{{- $rules := list -}}
{{- if eq $redis.mode "sentinel" -}}
{{- if not (or $network.cidr $network.namespace $network.podLabels) -}}
{{- fail "redis.network: with mode sentinel the Sentinels name the master, which may be any of the Redis servers: give redis.network (cidr, or namespace and/or podLabels) so that the NetworkPolicy lets the gateway reach them all" -}}
{{- end -}}
{{- $rules = concat $rules (include "sovereign-gateway.egressRule" (dict "what" "redis" "url" (printf "redis://%s" $redis.sentinel.masterName) "network" $network "ports" $ports) | fromYamlArray) -}}
{{- $sentinelNetwork := $redis.sentinel.network | default (omit $network "port") -}}
{{- range $redis.sentinel.addresses -}}
{{- $rules = concat $rules (include "sovereign-gateway.egressRule" (dict "what" "redis.sentinel" "url" (printf "redis://%s" .) "network" $sentinelNetwork "ports" $ports) | fromYamlArray) -}}
{{- end -}}
{{- else -}}
{{- $urls := list -}}
{{- if and $redis.url (ne (urlParse $redis.url).host "") -}}
{{- $urls = append $urls $redis.url -}}
{{- end -}}
{{- if eq $redis.mode "cluster" -}}
{{- range $redis.cluster.nodes -}}
{{- $urls = append $urls (printf "redis://%s" .) -}}
{{- end -}}
{{- end -}}
{{- range $urls -}}
{{- $rules = concat $rules (include "sovereign-gateway.egressRule" (dict "what" "redis" "url" . "network" $network "ports" $ports) | fromYamlArray) -}}
{{- end -}}
{{- end -}}
{{- toYaml ($rules | uniq) -}}
{{- end -}}
