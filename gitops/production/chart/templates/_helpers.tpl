{{/*
Names, labels and derived numbers shared by every template.
*/}}

{{/* Chart name, overridable. */}}
{{- define "webapp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, with the chart name
appended unless the release name already contains it. 63 characters at most,
the limit of a DNS label.
*/}}
{{- define "webapp.fullname" -}}
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

{{/* chart label value: name-version. */}}
{{- define "webapp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release (a selector is immutable). */}}
{{- define "webapp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webapp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The Kubernetes recommended labels. */}}
{{- define "webapp.labels" -}}
helm.sh/chart: {{ include "webapp.chart" . }}
{{ include "webapp.selectorLabels" . }}
app.kubernetes.io/version: {{ regexReplaceAll "^[-_.]+|[-_.]+$" (.Values.image.tag | trunc 63) "" | quote }}
app.kubernetes.io/component: web
app.kubernetes.io/part-of: {{ include "webapp.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the `helm test` pod. */}}
{{- define "webapp.testLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: {{ include "webapp.name" . }}
{{- end }}

{{- define "webapp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "webapp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret the pods read: the existing one, or the chart's own. */}}
{{- define "webapp.secretName" -}}
{{- default (include "webapp.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/* True (non-empty) when the pods read a Secret at all. */}}
{{- define "webapp.hasSecret" -}}
{{- if or .Values.secret.existingSecret .Values.secret.values }}true{{- end }}
{{- end }}

{{/*
Image reference from an image block {repository, tag, digest}: by digest when
one is given (the tag stays for people reading it), else by tag.
*/}}
{{- define "webapp.image" -}}
{{- if .digest }}
{{- printf "%s:%s@%s" .repository .tag .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{/*
Seconds the kubelet waits between SIGTERM and SIGKILL: the drain, then the
in-flight shutdown, then a margin.
*/}}
{{- define "webapp.terminationGracePeriodSeconds" -}}
{{- add .Values.drainSeconds .Values.shutdownTimeoutSeconds .Values.terminationGraceMarginSeconds }}
{{- end }}

{{/* Service annotation suffixes the chart derives from values; service.annotations may not override them. */}}
{{- define "webapp.managedLbAnnotations" -}}
type nlb-target-type scheme target-group-attributes healthcheck-protocol healthcheck-port healthcheck-path healthcheck-interval healthcheck-healthy-threshold healthcheck-unhealthy-threshold ssl-cert ssl-ports ssl-negotiation-policy
{{- end }}

{{/* NetworkPolicy egress rule: name resolution through the cluster DNS. */}}
{{- define "webapp.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{/* Whether the pods need a Kubernetes API token. */}}
{{- define "webapp.automountToken" -}}
{{- if or .Values.serviceAccount.automountToken .Values.rbac.rules }}true{{- else }}false{{- end }}
{{- end }}

{{/*
Cross-field rules a JSON schema cannot express. Each failure names the values
it is about, so a bad environment file is caught at render time.
*/}}
{{- define "webapp.validate" -}}
{{- $a := .Values.autoscaling }}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)" $a.minReplicas $a.maxReplicas) }}
{{- end }}
{{- if and (not .Values.service.tls.enabled) (eq (int .Values.service.httpPort) 0) }}
{{- fail "service.httpPort is 0 and service.tls.enabled is false: the load balancer would have no listener" }}
{{- end }}
{{- if and .Values.service.tls.enabled (eq (int .Values.service.httpPort) (int .Values.service.tls.port)) }}
{{- fail (printf "service.httpPort and service.tls.port are both %v: listeners need distinct ports" .Values.service.httpPort) }}
{{- end }}
{{- range $key, $_ := .Values.service.annotations }}
{{- if and (hasPrefix "service.beta.kubernetes.io/aws-load-balancer-" $key) (has (trimPrefix "service.beta.kubernetes.io/aws-load-balancer-" $key) (include "webapp.managedLbAnnotations" $ | splitList " ")) }}
{{- fail (printf "service.annotations: %s is set by the chart (from service.*, drainSeconds or the probes); change that value instead" $key) }}
{{- end }}
{{- end }}
{{- if and .Values.secret.existingSecret .Values.secret.values }}
{{- fail "secret.existingSecret and secret.values are both set: the chart either creates the Secret from values or uses the existing one, not both" }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) .Values.rbac.rules (not .Values.serviceAccount.name) }}
{{- fail "rbac.rules needs a ServiceAccount: set serviceAccount.create or serviceAccount.name" }}
{{- end }}
{{- end }}
