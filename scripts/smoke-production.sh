#!/usr/bin/env bash
# Builds the service, installs it with production dependencies only (as the Docker image does),
# starts it with NODE_ENV=production and AUTH_MODE=api-key (a key made here) on a free port, waits for
# /health/ready to answer 200, checks that a create without the key is a 401 and one with it a 201,
# that SIGHUP reads the keys again (the server goes on), and that SIGTERM closes gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r package.json package-lock.json dist "$work"/
(cd "$work" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
key=$(node -e "console.log(require('crypto').randomBytes(32).toString('hex'))")
printf '# smoke test\nsmoke %s\n' "$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)" >"$work/api-keys.txt"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
(cd "$work" && NODE_ENV=production AUTH_MODE=api-key API_KEYS_FILE="$work/api-keys.txt" PORT="$port" exec node dist/server.js >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
    anonymous=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/chats" -H 'content-type: application/json' -d '{"title":"smoke"}')
    [ "$anonymous" = 401 ] || { echo "a create without credentials answered $anonymous, not 401"; cat "$work/server.log"; exit 1; }
    curl -fsS -X POST "http://127.0.0.1:$port/chats" -H 'content-type: application/json' -H "x-api-key: $key" -d '{"title":"smoke"}' >/dev/null
    kill -HUP "$pid"
    sleep 0.3
    curl -fsS "http://127.0.0.1:$port/chats" -H "authorization: Bearer $key" >/dev/null || { echo "no answer after SIGHUP"; cat "$work/server.log"; exit 1; }
    grep -q 'API keys read again' "$work/server.log" || { echo "SIGHUP did not read the keys again"; cat "$work/server.log"; exit 1; }
    kill -TERM "$pid"
    wait "$pid" || true
    grep -q '"msg":"closing"' "$work/server.log" || { echo "no graceful close logged"; cat "$work/server.log"; exit 1; }
    echo "production start (AUTH_MODE=api-key): ready on port $port, 401 without the key, a create with it, keys read again on SIGHUP, closed gracefully"
    exit 0
  fi
  sleep 0.2
done
echo "production start: /health/ready never answered"; cat "$work/server.log"; exit 1
