#!/usr/bin/env bash
# The local stack: real Apache Kafka (KRaft, one combined broker+controller), real Apicurio
# Registry (Confluent-compatible API, in-memory storage), Redis and Toxiproxy (network faults for
# the tests), started as plain processes so machines without Docker run the same services.
# Usage: stack.sh up|down|status|env|toxiproxy-bin|toxiproxy-built
#   toxiproxy-bin builds Toxiproxy if needed and prints its path; toxiproxy-built says whether it is built
#
# Every setting is an environment variable with a default (see the table in README.md):
#   KAFKA_LINE=4|3          picks the pinned Kafka version of that line (KAFKA_VERSION overrides)
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT, REGISTRY_PORT, REDIS_PORT, STACK_DIR
#   TOXIPROXY_PORT          Toxiproxy's API
#   KAFKA_PROXIED_PORT      a second broker listener, reached only through Toxiproxy
#   KAFKA_PROXY_PORT        Toxiproxy's listener in front of it, which that listener advertises
#   STACK_SERVICES          which services `up` starts (default: all four)
# Downloads come from Maven Central through Maven (cached in ~/.m2) and are unpacked into .tools/;
# process state, data and logs live in STACK_DIR (.stack/ by default). Both are git-ignored.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KAFKA_LINE="${KAFKA_LINE:-4}"
case "$KAFKA_LINE" in
  4) default_kafka_version=4.1.1 ;;
  3) default_kafka_version=3.9.1 ;;
  *) echo "stack: KAFKA_LINE must be 3 or 4, got '$KAFKA_LINE'" >&2; exit 2 ;;
esac
KAFKA_VERSION="${KAFKA_VERSION:-$default_kafka_version}"
APICURIO_VERSION="${APICURIO_VERSION:-3.0.9}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
REGISTRY_PORT="${REGISTRY_PORT:-18081}"
REDIS_PORT="${REDIS_PORT:-16379}"
TOXIPROXY_PORT="${TOXIPROXY_PORT:-18474}"
KAFKA_PROXIED_PORT="${KAFKA_PROXIED_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_PROXY_PORT="${KAFKA_PROXY_PORT:-$((KAFKA_PORT + 3))}"
TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-v2.5.0}"
STACK_DIR="${STACK_DIR:-$root/.stack}"
STACK_SERVICES="${STACK_SERVICES:-kafka registry redis toxiproxy}"
STACK_TIMEOUT_S="${STACK_TIMEOUT_S:-120}"
tools="$root/.tools"
host=127.0.0.1

mkdir -p "$STACK_DIR/logs" "$STACK_DIR/run" "$tools"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

pid_file() { echo "$STACK_DIR/run/$1.pid"; }

# A pid file alone is not proof: the pid may have been reused, so the command line must also
# match what we started.
running_pid() {
  local name="$1" file pid
  file="$(pid_file "$name")"
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" =~ $(marker "$name") ]] || return 1
  echo "$pid"
}

# Regexes over a process's command line. Redis rewrites its title to "redis-server host:port"
# shortly after start, so both forms must match.
marker() {
  case "$1" in
    kafka) echo "kafka\.Kafka $STACK_DIR/kafka/server\.properties" ;;
    registry) echo "apicurio-registry-app-.*-runner\.jar" ;;
    redis) echo "redis-server.*(--port $REDIS_PORT |$host:$REDIS_PORT)" ;;
    toxiproxy) echo "toxiproxy-server .*-port $TOXIPROXY_PORT" ;;
  esac
}

port_busy() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

require() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

wait_until() {
  local what="$1" name="$2"; shift 2
  local deadline=$((SECONDS + STACK_TIMEOUT_S))
  until "$@" >/dev/null 2>&1; do
    if ! running_pid "$name" >/dev/null; then
      tail -n 30 "$STACK_DIR/logs/$name.log" >&2 || true
      die "$what exited during start-up; log: $STACK_DIR/logs/$name.log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$STACK_DIR/logs/$name.log" >&2 || true
      die "$what not ready after ${STACK_TIMEOUT_S}s; log: $STACK_DIR/logs/$name.log"
    fi
    sleep 0.5
  done
}

