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
     Called with (dict "root" $ "config" <ConfigMap name> "direct" <bool>). With
     pgbouncer.enabled, containers connect through the bouncer (PGBOUNCER_DATABASE_URL, with
     transaction pooling on) unless `direct`: the migration job (DDL, long transactions), and
     workers and beat, whose tasks hold session-level advisory locks (an import or a data
     export runs once; one warm-pool refill at a time) that a transaction pooler cannot keep. */}}
{{- define "kestrel.env" -}}
{{- $root := .root -}}
{{- $secret := include "kestrel.secretName" $root -}}
{{- $pooled := and $root.Values.pgbouncer.enabled (not .direct) -}}
- name: DJANGO_SETTINGS_MODULE
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: DJANGO_SETTINGS_MODULE}}
- name: BASE_DOMAIN
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: BASE_DOMAIN}}
- name: DJANGO_DEBUG
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: DJANGO_DEBUG}}
- name: KESTREL_LOG_FORMAT
  valueFrom: {configMapKeyRef: {name: {{ .config }}, key: KESTREL_LOG_FORMAT}}
- name: DJANGO_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: DJANGO_SECRET_KEY}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ ternary "PGBOUNCER_DATABASE_URL" "DATABASE_URL" $pooled }}}}
{{- if $pooled }}
- name: DATABASE_TRANSACTION_POOLING
  value: "true"
{{- end }}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: REDIS_URL}}
- name: SENTRY_DSN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: SENTRY_DSN, optional: true}}
- name: KESTREL_METRICS_TOKEN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: KESTREL_METRICS_TOKEN, optional: true}}
{{- end -}}

{{/* The HorizontalPodAutoscaler of a Deployment. Called with
     (dict "root" $ "component" <name> "autoscaling" <values>). */}}
{{- define "kestrel.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "kestrel.fullname" .root }}-{{ .component }}
  labels:
    {{- include "kestrel.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "kestrel.fullname" .root }}-{{ .component }}
  minReplicas: {{ .autoscaling.minReplicas }}
  maxReplicas: {{ .autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}

{{/* The main worker pool's values and each enabled dedicated pool's (any key left out taken
     from `worker`), by component name. */}}
{{- define "kestrel.workerPools" -}}
{{- $pools := dict "worker" .Values.worker -}}
{{- range $name, $pool := .Values.workers -}}
{{- if $pool.enabled -}}
{{- $_ := set $pools (printf "worker-%s" $name) (merge (deepCopy $pool) (deepCopy $.Values.worker)) -}}
{{- end -}}
{{- end -}}
{{- toJson $pools -}}
{{- end -}}

{{/* Pod settings every Kestrel pod shares. Called with (dict "root" $ "media" <bool>): web and
     worker pods also get the uploaded-files volume; beat and migrate never touch those files,
     and a ReadWriteOnce claim would otherwise tie them to its node too. */}}
{{- define "kestrel.podSpecCommon" -}}
{{- $root := .root -}}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir: {}
  {{- if .media }}
  - name: media
    {{- if $root.Values.media.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "kestrel.mediaClaimName" $root }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  - name: backups
    {{- if $root.Values.backups.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "kestrel.backupsClaimName" $root }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  {{- end }}
{{- end -}}

{{- define "kestrel.backupsClaimName" -}}
{{- .Values.backups.existingClaim | default (printf "%s-backups" (include "kestrel.fullname" .)) -}}
{{- end -}}

{{- define "kestrel.mediaClaimName" -}}
{{- .Values.media.existingClaim | default (printf "%s-media" (include "kestrel.fullname" .)) -}}
{{- end -}}

{{/* Web and workers find the shared uploaded files, and the tenant backups, where the
     volumes are mounted. */}}
{{- define "kestrel.mediaEnv" -}}
- name: KESTREL_MEDIA_ROOT
  value: {{ .Values.media.mountPath | quote }}
- name: KESTREL_BACKUP_DIR
  value: {{ .Values.backups.mountPath | quote }}
{{- end -}}

{{- define "kestrel.mediaMount" -}}
- {name: media, mountPath: {{ .Values.media.mountPath | quote }}}
- {name: backups, mountPath: {{ .Values.backups.mountPath | quote }}}
{{- end -}}

{{/* One pool of Celery workers. Called with (dict "root" $ "component" <name> "pool" <values>):
     the pool's command, then --tenant-queues, -Q and --concurrency from its values. */}}
{{- define "kestrel.workerDeployment" -}}
{{- $root := .root -}}
{{- $pool := .pool -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "kestrel.fullname" $root }}-{{ .component }}
  labels:
    {{- include "kestrel.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not ($pool.autoscaling).enabled }}
  replicas: {{ $pool.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "kestrel.selector" (dict "root" $root "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "kestrel.selector" (dict "root" $root "component" .component) | nindent 8 }}
    spec:
      {{- include "kestrel.podSpecCommon" (dict "root" $root "media" true) | nindent 6 }}
      # Warm shutdown: running tasks get this long to finish; a task cut off is acknowledged
      # late, so it runs again on another worker.
      terminationGracePeriodSeconds: {{ $pool.terminationGracePeriodSeconds }}
      containers:
        - name: worker
          image: {{ include "kestrel.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: {{ toJson $pool.command }}
          args: {{ toJson (list "--tenant-queues" $pool.tenantQueues "-Q" $pool.queues "--concurrency" (toString $pool.concurrency)) }}
          env:
            {{- include "kestrel.env" (dict "root" $root "config" (include "kestrel.fullname" $root) "direct" true) | nindent 12 }}
            {{- include "kestrel.mediaEnv" $root | nindent 12 }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # The worker answers a ping over the broker: it is connected and its consumer runs.
          livenessProbe:
            exec:
              command: ["sh", "-c", "celery -A config.celery_app inspect ping -d celery@$HOSTNAME --timeout 10"]
            initialDelaySeconds: 30
            periodSeconds: 60
            timeoutSeconds: 30
            failureThreshold: 3
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          resources:
            {{- toYaml $pool.resources | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- include "kestrel.mediaMount" $root | nindent 12 }}
{{- end -}}
