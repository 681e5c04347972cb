{{/* Chart name. */}}
{{- define "metacluster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the prefix of every resource of the release. Kept to 45 characters so suffixes fit in 63. */}}
{{- define "metacluster.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "metacluster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every resource. */}}
{{- define "metacluster.labels" -}}
helm.sh/chart: {{ include "metacluster.chart" . }}
{{ include "metacluster.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: metacluster
{{- end }}

{{/* Labels that identify the release's pods. */}}
{{- define "metacluster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "metacluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector of every silo pod (coordinator and workers): the Services and NetworkPolicies select on it. */}}
{{- define "metacluster.siloSelectorLabels" -}}
{{ include "metacluster.selectorLabels" . }}
metacluster/silo: "true"
{{- end }}

{{- define "metacluster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "metacluster.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "metacluster.clusterId" -}}
{{- default .Release.Name .Values.orleans.clusterId }}
{{- end }}

{{- define "metacluster.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Redis: the Secret holding the password, its key, and the host:port. */}}
{{- define "metacluster.redisSecretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else }}
{{- printf "%s-redis" (include "metacluster.fullname" .) }}
{{- end }}
{{- end }}

{{- define "metacluster.redisSecretKey" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecretKey }}
{{- else }}
{{- "redis-password" }}
{{- end }}
{{- end }}

{{- define "metacluster.redisAddress" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s-redis:6379" (include "metacluster.fullname" .) }}
{{- else }}
{{- required "redis.external.address is required when redis.enabled is false" .Values.redis.external.address }}
{{- end }}
{{- end }}

{{/* The StackExchange.Redis configuration string, with $(REDIS_PASSWORD) expanded by Kubernetes from the env var before it. */}}
{{- define "metacluster.redisConnection" -}}
{{- $parts := list (include "metacluster.redisAddress" .) "password=$(REDIS_PASSWORD)" }}
{{- if .Values.redis.connectionOptions }}
{{- $parts = append $parts .Values.redis.connectionOptions }}
{{- end }}
{{- join "," $parts }}
{{- end }}

{{/*
The container of a silo pod. Arguments: a dict with
  root (the top context), role (coordinator|worker), threads, slots, device, image, resources, extraEnv.
*/}}
{{- define "metacluster.siloContainer" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
- name: silo
  image: {{ .image | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - --role
    - {{ .role }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "metacluster.redisSecretName" $root }}
          key: {{ include "metacluster.redisSecretKey" $root }}
    - name: MetaCluster__Role
      value: {{ .role | quote }}
    - name: MetaCluster__Redis
      value: {{ include "metacluster.redisConnection" $root | quote }}
    - name: MetaCluster__ServiceId
      value: {{ $v.orleans.serviceId | quote }}
    - name: MetaCluster__ClusterId
      value: {{ include "metacluster.clusterId" $root | quote }}
    - name: MetaCluster__AdvertisedIP
      value: "$(POD_IP)"
    - name: MetaCluster__SiloPort
      value: {{ $v.orleans.siloPort | quote }}
    - name: MetaCluster__GatewayPort
      value: {{ $v.orleans.gatewayPort | quote }}
    - name: MetaCluster__HttpPort
      value: {{ $v.httpPort | quote }}
    - name: MetaCluster__BulkTransfer
      value: {{ $v.orleans.bulkTransfer | quote }}
    - name: MetaCluster__BulkPort
      value: {{ $v.orleans.bulkPort | quote }}
    {{- if .slots }}
    - name: MetaCluster__Slots
      value: {{ .slots | quote }}
    {{- end }}
    - name: MetaCluster__TorchThreads
      value: {{ .threads | quote }}
    - name: MetaCluster__Device
      value: {{ .device | quote }}
    - name: MetaCluster__DataDirectory
      value: {{ $v.dataset.mountPath | quote }}
    - name: MetaCluster__CheckpointDirectory
      value: /checkpoints
    - name: MetaCluster__ShutdownTimeout
      value: {{ $v.shutdownTimeoutSeconds | quote }}
    {{- if .federation }}
    - name: MetaCluster__FederationPort
      value: {{ $v.federation.port | quote }}
    - name: MetaCluster__TlsCert
      value: /etc/metacluster/federation-tls/tls.crt
    - name: MetaCluster__TlsKey
      value: /etc/metacluster/federation-tls/tls.key
    - name: MetaCluster__ClientsFile
      value: {{ printf "/etc/metacluster/federation-clients/%s" $v.federation.clientsKey | quote }}
    - name: MetaCluster__FederationMaxParams
      value: {{ $v.federation.maxParams | quote }}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with .extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: http
      containerPort: {{ $v.httpPort }}
      protocol: TCP
    - name: silo
      containerPort: {{ $v.orleans.siloPort }}
      protocol: TCP
    - name: gateway
      containerPort: {{ $v.orleans.gatewayPort }}
      protocol: TCP
    - name: bulk
      containerPort: {{ $v.orleans.bulkPort }}
      protocol: TCP
    {{- if .federation }}
    - name: federation
      containerPort: {{ $v.federation.port }}
      protocol: TCP
    {{- end }}
  startupProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: {{ $v.probes.startup.periodSeconds }}
    failureThreshold: {{ $v.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: {{ $v.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    periodSeconds: {{ $v.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ $v.probes.readiness.failureThreshold }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: checkpoints
      mountPath: /checkpoints
    {{- if $v.dataset.enabled }}
    - name: dataset
      mountPath: {{ $v.dataset.mountPath }}
      readOnly: true
    {{- end }}
    {{- if .federation }}
    - name: federation-tls
      mountPath: /etc/metacluster/federation-tls
      readOnly: true
    - name: federation-clients
      mountPath: /etc/metacluster/federation-clients
      readOnly: true
    {{- end }}
{{- end }}

{{/* Volumes of a silo pod. Argument: a dict with root and checkpointsSizeLimit. */}}
{{- define "metacluster.siloVolumes" -}}
{{- $v := .root.Values }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
- name: checkpoints
  emptyDir:
    sizeLimit: {{ .checkpointsSizeLimit }}
{{- if $v.dataset.enabled }}
- name: dataset
  {{- if $v.dataset.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ $v.dataset.existingClaim }}
    readOnly: true
  {{- else if $v.dataset.hostPath }}
  hostPath:
    path: {{ $v.dataset.hostPath }}
    type: Directory
  {{- else }}
  {{- fail "dataset.enabled needs dataset.existingClaim or dataset.hostPath" }}
  {{- end }}
{{- end }}
{{- if .federation }}
{{- /* 0440: readable by the pod's fsGroup (the silo's user is not root), by no one else. */}}
- name: federation-tls
  secret:
    secretName: {{ required "federation.enabled needs federation.tlsSecret (a kubernetes.io/tls Secret with the gateway's certificate)" $v.federation.tlsSecret }}
    defaultMode: 0440
- name: federation-clients
  secret:
    secretName: {{ required "federation.enabled needs federation.clientsSecret (the clients file of token hashes)" $v.federation.clientsSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}
