{{- define "hallmark.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hallmark.labels" -}}
{{ include "hallmark.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hallmark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hallmark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The service's DNS name, which the serving certificate is for. */}}
{{- define "hallmark.serviceHost" -}}
{{- printf "%s.%s.svc" (include "hallmark.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Namespaces the webhooks never see: hallmark's own (so it never blocks
its own pods), kube-system, and the user's list. */}}
{{- define "hallmark.excludedNamespaces" -}}
{{- $ns := list .Release.Namespace "kube-system" -}}
{{- range .Values.webhook.excludeNamespaces -}}{{- $ns = append $ns . -}}{{- end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

{{- define "hallmark.tlsSecretName" -}}
{{- printf "%s-tls" (include "hallmark.fullname" .) -}}
{{- end -}}

{{/*
GOMEMLIMIT, the Go runtime's soft memory limit: goMemLimit if set, else 90 %
of resources.limits.memory, leaving a tenth of the container's memory to what
the Go heap does not count (goroutine stacks, the binary's own pages, kernel
buffers). Empty without a memory limit. The limit must be an integer quantity
(256Mi, 1Gi, 300M); set goMemLimit for any other spelling.
*/}}
{{- define "hallmark.goMemLimit" -}}
{{- if .Values.goMemLimit -}}
{{- .Values.goMemLimit -}}
{{- else -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) | toString -}}
{{- if $limit -}}
{{- $num := regexFind "^[0-9]+" $limit -}}
{{- $unit := trimPrefix $num $limit -}}
{{- $scale := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 -}}
{{- if or (not $num) (not (hasKey $scale $unit)) -}}
{{- fail (printf "resources.limits.memory %q: write it as an integer with Ki, Mi, Gi, k, M or G (e.g. 256Mi), or set goMemLimit (e.g. 230MiB) yourself" $limit) -}}
{{- end -}}
{{- $bytes := mul (int64 $num) (get $scale $unit) -}}
{{- $mib := div (mul $bytes 9) 10485760 -}}
{{- if gt $mib 0 }}{{ printf "%dMiB" $mib }}{{ else }}{{ div (mul $bytes 9) 10 }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
