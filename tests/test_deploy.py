"""Replicated serving files (docker-compose.yml, deploy/), checked without an engine or a cluster.

tests/container builds and runs the image and the compose stack; this file checks what needs
neither: the YAML parses, every probe and scrape path is a route the real server answers, ports
and image name are those of the Bento, the load balancer and Prometheus find every replica, env
names are the service's own, the compose file keeps to what `docker compose` v2 and
`docker-compose` 1.29 both read, the Kubernetes manifests validate against the official schemas
of a named Kubernetes version, and the kustomization builds (`kubectl kustomize`)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT
from server_process import start_server, stop_server

yaml = pytest.importorskip("yaml")

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
K8S_FILES = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
K8S = {doc["kind"]: doc for path in K8S_FILES for doc in yaml.safe_load_all(path.read_text()) if doc}
BENTOFILE = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
K8S_VERSIONS = ("1.32.0", "1.37.0")  # a long-supported release and the newest kubernetes-validate bundles


def bento_service():
    module, _, name = BENTOFILE["service"].partition(":")
    return getattr(importlib.import_module(module), name)


def served_port() -> int:
    """The port the Bento's container serves on: the service's http config, else BentoML's default."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    return int(bento_service().config.get("http", {}).get("port", BentoMLContainer.http.port.get()))


