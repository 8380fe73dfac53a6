"""The container image `bentoml containerize` builds: the official Python image plus the Bento, nothing else.

BentoML 1.4 starts the image of every distro it knows (its default is Debian) with
`apt-get install build-essential git gnupg2 ...`, whatever the base image. Serving never uses them:
every requirement in bentofile.yaml is a binary wheel, and the container healthchecks call Python,
not curl. An Image with no distro skips that step (docs/deploy.md: image size), at a price: the
base image must bring Python 3.11 and pip itself, and `docker.system_packages` in bentofile.yaml
would fail the build instead of installing anything.
"""

from __future__ import annotations

import bentoml

# deploy/offline-images/build.sh builds a stand-in of this name when no registry answers.
BASE_IMAGE = "python:3.11-slim"
IMAGE = bentoml.images.Image(base_image=BASE_IMAGE, python_version="3.11", distro=None)  # type: ignore[arg-type]
