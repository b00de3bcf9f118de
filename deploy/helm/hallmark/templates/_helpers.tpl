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
