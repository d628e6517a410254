#!/usr/bin/env bash
# Builds the service, installs it with production dependencies only (as the Docker image does),
# starts it with NODE_ENV=production on a free port, and waits for /health/ready to answer 200.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r package.json package-lock.json dist "$work"/
(cd "$work" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
(cd "$work" && NODE_ENV=production PORT="$port" exec node dist/server.js >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
    curl -fsS -X POST "http://127.0.0.1:$port/chats" -H 'content-type: application/json' -d '{"title":"smoke"}' >/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    grep -q '"msg":"closing"' "$work/server.log" || { echo "no graceful close logged"; cat "$work/server.log"; exit 1; }
    echo "production start: ready on port $port, served a create, closed gracefully"
    exit 0
  fi
  sleep 0.2
done
echo "production start: /health/ready never answered"; cat "$work/server.log"; exit 1