node_bin() { "$root/scripts/ensure-node.sh"; }

# --- Kafka -----------------------------------------------------------------------------------

kafka_classpath() {
  local cp_file="$tools/kafka-$KAFKA_VERSION.classpath"
  # The cached classpath points into the local Maven repository; re-resolve if that was cleaned.
  if [ -s "$cp_file" ] && [ ! -f "$(cut -d: -f1 "$cp_file")" ]; then rm -f "$cp_file"; fi
  if [ ! -s "$cp_file" ]; then
    require mvn "install Maven (and a JDK 17+), or use deploy/compose.yaml with Docker"
    log "resolving Kafka $KAFKA_VERSION from Maven Central (cached in ~/.m2)"
    mvn -q -B -f "$root/scripts/stack/pom.xml" dependency:build-classpath \
      -Dkafka.version="$KAFKA_VERSION" -Dmdep.outputFile="$cp_file.tmp" >"$STACK_DIR/logs/maven-kafka.log" 2>&1 ||
      { tail -n 20 "$STACK_DIR/logs/maven-kafka.log" >&2; die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"; }
    mv "$cp_file.tmp" "$cp_file"
  fi
  cat "$cp_file"
}

kafka_ready() {
  PATH="$(node_bin):$PATH" node "$root/scripts/stack/kafka-ready.ts" "$host:$KAFKA_PORT"
}

start_kafka() {
  if pid="$(running_pid kafka)"; then log "kafka already running (pid $pid) on $host:$KAFKA_PORT"; return; fi
  port_busy "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; set KAFKA_PORT"
  port_busy "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT is taken by another process; set KAFKA_CONTROLLER_PORT"
  port_busy "$KAFKA_PROXIED_PORT" && die "port $KAFKA_PROXIED_PORT is taken by another process; set KAFKA_PROXIED_PORT"
  require java "install a JDK 17+ (Kafka 4 needs Java 17)"
  local cp dir="$STACK_DIR/kafka"
  cp="$(kafka_classpath)"
  # A stopped stack keeps no data: every start formats fresh storage, so tests start clean.
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$host:$KAFKA_PORT,CONTROLLER://$host:$KAFKA_CONTROLLER_PORT,PROXIED://$host:$KAFKA_PROXIED_PORT
advertised.listeners=PLAINTEXT://$host:$KAFKA_PORT,PROXIED://$host:$KAFKA_PROXY_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=1000000
EOF
  local cluster_id
  cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
    >"$STACK_DIR/logs/kafka-format.log" 2>&1 || { cat "$STACK_DIR/logs/kafka-format.log" >&2; die "formatting Kafka storage failed"; }
  log "starting Kafka $KAFKA_VERSION (KRaft) on $host:$KAFKA_PORT"
  # setsid puts it in its own session, so a Ctrl-C in the terminal that started it does not kill it.
  setsid java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >"$STACK_DIR/logs/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file kafka)"
}

# --- Apicurio Registry -------------------------------------------------------------------------

registry_home() {
  local home="$tools/apicurio-registry-$APICURIO_VERSION"
  if [ ! -f "$home/apicurio-registry-app-$APICURIO_VERSION-runner.jar" ]; then
    local archive="$tools/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
    if [ ! -f "$archive" ]; then
      require mvn "install Maven (and a JDK 17+), or use deploy/compose.yaml with Docker"
      log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central (cached in the local Maven repository)"
      # dependency:copy resolves through whatever local repository Maven is configured with, so a
      # custom maven.repo.local works too.
      mvn -q -B -f "$root/scripts/stack/pom.xml" dependency:copy \
        -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
        -DoutputDirectory="$tools" >"$STACK_DIR/logs/maven-registry.log" 2>&1 ||
        { tail -n 20 "$STACK_DIR/logs/maven-registry.log" >&2; die "Maven could not fetch Apicurio Registry $APICURIO_VERSION"; }
    fi
    rm -rf "$home.tmp" && mkdir -p "$home.tmp"
    tar xzf "$archive" -C "$home.tmp"
    rm -rf "$home" && mv "$home.tmp" "$home"
    rm -f "$archive"
  fi
  echo "$home"
}

registry_ready() {
  curl -fsS "http://$host:$REGISTRY_PORT/health/ready" | grep -q '"status" *: *"UP"' &&
    curl -fsS "http://$host:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null
}

start_registry() {
  if pid="$(running_pid registry)"; then log "registry already running (pid $pid) on $host:$REGISTRY_PORT"; return; fi
  port_busy "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by another process; set REGISTRY_PORT"
  require java "install a JDK 17+"
  require curl "install curl"
  local home
  home="$(registry_home)"
  log "starting Apicurio Registry $APICURIO_VERSION on http://$host:$REGISTRY_PORT (ccompat: /apis/ccompat/v7)"
  # In-memory H2 storage is Apicurio 3's default. Deletes are enabled so tests can clean up.
  # The runner jar finds lib/ beside itself, so no cd is needed (and $! stays the java pid).
  setsid java -Xms128m -Xmx512m -Djava.awt.headless=true \
    -Dquarkus.http.host="$host" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dapicurio.rest.deletion.artifact.enabled=true -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -Dapicurio.rest.deletion.group.enabled=true \
    -jar "$home/apicurio-registry-app-$APICURIO_VERSION-runner.jar" >"$STACK_DIR/logs/registry.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file registry)"
}

# --- Redis ---------------------------------------------------------------------------------------

redis_ready() { redis-cli -h "$host" -p "$REDIS_PORT" ping | grep -q PONG; }

start_redis() {
  if pid="$(running_pid redis)"; then log "redis already running (pid $pid) on $host:$REDIS_PORT"; return; fi
  port_busy "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; set REDIS_PORT"
  require redis-server "install Debian's redis-server package (apt-get install redis-server)"
  log "starting Redis on $host:$REDIS_PORT"
  setsid redis-server --bind "$host" --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$STACK_DIR/run" >"$STACK_DIR/logs/redis.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file redis)"
}

