"""The container image: size and cold build time, BentoML's default image against the one service/image.py names.

Builds the Bento of this checkout twice into images, each with no layer cache (`--opt no-cache`):
  default   BentoML 1.4's own image (the service names none): python:3.11-slim for this Python 3.11, starting
            with `apt-get install ... build-essential git gnupg2` (its Debian default install command)
  shipped   the repo as it is (service/image.py: the same base image, no distro, so no apt-get step)
and prints their sizes, the size of each image's layers by step, the base image's size and the cold build
times, then removes both images. Needs a Docker engine and the base image (deploy/offline-images/build.sh).

    python -m benchmarks.container_image        # ~3 min on 2 cores; writes benchmarks/out/container_image.json
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import REPO, md_table
from service.image import BASE_IMAGE

DEFAULT_IMAGE_LINE = "IMAGE = None  # the service names no image: BentoML's default"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def project_copy(root: Path, default_image: bool) -> Path:
    """What `bentoml build` reads (bentofile.yaml and what it includes), with BentoML's default image if asked."""
    for name in ("service", "pairscore", "models"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "bentofile.yaml", root)
    if default_image:
        image_py = root / "service" / "image.py"
        text, count = re.subn(r"^IMAGE = .*$", DEFAULT_IMAGE_LINE, image_py.read_text(), flags=re.M)
        assert count == 1, "service/image.py defines no IMAGE line"
        image_py.write_text(text)
    return root


def build(variant: str, workdir: Path) -> dict[str, Any]:
    project = project_copy(workdir / variant, default_image=variant == "default")
    tag = f"pairscore-size:{variant}"
    env = {**os.environ, "BENTOML_HOME": str(workdir / f"home-{variant}"), "BENTOML_DO_NOT_TRACK": "true"}
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"
    bentoml = [sys.executable, "-m", "bentoml"]
    started = time.monotonic()
    subprocess.run([*bentoml, "build"], cwd=project, env=env, check=True, capture_output=True)
    built = time.monotonic()
    subprocess.run(
        [*bentoml, "containerize", "pairscore:latest", "-t", tag, "--opt", "no-cache"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    done = time.monotonic()
    layers = []
    for line in docker("history", "--no-trunc", "--format", "{{json .}}", tag).splitlines():
        row = json.loads(line)
        size = _mb(row["Size"])
        if size >= 1:
            layers.append({"mb": size, "step": _step(row["CreatedBy"])})
    try:
        return {
            "variant": variant,
            "size_mb": int(docker("image", "inspect", "-f", "{{.Size}}", tag)) / 1e6,
            "build_s": built - started,
            "containerize_s": done - built,
            "layers": layers,
        }
    finally:
        docker("rmi", "-f", tag)


def _mb(size: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([kMG]?B)", size).groups()
    return float(number) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[unit]


def _step(created_by: str) -> str:
    text = " ".join(created_by.replace("/bin/sh -c #(nop) ", "").split())
    for marker, name in (
        ("build-essential", "apt-get install build-essential git gnupg2 (BentoML's default)"),
        ("uv-requirements", "pip install uv"),
        ("pip install -r", "uv pip install: the serving requirements"),
        ("COPY --chown=bentoml:bentoml", "COPY the Bento (code, models)"),
    ):
        if marker in text:
            return name
    return text[:60] or "base image"


def markdown(result: dict[str, Any]) -> str:
    by, base_mb = {r["variant"]: r for r in result["images"]}, result["base_mb"]
    rows = [
        [r["variant"], r["size_mb"], r["size_mb"] - base_mb, r["build_s"], r["containerize_s"]] for r in by.values()
    ]
    layer_rows = [[r["variant"], layer["step"], layer["mb"]] for r in by.values() for layer in r["layers"]]
    return "\n\n".join(
        [
            f"Base image `{result['base_image']}`: {base_mb:,.0f} MB (as present on this engine; "
            "deploy/offline-images builds a stand-in where no registry answers).",
            md_table(["image", "size MB", "over the base MB", "bentoml build s", "containerize s (no cache)"], rows),
            md_table(["image", "layer", "MB"], layer_rows),
            f"Dropped: {by['default']['size_mb'] - by['shipped']['size_mb']:,.0f} MB.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = harness.parse(harness.parser(__doc__, "container_image", models=False), argv)
    base_mb = int(docker("image", "inspect", "-f", "{{.Size}}", BASE_IMAGE)) / 1e6
    with harness.measuring(args, base_image=BASE_IMAGE, base_mb=base_mb) as result:
        with tempfile.TemporaryDirectory(prefix="container-image-") as tmp:
            result["images"] = [build(variant, Path(tmp)) for variant in ("default", "shipped")]
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
