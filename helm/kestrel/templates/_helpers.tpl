{{- define "kestrel.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kestrel.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kestrel.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kestrel.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kestrel.secretName" -}}
{{- .Values.existingSecret | default (include "kestrel.fullname" .) -}}
{{- end -}}

{{/* The environment every container gets: exactly the names the settings read.
     Called with (dict "root" $ "config" <ConfigMap name>). */}}
{{- define "kestrel.env" -}}
{{- $root := .root -}}
- name: DJANGO_SETTINGS_MODULE
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: DJANGO_SETTINGS_MODULE}}
- name: BASE_DOMAIN
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: BASE_DOMAIN}}
- name: DJANGO_DEBUG
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: DJANGO_DEBUG}}
- name: DJANGO_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ include "kestrel.secretName" $root }}, key: DJANGO_SECRET_KEY}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "kestrel.secretName" $root }}, key: DATABASE_URL}}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "kestrel.secretName" $root }}, key: REDIS_URL}}
{{- end -}}

{{- define "kestrel.podSpecCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir: {}
{{- end -}}
