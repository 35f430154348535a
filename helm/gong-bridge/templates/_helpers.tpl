{{/*
Names are cut to 63 characters because Kubernetes label values and DNS names allow no more.
*/}}
{{- define "gong-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gong-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gong-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gong-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gong-bridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gong-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: bridge
app.kubernetes.io/part-of: gong-bridge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gong-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gong-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gong-bridge.secretName" -}}
{{- default (include "gong-bridge.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "gong-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The most replicas the chart can run: KEDA's ceiling when it scales, replicaCount otherwise.
Without Redis each replica takes rate / GONG_EXPECTED_REPLICAS, so using the ceiling keeps the
account under its quota at any scale.
*/}}
{{- define "gong-bridge.maxReplicas" -}}
{{- if .Values.keda.enabled }}{{ .Values.keda.maxReplicaCount | int }}{{ else }}{{ .Values.replicaCount | int }}{{ end }}
{{- end }}

{{/*
Renders one setting as the string the bridge parses. Helm reads every YAML number as a float64,
which would print 1048576 as 1.048576e+06, so whole numbers are printed as integers. Lists become
the comma-separated form the bridge expects.
*/}}
{{- define "gong-bridge.envValue" -}}
{{- $v := . }}
{{- if kindIs "slice" $v }}
{{- join "," $v }}
{{- else if kindIs "float64" $v }}
{{- if eq (floor $v) $v }}{{ int64 $v }}{{ else }}{{ $v }}{{ end }}
{{- else if kindIs "invalid" $v }}
{{- else }}
{{- $v | toString }}
{{- end }}
{{- end }}

{{/*
The drain time in whole seconds, from SHUTDOWN_TIMEOUT_MS or the bridge's default (30000 ms).
*/}}
{{- define "gong-bridge.drainSeconds" -}}
{{- $ms := 30000 }}
{{- if and (hasKey .Values.config "SHUTDOWN_TIMEOUT_MS") (not (kindIs "invalid" .Values.config.SHUTDOWN_TIMEOUT_MS)) }}
{{- $ms = .Values.config.SHUTDOWN_TIMEOUT_MS | int64 }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/*
NODE_OPTIONS for the container: the heap bounds, then nodeOptions. Empty when there is nothing
to set.
*/}}
{{- define "gong-bridge.nodeOptions" -}}
{{- $options := list }}
{{- with .Values.heap.maxOldSpaceMiB }}
{{- $options = append $options (printf "--max-old-space-size=%d" (int .)) }}
{{- end }}
{{- with .Values.heap.maxSemiSpaceMiB }}
{{- $options = append $options (printf "--max-semi-space-size=%d" (int .)) }}
{{- end }}
{{- with .Values.nodeOptions }}
{{- $options = append $options . }}
{{- end }}
{{- join " " $options }}
{{- end }}

{{/*
resources.limits.memory in MiB when it is written in Mi or Gi (the usual forms); empty otherwise.
*/}}
{{- define "gong-bridge.memoryLimitMiB" -}}
{{- $limit := toString (dig "limits" "memory" "" (.Values.resources | default dict)) }}
{{- if regexMatch "^[0-9]+Mi$" $limit }}
{{- trimSuffix "Mi" $limit }}
{{- else if regexMatch "^[0-9]+Gi$" $limit }}
{{- mul (trimSuffix "Gi" $limit | int) 1024 }}
{{- end }}
{{- end }}

{{/*
Checks the schema cannot express because they span several values.
*/}}
{{- /*
The mapping file's text (mappings.file given as YAML text or as a map), or empty without one.
*/}}
{{- define "gong-bridge.mappingsFile" -}}
{{- $file := .Values.mappings.file }}
{{- if kindIs "map" $file }}
{{- if $file }}{{ toYaml $file }}{{ end }}
{{- else }}
{{- $file | default "" | trim }}
{{- end }}
{{- end }}

{{- /*
The ConfigMap holding mappings.yaml: the chart's own, the one named in existingConfigMap, or
empty when there are no mappings.
*/}}
{{- define "gong-bridge.mappingsConfigMap" -}}
{{- if .Values.mappings.existingConfigMap }}
{{- .Values.mappings.existingConfigMap }}
{{- else if include "gong-bridge.mappingsFile" . }}
{{- include "gong-bridge.fullname" . }}-mappings
{{- end }}
{{- end }}

{{- define "gong-bridge.validate" -}}
{{- if and .Values.mappings.existingConfigMap (include "gong-bridge.mappingsFile" .) }}
{{- fail "mappings.existingConfigMap and mappings.file are both set: keep the file in your ConfigMap, or leave existingConfigMap empty to have the chart create one" }}
{{- end }}
{{- if and .Values.mappings.schemas (not (include "gong-bridge.mappingsFile" .)) }}
{{- fail "mappings.schemas is set without mappings.file: the schemas are the writer schemas a mapping file names (put them in your existingConfigMap when you use one)" }}
{{- end }}
{{- if and (include "gong-bridge.mappingsConfigMap" .) .Values.config.MAPPINGS_FILE }}
{{- fail "config.MAPPINGS_FILE and mappings are both set: the chart sets MAPPINGS_FILE to the mounted mappings; leave config.MAPPINGS_FILE empty" }}
{{- end }}
{{- if and .Values.secret.existingSecret (gt (len (compact (values .Values.secret.values))) 0) }}
{{- fail "secret.existingSecret and secret.values are both set: keep the values in the existing Secret, or leave existingSecret empty to have the chart create one" }}
{{- end }}
{{- if .Values.keda.enabled }}
{{- if gt (.Values.keda.maxReplicaCount | int) (.Values.keda.partitionCount | int) }}
{{- fail (printf "keda.maxReplicaCount (%d) exceeds keda.partitionCount (%d): consumers beyond the partition count get no partition and sit idle" (.Values.keda.maxReplicaCount | int) (.Values.keda.partitionCount | int)) }}
{{- end }}
{{- if gt (.Values.keda.minReplicaCount | int) (.Values.keda.maxReplicaCount | int) }}
{{- fail (printf "keda.minReplicaCount (%d) exceeds keda.maxReplicaCount (%d)" (.Values.keda.minReplicaCount | int) (.Values.keda.maxReplicaCount | int)) }}
{{- end }}
{{- end }}
{{- if .Values.podDisruptionBudget.enabled }}
{{- if eq (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) }}
{{- fail "podDisruptionBudget: set exactly one of maxUnavailable and minAvailable (use null for the other)" }}
{{- end }}
{{- end }}
{{- with include "gong-bridge.memoryLimitMiB" . }}
{{- $heapMiB := add ($.Values.heap.maxOldSpaceMiB | int) (mul 3 ($.Values.heap.maxSemiSpaceMiB | int)) }}
{{- if and $.Values.heap.maxOldSpaceMiB (ge $heapMiB (. | int)) }}
{{- fail (printf "heap.maxOldSpaceMiB (%d) plus the young generation (3 x heap.maxSemiSpaceMiB) reaches resources.limits.memory (%s Mi): the pod would be OOM-killed before V8 collects; keep maxOldSpaceMiB near 75%% of the limit" ($.Values.heap.maxOldSpaceMiB | int) .) }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.secret.values }}
{{- if and $value (get $.Values.config (printf "%s_FILE" $name)) }}
{{- fail (printf "secret.values.%s and config.%s_FILE are both set; the bridge accepts only one" $name $name) }}
{{- end }}
{{- end }}
{{- end }}
