#!/usr/bin/env bash
# Serve the built edge collector locally: apply the migrations to the local
# D1 state in $EDGE_STATE, then `wrangler dev` on 127.0.0.1:$EDGE_PORT.
# Run through `make edge-dev`, which builds first.
#
# Secrets come from the environment when set (VISITRACK_ADMIN_TOKEN,
# VISITRACK_RECOGNITION_KEY, VISITRACK_IDENTITY_SECRET), else they are made
# once and kept in $EDGE_STATE, as the native collector keeps them in its
# data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${EDGE_PORT:=8787}"
: "${EDGE_STATE:=$PWD/.wrangler/dev-state}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=1
mkdir -p "$EDGE_STATE"
umask 077

# secret NAME FILE: $NAME from the environment, else FILE, else a new one.
secret() {
	local name=$1 file=$EDGE_STATE/$2
	if [ -n "${!name:-}" ]; then
		printf '%s' "${!name}"
	else
		[ -s "$file" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file"; echo "edge-dev: new $name in $file" >&2; }
		cat "$file"
	fi
}
admin=$(secret VISITRACK_ADMIN_TOKEN admin.token)
recognition=$(secret VISITRACK_RECOGNITION_KEY recognition.key)
origins=${VISITRACK_ALLOWED_ORIGINS:-http://127.0.0.1:$EDGE_PORT,http://localhost:$EDGE_PORT}

env_file=$EDGE_STATE/worker.env
{
	printf 'VISITRACK_ADMIN_TOKEN="%s"\n' "$admin"
	printf 'VISITRACK_RECOGNITION_KEY="%s"\n' "$recognition"
	printf 'VISITRACK_ALLOWED_ORIGINS="%s"\n' "$origins"
	[ -z "${VISITRACK_IDENTITY_SECRET:-}" ] || printf 'VISITRACK_IDENTITY_SECRET="%s"\n' "$VISITRACK_IDENTITY_SECRET"
	[ -z "${VISITRACK_VISIT_TIMEOUT:-}" ] || printf 'VISITRACK_VISIT_TIMEOUT="%s"\n' "$VISITRACK_VISIT_TIMEOUT"
} > "$env_file"

node_modules/.bin/wrangler d1 migrations apply DB --local --persist-to "$EDGE_STATE"
echo "edge-dev: admin token: $([ -n "${VISITRACK_ADMIN_TOKEN:-}" ] && echo 'from VISITRACK_ADMIN_TOKEN' || echo "in $EDGE_STATE/admin.token")" >&2
# exec: wrangler gets make's signals, and Ctrl-C ends it and workerd.
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" \
	--persist-to "$EDGE_STATE" --env-file "$env_file" \
	--show-interactive-dev-session=false
