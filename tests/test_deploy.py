"""Replicated serving files (docker-compose.yml, deploy/): there is no Docker engine or cluster here,
so check what can be: the YAML parses, every probe and scrape path is a route the real server
answers, ports and image name are those of the Bento that bentofile.yaml builds, the load
balancer and Prometheus find every replica of the service, env names are the service's own."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "service"))
from server_process import start_server, stop_server  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
K8S_FILES = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
K8S = {doc["kind"]: doc for path in K8S_FILES for doc in yaml.safe_load_all(path.read_text()) if doc}
BENTOFILE = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
SERVICE_ENV = {"PAIRSCORE_ORT_THREADS", "PAIRSCORE_MODEL_DIR"}  # read outside service.limits (runtime, loading)


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
    assert "replicas" in COMPOSE["services"]["pairscore"]["deploy"]
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
    from service.limits import ENV

    known = set(ENV.values()) | SERVICE_ENV
    compose_env = COMPOSE["services"]["pairscore"]["environment"]
    k8s_env = {item["name"]: item["value"] for item in container()["env"]}
    assert set(compose_env) <= known and set(k8s_env) <= known, (set(compose_env) | set(k8s_env)) - known
    assert compose_env == k8s_env  # one set of limits, whichever way it is deployed
    resources = container()["resources"]
    cpu_limit = int(resources["limits"]["cpu"])
    assert (
        int(k8s_env["PAIRSCORE_ORT_THREADS"])
        == cpu_limit
        == int(COMPOSE["services"]["pairscore"]["deploy"]["resources"]["limits"]["cpus"])
    )
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