# --- Toxiproxy ------------------------------------------------------------------------------------
# Shopify's fault proxy, between the tests' clients and the broker (and, per test, Gong). Built from
# the Go module proxy into .tools/bin on first use by scripts/go-tool.sh, like helm.

toxiproxy_bin() {
  # Toxiproxy v2.5.0's go.mod says go 1.17.
  bash "$root/scripts/go-tool.sh" toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" 1.17 ||
    die "cannot build Toxiproxy $TOXIPROXY_VERSION (see above); scripts/prereqs.sh test checks every tool the tests need"
}

toxiproxy_ready() { curl -fsS "http://$host:$TOXIPROXY_PORT/version" >/dev/null; }

start_toxiproxy() {
  if pid="$(running_pid toxiproxy)"; then log "toxiproxy already running (pid $pid) on $host:$TOXIPROXY_PORT"; return; fi
  port_busy "$TOXIPROXY_PORT" && die "port $TOXIPROXY_PORT is taken by another process; set TOXIPROXY_PORT"
  port_busy "$KAFKA_PROXY_PORT" && die "port $KAFKA_PROXY_PORT is taken by another process; set KAFKA_PROXY_PORT"
  require curl "install curl"
  local bin
  bin="$(toxiproxy_bin)"
  # The broker proxy exists from the start: the PROXIED listener advertises its address, so a
  # client that bootstraps through it stays on it for every later connection.
  printf '[{"name": "kafka", "listen": "%s:%s", "upstream": "%s:%s", "enabled": true}]\n' \
    "$host" "$KAFKA_PROXY_PORT" "$host" "$KAFKA_PROXIED_PORT" >"$STACK_DIR/run/toxiproxy.json"
  log "starting Toxiproxy $TOXIPROXY_VERSION on http://$host:$TOXIPROXY_PORT (broker proxy on $host:$KAFKA_PROXY_PORT)"
  setsid "$bin" -host "$host" -port "$TOXIPROXY_PORT" -config "$STACK_DIR/run/toxiproxy.json" \
    >"$STACK_DIR/logs/toxiproxy.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file toxiproxy)"
}

