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

{{/* Where the Secret's files are mounted (SERVICE_SECRETS_DIR). */}}
{{- define "webapp.secretsDir" -}}
/etc/webapp/secrets
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

{{/* Ingress annotation suffixes the chart derives from values; ingress.annotations may not override them. */}}
{{- define "webapp.managedIngressAnnotations" -}}
scheme group.name target-type listen-ports ssl-redirect certificate-arn ssl-policy wafv2-acl-arn wafv2-acl-name waf-acl-id web-acl-id inbound-cidrs healthcheck-protocol healthcheck-port healthcheck-path healthcheck-interval-seconds healthcheck-timeout-seconds healthy-threshold-count unhealthy-threshold-count success-codes target-group-attributes load-balancer-attributes
{{- end }}

{{/* The ALB's port of the service: plain HTTP inside the cluster. */}}
{{- define "webapp.servicePort" -}}
{{- ternary .Values.service.httpPort .Values.service.tls.port (gt (int .Values.service.httpPort) 0) | int }}
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

{{/*
Whether the pods carry a Kubernetes API token: only when asked. rbac.rules
bounds what the service account may do; the token is what lets a pod do it,
and the service needs none (its config and secrets arrive as files).
*/}}
{{- define "webapp.automountToken" -}}
{{- if .Values.serviceAccount.automountToken }}true{{- else }}false{{- end }}
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
{{- $nlb := eq .Values.service.type "LoadBalancer" }}
{{- if and $nlb (not .Values.service.tls.enabled) (eq (int .Values.service.httpPort) 0) }}
{{- fail "service.httpPort is 0 and service.tls.enabled is false: the load balancer would have no listener" }}
{{- end }}
{{- if and (not $nlb) .Values.service.tls.enabled }}
{{- fail "service.tls.enabled needs service.type LoadBalancer: TLS ends at the NLB, and a ClusterIP Service has none (behind the Ingress, TLS ends at the ALB: ingress.certificateArn)" }}
{{- end }}
{{- if and (not $nlb) (eq (int .Values.service.httpPort) 0) }}
{{- fail "service.httpPort is 0, but a ClusterIP Service needs a port for the Ingress and the in-cluster clients" }}
{{- end }}
{{- if and .Values.ingress.enabled $nlb }}
{{- fail "ingress.enabled publishes the service through an ALB, and service.type is LoadBalancer: set service.type to ClusterIP (an NLB beside the ALB would be a second way in, past the ALB's WAF)" }}
{{- end }}
{{- range $key, $_ := .Values.ingress.annotations }}
{{- if and (hasPrefix "alb.ingress.kubernetes.io/" $key) (has (trimPrefix "alb.ingress.kubernetes.io/" $key) (include "webapp.managedIngressAnnotations" $ | splitList " ")) }}
{{- fail (printf "ingress.annotations: %s is set by the chart (from ingress.*, drainSeconds or the probes); change that value instead" $key) }}
{{- end }}
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