def container() -> dict:
    return K8S["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def traefik_labels() -> dict[str, str]:
    return COMPOSE["services"]["pairscore"]["labels"]


def probe_paths() -> dict[str, str]:
    """Every health or metrics path the deploy files send requests to."""
    compose_check = " ".join(COMPOSE["services"]["pairscore"]["healthcheck"]["test"])
    paths = {
        f"k8s {probe}": container()[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    paths["compose healthcheck"] = re.search(r"http://127\.0\.0\.1:\d+(/\w+)", compose_check)[1]
    paths["traefik healthcheck"] = traefik_labels()["traefik.http.services.pairscore.loadbalancer.healthcheck.path"]
    paths["prometheus"] = PROMETHEUS["scrape_configs"][0]["metrics_path"]
    paths["k8s prometheus annotation"] = K8S["Deployment"]["spec"]["template"]["metadata"]["annotations"][
        "prometheus.io/path"
    ]
    return paths


def test_the_yaml_parses_into_the_expected_objects():
    assert {"pairscore", "traefik", "prometheus"} <= set(COMPOSE["services"])
    assert set(K8S) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Kustomization"}
    assert sorted(K8S["Kustomization"]["resources"]) == sorted(
        p.name for p in K8S_FILES if p.name != "kustomization.yaml"
    )


def test_probes_and_scrapes_hit_routes_the_server_answers(tmp_path):
    paths = probe_paths()
    assert paths["k8s readinessProbe"] == "/readyz" and paths["k8s livenessProbe"] == "/livez"
    assert paths["compose healthcheck"] == paths["traefik healthcheck"] == "/readyz"
    server = start_server(ROOT / "models", tmp_path)  # the shipped models, as the image holds them
    try:
        with server.client() as http:
            for where, path in paths.items():
                response = http.get(path)
                assert response.status_code == 200, f"{where}: GET {path} -> {response.status_code}"
            assert "# TYPE" in http.get(paths["prometheus"]).text  # Prometheus text format
            assert http.get("/readyz-typo").status_code == 404  # a wrong path would be caught
    finally:
        stop_server(server)


def test_ports_and_image_are_the_bentos():
    port = served_port()
    name = BENTOFILE.get("name") or bento_service().name
    k8s = container()
    assert k8s["ports"] == [{"name": "http", "containerPort": port}]
    assert all(k8s[probe]["httpGet"]["port"] == "http" for probe in ("startupProbe", "readinessProbe", "livenessProbe"))
    assert K8S["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert int(K8S["Deployment"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]) == port
    assert k8s["image"].split(":")[0] == name and [i["name"] for i in K8S["Kustomization"]["images"]] == [name]
    compose = COMPOSE["services"]["pairscore"]
    assert re.fullmatch(r"\$\{PAIRSCORE_IMAGE:-(\w+):\w+\}", compose["image"])[1] == name
    assert compose["expose"] == [str(port)] and "ports" not in compose  # replicas share no host port
    assert f":{port}/" in " ".join(compose["healthcheck"]["test"])
    assert int(traefik_labels()["traefik.http.services.pairscore.loadbalancer.server.port"]) == port
    assert PROMETHEUS["scrape_configs"][0]["dns_sd_configs"][0]["port"] == port


def test_the_load_balancer_and_prometheus_find_every_replica_of_the_service():
    labels = traefik_labels()
    assert labels["traefik.enable"] == "true" and labels["traefik.http.routers.pairscore.service"] == "pairscore"
    traefik = COMPOSE["services"]["traefik"]
    assert (
        "--providers.docker=true" in traefik["command"]
        and "--providers.docker.exposedbydefault=false" in traefik["command"]
    )
    assert traefik["depends_on"]["pairscore"]["condition"] == "service_healthy"
    entry = re.search(r"--entrypoints\.(\w+)\.address=:(\d+)", " ".join(traefik["command"]))
    assert labels["traefik.http.routers.pairscore.entrypoints"] == entry[1] and traefik["ports"][0].endswith(
        f":{entry[2]}"
    )
    # docker-compose 1.29 ignores `deploy:` (replicas, limits) unless run with --compatibility: `scale` and the
    # service-level limits are read by it and by `docker compose` v2 alike
    assert "scale" in COMPOSE["services"]["pairscore"] and "deploy" not in COMPOSE["services"]["pairscore"]
    discovery = PROMETHEUS["scrape_configs"][0]["dns_sd_configs"][0]
    assert discovery["names"] == ["pairscore"] and discovery["type"] == "A"  # one target per replica's address
    selector = K8S["Deployment"]["spec"]["selector"]["matchLabels"]
    assert K8S["Deployment"]["spec"]["template"]["metadata"]["labels"] == selector
    assert (
        K8S["Service"]["spec"]["selector"] == selector
        and K8S["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    )
    target = K8S["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", K8S["Deployment"]["metadata"]["name"])
    assert K8S["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_env_and_resources_are_the_services_own():
    from pairscore.settings import Settings, env_name

    known = {env_name(name) for name in Settings.model_fields}  # every PAIRSCORE_* variable is a setting
    compose = COMPOSE["services"]["pairscore"]
    compose_env = compose["environment"]
    k8s_env = {item["name"]: item.get("value") for item in container()["env"]}
    assert set(compose_env) <= known and set(k8s_env) <= known, (set(compose_env) | set(k8s_env)) - known
    assert set(compose_env) == set(k8s_env)
    secret = "PAIRSCORE_API_KEYS"  # from the environment (.env) in compose, from a Secret in Kubernetes
    assert {k: v for k, v in compose_env.items() if k != secret} == {k: v for k, v in k8s_env.items() if k != secret}
    assert compose_env[secret] == "${PAIRSCORE_API_KEYS:-}" and k8s_env[secret] is None
    resources = container()["resources"]
    cpu_limit = int(resources["limits"]["cpu"])
    assert int(k8s_env["PAIRSCORE_ORT_THREADS"]) == cpu_limit == int(compose["cpus"])
    assert memory_bytes(compose["mem_limit"]) == memory_bytes(resources["limits"]["memory"])
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


def memory_bytes(value: str) -> int:
    """Docker's `768m` (MiB) and Kubernetes' `768Mi` as bytes."""
    number, unit = re.fullmatch(r"(\d+)([a-zA-Z]*)", value).groups()
    return int(number) * {"m": 2**20, "Mi": 2**20, "g": 2**30, "Gi": 2**30}[unit]


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", value).groups()
    return float(number) / (1000 if unit == "ms" else 1)


def test_timeouts_and_retries_fit_the_service_limits():
    """The proxy waits longer than the service may take, replays whole bodies, and stopping waits for requests."""
    env = COMPOSE["services"]["pairscore"]["environment"]
    timeout_s, body_limit = float(env["PAIRSCORE_TIMEOUT_S"]), int(env["PAIRSCORE_MAX_BODY_BYTES"])
    flags = dict(arg.split("=", 1) for arg in COMPOSE["services"]["traefik"]["command"])
    assert seconds(flags["--serverstransport.forwardingtimeouts.responseheadertimeout"]) > timeout_s
    assert seconds(flags["--serverstransport.forwardingtimeouts.dialtimeout"]) <= 1
    labels = traefik_labels()
    retry = "traefik.http.middlewares.pairscore-retry.retry."
    buffer = "traefik.http.middlewares.pairscore-buffer.buffering."
    # each request read whole first (slow clients stay at the proxy), then resent on a 502
    assert labels["traefik.http.routers.pairscore.middlewares"] == "pairscore-buffer,pairscore-retry"
    assert int(labels[retry + "maxrequestbodybytes"]) == body_limit
    assert int(labels[buffer + "maxrequestbodybytes"]) == int(labels[buffer + "memrequestbodybytes"]) == body_limit
    assert labels[retry + "status"] == "502" and labels[retry + "retrynonidempotentmethod"] == "true"
    # the proxy drops an idle connection before the replica does, and reads a request in the replica's own time
    idle, read = (
        "--serverstransport.forwardingtimeouts.idleconntimeout",
        "--entrypoints.web.transport.respondingtimeouts.readtimeout",
    )
    assert seconds(flags[idle]) < float(env["PAIRSCORE_KEEP_ALIVE_S"])
    assert seconds(flags[read]) == float(env["PAIRSCORE_BODY_TIMEOUT_S"])
    assert seconds(COMPOSE["services"]["pairscore"]["stop_grace_period"]) > timeout_s
    assert K8S["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > timeout_s + 5


def test_a_crashing_replica_is_not_restarted_forever():
    """Docker restarts `always`/`unless-stopped` containers whatever their exit status; on-failure:N stops after N."""
    policy = COMPOSE["services"]["pairscore"]["restart"]
    assert re.fullmatch(r"on-failure:\d+", policy), policy


def test_the_k8s_manifests_validate_against_the_kubernetes_schemas():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for version in K8S_VERSIONS:
        for kind, doc in K8S.items():
            if kind != "Kustomization":  # kustomize's own file, not a cluster resource
                kubernetes_validate.validate(doc, version, strict=True)


def kustomize(*args: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (kustomize is built in) is not installed: .ci/run installs it")
    done = subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_kustomization_builds_into_valid_resources():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    built = [doc for doc in yaml.safe_load_all(kustomize("kustomize", "deploy/k8s")) if doc]  # docs/deploy.md's
    assert sorted(doc["kind"] for doc in built) == sorted(kind for kind in K8S if kind != "Kustomization")
    for doc in built:
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
    (deployment,) = [doc for doc in built if doc["kind"] == "Deployment"]
    image = K8S["Kustomization"]["images"][0]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image['name']}:{image['newTag']}"


def test_the_api_key_secret_the_deployment_reads_is_the_one_the_docs_create():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = (ROOT / "docs" / "deploy.md").read_text()
    command = re.search(r"^(kubectl create secret generic \S+ --from-literal=\S+)$", docs, re.M)[1]
    secret = yaml.safe_load(kustomize(*command.split()[1:], "--dry-run=client", "-o", "yaml"))
    kubernetes_validate.validate(secret, K8S_VERSIONS[-1], strict=True)
    (env,) = [item for item in container()["env"] if item["name"] == "PAIRSCORE_API_KEYS"]
    ref = env["valueFrom"]["secretKeyRef"]
    assert secret["metadata"]["name"] == ref["name"] and ref["key"] in secret["data"] and ref["optional"] is True


def deploy_md_commands() -> list[str]:
    """Every command line in docs/deploy.md's code blocks (continuation lines joined)."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    lines = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_every_command_in_deploy_md_is_one_a_test_runs():
    """docker, bentoml and kubectl lines are the tests' own commands (tests/container/docker_env.py's DOC_*, the
    kustomize and Secret commands above) or say that they need the reader's registry or cluster."""
    sys.path.insert(0, str(ROOT / "tests" / "container"))
    import docker_env

    run_by_tests = {value for name, value in vars(docker_env).items() if name.startswith("DOC_")}
    run_by_tests |= {
        "kubectl kustomize deploy/k8s",
        "kubectl create secret generic pairscore-api-keys --from-literal=keys=KEY1,KEY2",
    }
    run_by_tests |= {'make test PYTEST_ARGS="-m container tests/container"'}
    checked = 0
    for line in deploy_md_commands():
        command = line.split("  #")[0].strip()
        if command.split()[0] in ("docker", "bentoml", "kubectl", "make"):
            checked += 1
            assert command in run_by_tests or "# needs your" in line, line
    assert checked >= 8