# --- commands -------------------------------------------------------------------------------------

write_env() {
  cat >"$STACK_DIR/env" <<EOF
KAFKA_BROKERS=$host:$KAFKA_PORT
SCHEMA_REGISTRY_URL=http://$host:$REGISTRY_PORT/apis/ccompat/v7
REDIS_URL=redis://$host:$REDIS_PORT
TOXIPROXY_URL=http://$host:$TOXIPROXY_PORT
KAFKA_PROXIED_BROKERS=$host:$KAFKA_PROXY_PORT
KAFKA_LINE=$KAFKA_LINE
KAFKA_VERSION=$KAFKA_VERSION
EOF
}

wants() { [[ " $STACK_SERVICES " == *" $1 "* ]]; }

up() {
  local t0=$SECONDS
  wants kafka && start_kafka
  wants registry && start_registry
  wants redis && start_redis
  wants toxiproxy && start_toxiproxy
  wants redis && wait_until "Redis" redis redis_ready
  wants toxiproxy && wait_until "Toxiproxy" toxiproxy toxiproxy_ready
  wants kafka && wait_until "Kafka" kafka kafka_ready
  wants registry && wait_until "Apicurio Registry" registry registry_ready
  write_env
  log "up in $((SECONDS - t0))s; connection settings in $STACK_DIR/env"
  status
}

stop_one() {
  local name="$1" pid
  if ! pid="$(running_pid "$name")"; then rm -f "$(pid_file "$name")"; return; fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
}

down() {
  # Stop only what this stack started, by pid: never pkill by name.
  for name in registry kafka redis toxiproxy; do stop_one "$name"; done
}

status() {
  local name pid state any_down=0
  for name in kafka registry redis toxiproxy; do
    wants "$name" || continue
    if pid="$(running_pid "$name")"; then
      case "$name" in
        kafka) kafka_ready >/dev/null 2>&1 && state="ready" || state="starting"; where="$host:$KAFKA_PORT (Kafka $KAFKA_VERSION)" ;;
        registry) registry_ready >/dev/null 2>&1 && state="ready" || state="starting"; where="http://$host:$REGISTRY_PORT/apis/ccompat/v7" ;;
        redis) redis_ready >/dev/null 2>&1 && state="ready" || state="starting"; where="redis://$host:$REDIS_PORT" ;;
        toxiproxy) toxiproxy_ready >/dev/null 2>&1 && state="ready" || state="starting"; where="http://$host:$TOXIPROXY_PORT (broker via $host:$KAFKA_PROXY_PORT)" ;;
      esac
      printf '%-9s %-8s pid %-7s %s\n' "$name" "$state" "$pid" "$where"
    else
      printf '%-9s %-8s\n' "$name" "stopped"
      any_down=1
    fi
  done
  return $any_down
}

case "${1:-}" in
  # The lock serialises concurrent callers (make and the test harness); children close fd 9.
  up) exec 9>"$STACK_DIR/run/lock"; flock -w 300 9 || die "another stack.sh holds $STACK_DIR/run/lock"; up ;;
  down) exec 9>"$STACK_DIR/run/lock"; flock -w 300 9 || die "another stack.sh holds $STACK_DIR/run/lock"; down ;;
  status) status ;;
  env) write_env; cat "$STACK_DIR/env" ;;
  toxiproxy-bin) toxiproxy_bin ;;
  toxiproxy-built) bash "$root/scripts/go-tool.sh" --cached toxiproxy-server "$TOXIPROXY_VERSION" ;;
  *) echo "usage: $0 up|down|status|env|toxiproxy-bin|toxiproxy-built" >&2; exit 2 ;;
esac
