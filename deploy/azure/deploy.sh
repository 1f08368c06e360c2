#!/usr/bin/env bash
# mcp_analytics on Azure Container Apps, with the Azure CLI (`az`, logged in). README,
# "Deploy" → "Azure", explains each step and the choices.
#
# Azure Database for PostgreSQL (Flexible Server) cannot load our extension, so the metadata
# database is our image: one replica of a container app with internal TCP ingress, its data
# folder on an Azure Files share. The bridge is a second container app with external HTTPS
# ingress and as many replicas as you like. Datasets stay wherever they are (Flexible Server
# included): the metadata database connects to them.
#
#   AZ_RESOURCE_GROUP=mcp-analytics AZ_LOCATION=westeurope SECRETS_DIR=deploy/secrets \
#       deploy/azure/deploy.sh
#
# SECRETS_DIR holds mcp_analytics_key, postgres_password and bridge_db_password (as for
# compose). Running it again updates the apps in place.
set -euo pipefail

RG=${AZ_RESOURCE_GROUP:?set AZ_RESOURCE_GROUP}
LOCATION=${AZ_LOCATION:?set AZ_LOCATION, e.g. westeurope}
SECRETS_DIR=${SECRETS_DIR:?set SECRETS_DIR (the folder with the three secret files)}
PREFIX=${AZ_PREFIX:-mcpanalytics}
BRIDGE_REPLICAS=${BRIDGE_REPLICAS:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Names Azure wants globally unique and lowercase alphanumeric.
SUFFIX=$(printf '%s' "$RG" | sha256sum | cut -c1-6)
ACR=${AZ_REGISTRY:-${PREFIX}${SUFFIX}}
STORAGE=${AZ_STORAGE_ACCOUNT:-${PREFIX}${SUFFIX}}
ENVIRONMENT=${PREFIX}-env
DB_APP=${PREFIX}-db
BRIDGE_APP=${PREFIX}-bridge
SHARE=metadata

for secret in mcp_analytics_key postgres_password bridge_db_password; do
    [ -s "$SECRETS_DIR/$secret" ] || { echo "missing $SECRETS_DIR/$secret (see README, Deploy)" >&2; exit 1; }
done

echo "== resource group, registry and image"
az group create --name "$RG" --location "$LOCATION" --output none
az acr create --resource-group "$RG" --name "$ACR" --sku Basic --admin-enabled true --output none
# Built in Azure from this checkout: nothing to install locally but az.
az acr build --registry "$ACR" --image mcp-analytics:0.4.0 --file "$ROOT/deploy/Dockerfile" "$ROOT"
IMAGE=$ACR.azurecr.io/mcp-analytics:0.4.0
ACR_PASSWORD=$(az acr credential show --name "$ACR" --query 'passwords[0].value' --output tsv)

echo "== storage for the metadata database"
az storage account create --resource-group "$RG" --name "$STORAGE" --location "$LOCATION" \
    --sku Premium_LRS --kind FileStorage --output none
STORAGE_KEY=$(az storage account keys list --resource-group "$RG" --account-name "$STORAGE" \
    --query '[0].value' --output tsv)
az storage share-rm create --resource-group "$RG" --storage-account "$STORAGE" --name "$SHARE" \
    --quota 100 --output none

echo "== Container Apps environment"
az containerapp env create --resource-group "$RG" --name "$ENVIRONMENT" --location "$LOCATION" --output none
# SMB mount owned by the image's postgres user (uid/gid 999 and 999 on Debian's image), with
# the modes PostgreSQL insists on for its data folder.
az containerapp env storage set --resource-group "$RG" --name "$ENVIRONMENT" \
    --storage-name "$SHARE" --azure-file-account-name "$STORAGE" --azure-file-account-key "$STORAGE_KEY" \
    --azure-file-share-name "$SHARE" --access-mode ReadWrite --output none
ENVIRONMENT_ID=$(az containerapp env show --resource-group "$RG" --name "$ENVIRONMENT" --query id --output tsv)

secret_value() { tr -d '\r\n' <"$SECRETS_DIR/$1"; }

# Secrets reach the containers as files (a secret volume), the way the entrypoint reads them.
write_app_yaml() {  # role file
    local role=$1 file=$2
    if [ "$role" = db ]; then
        cat >"$file" <<YAML
location: $LOCATION
properties:
  environmentId: $ENVIRONMENT_ID
  configuration:
    activeRevisionsMode: Single
    ingress:
      external: false
      transport: tcp
      targetPort: 5432
      exposedPort: 5432
    registries:
      - server: $ACR.azurecr.io
        username: $ACR
        passwordSecretRef: registry-password
    secrets:
      - name: registry-password
        value: "$ACR_PASSWORD"
      - name: mcp-analytics-key
        value: "$(secret_value mcp_analytics_key)"
      - name: postgres-password
        value: "$(secret_value postgres_password)"
      - name: bridge-db-password
        value: "$(secret_value bridge_db_password)"
  template:
    containers:
      - name: db
        image: $IMAGE
        args: ["metadata-db"]
        resources: {cpu: 1.0, memory: 2Gi}
        env:
          - {name: MCP_ANALYTICS_KEY_FILE, value: /etc/mcp-secrets/mcp-analytics-key}
          - {name: MCP_POSTGRES_PASSWORD_FILE, value: /etc/mcp-secrets/postgres-password}
          - {name: MCP_BRIDGE_DB_PASSWORD_FILE, value: /etc/mcp-secrets/bridge-db-password}
        volumeMounts:
          - {volumeName: data, mountPath: /var/lib/mcp_analytics}
          - {volumeName: secrets, mountPath: /etc/mcp-secrets}
    scale: {minReplicas: 1, maxReplicas: 1}
    volumes:
      - name: data
        storageType: AzureFile
        storageName: $SHARE
        mountOptions: "uid=999,gid=999,dir_mode=0700,file_mode=0600,mfsymlinks,nobrl,cache=strict"
      - name: secrets
        storageType: Secret
YAML
    else
        cat >"$file" <<YAML
location: $LOCATION
properties:
  environmentId: $ENVIRONMENT_ID
  configuration:
    activeRevisionsMode: Single
    ingress:
      external: true
      transport: http
      targetPort: 8080
      allowInsecure: false
    registries:
      - server: $ACR.azurecr.io
        username: $ACR
        passwordSecretRef: registry-password
    secrets:
      - name: registry-password
        value: "$ACR_PASSWORD"
      - name: bridge-db-password
        value: "$(secret_value bridge_db_password)"
  template:
    containers:
      - name: bridge
        image: $IMAGE
        args: ["bridge"]
        resources: {cpu: 0.5, memory: 1Gi}
        env:
          - {name: MCP_DB_HOST, value: $DB_APP}
          - {name: MCP_BRIDGE_DB_PASSWORD_FILE, value: /etc/mcp-secrets/bridge-db-password}
          # The environment's proxy terminates TLS; the app is reachable only through it.
          - {name: MCP_BRIDGE_TRUSTED_PROXIES, value: "*"}
          - {name: MCP_BRIDGE_PUBLIC_URL, value: "${PUBLIC_URL:-}"}
        volumeMounts:
          - {volumeName: secrets, mountPath: /etc/mcp-secrets}
        probes:
          - type: Liveness
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 30
          - type: Readiness
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 10
    scale: {minReplicas: $BRIDGE_REPLICAS, maxReplicas: $BRIDGE_REPLICAS}
    volumes:
      - name: secrets
        storageType: Secret
YAML
    fi
}

deploy_app() {  # name role
    local name=$1 role=$2 spec
    spec=$(mktemp)
    chmod 600 "$spec"
    write_app_yaml "$role" "$spec"
    if az containerapp show --resource-group "$RG" --name "$name" --output none 2>/dev/null; then
        az containerapp update --resource-group "$RG" --name "$name" --yaml "$spec" --output none
    else
        az containerapp create --resource-group "$RG" --name "$name" --yaml "$spec" --output none
    fi
    rm -f "$spec"
}

echo "== metadata database ($DB_APP)"
deploy_app "$DB_APP" db
echo "== bridge ($BRIDGE_APP)"
PUBLIC_URL=${PUBLIC_URL:-https://$(az containerapp env show --resource-group "$RG" --name "$ENVIRONMENT" \
    --query properties.defaultDomain --output tsv | sed "s/^/$BRIDGE_APP./")}
deploy_app "$BRIDGE_APP" bridge

echo
echo "bridge: $PUBLIC_URL  (health: $PUBLIC_URL/healthz, dashboard: $PUBLIC_URL/ui)"
echo "first admin API key: az containerapp exec --resource-group $RG --name $DB_APP --command 'cat /var/lib/mcp_analytics/admin_api_key'"
