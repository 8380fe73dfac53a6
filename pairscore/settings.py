"""Every `PAIRSCORE_*` setting in one place: its variable, default, range and the one line a bad value prints.

The service, the jobs and training read the environment only through `settings()`, so a setting is documented
once (docs/service.md's table is tested against `documented()`) and a bad value stops start-up with one line
naming the variable instead of a traceback from whichever module met it first. pydantic-settings does the
parsing; this module only words its errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pairscore.tasks import TASKS, TaskName

PREFIX = "PAIRSCORE_"
# The heads whose output is labelled (TEI's /predict answers [{label, score}]): not a bare ranking score.
LabelledTask = Literal[tuple(name for name, task in TASKS.items() if task.kind != "score")]  # type: ignore[valid-type]


class BadSetting(ValueError):
    """An environment value pairscore cannot run with; its message is the one line start-up prints."""


class Settings(BaseSettings):
    """The settings and their defaults; each description is the limits table's line in docs/service.md."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    # request limits: over one, a request is refused alone with 413 naming the field, the limit and the variable
    max_pairs: int = Field(256, gt=0, description="pairs per `/entailment` or `/paraphrase` request")
    max_answers: int = Field(1000, gt=0, description="answers per `/rank` request")
    max_texts: int = Field(256, gt=0, description="texts per `/embed` request")
    max_chars: int = Field(10_000, gt=0, description="characters per text (premise, hypothesis, question, answer, …)")
    max_body_bytes: int = Field(2 * 1024 * 1024, gt=0, description="request body size")
    max_in_flight: int = Field(
        64, gt=0, description="requests served at once (counted once their body is in); more get 503 at once"
    )
    timeout_s: float = Field(30.0, gt=0, allow_inf_nan=False, description="a request not answered by then gets 503")
    # connections (service/connections.py): what a slow or idle client may hold
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds a request's headers, and then its body, may take to arrive; past either, 408 and the "
        "connection is closed",
    )
    max_header_bytes: int = Field(
        16 * 1024, gt=0, description="request line and headers, in bytes; more: 431 and the connection is closed"
    )
    max_headers: int = Field(100, gt=0, description="header fields per request; more: 431 and the connection is closed")
    keep_alive_s: float = Field(
        5.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds an idle connection (before its first request or between two) is kept open",
    )
    max_connections: int = Field(
        1000,
        gt=0,
        description="open connections per server process; a request on one more gets 503 and its connection is closed",
    )
    max_batch_pairs: int = Field(
        256,
        ge=2,
        description="pairs per adaptive batch (one model call) of `/entailment` or `/paraphrase`; at least 2",
    )
    max_latency_ms: int = Field(
        10_000, gt=0, description="queueing budget of the adaptive batcher; past it, it sheds load with 503"
    )
    cache_entries: int = Field(
        20_000, ge=0, description="vectors (and texts) the vector cache keeps per encoder; 0 turns the cache off"
    )
    cache_mb: float = Field(
        32.0,
        ge=0,
        allow_inf_nan=False,
        description="megabytes of vectors, token ids and texts the cache keeps per encoder",
    )
    access_log: int = Field(0, ge=0, description="1 turns on BentoML's per-request access log")
    tracing: int = Field(
        0,
        ge=0,
        description="1 keeps BentoML's OpenTelemetry span of every request (for an exporter set in BentoML's "
        "configuration); 0 skips them, a fifth of a 1-pair request's worker CPU",
    )
    gc_freeze: int = Field(
        1,
        ge=0,
        description="`gc.freeze()` once the models are loaded, so full garbage collections skip what lives as long "
        "as the process; 0 turns it off",
    )
    debug_gc: int = Field(
        0,
        ge=0,
        description="1 mounts `POST /debug/gc`: a full collection, then the live objects by type (for tests and leak "
        "hunting; not for production)",
    )
    # the engine and the models
    ort_threads: int | None = Field(
        None, gt=0, description="encoder calls run at once per model, each an onnxruntime session on one thread"
    )
    model_dir: Path | None = Field(None, description="folder with the three model folders")
    # API keys (service/auth.py)
    api_keys: str = Field(
        "",
        description="API keys, comma-separated: set, every request but the probes and the scrape needs one (below)",
    )
    api_keys_file: Path | None = Field(
        None,
        description="a file with one API key per line (`#` starts a comment), e.g. a mounted Kubernetes Secret; "
        "added to `PAIRSCORE_API_KEYS`. A file that cannot be read or holds no key stops start-up naming it",
    )
    # the drop-in dialects (service/dialects): which model answers where a dialect's body names none
    tei_embed_task: TaskName = Field(
        "entailment",
        description="the encoder text-embeddings-inference's `/embed` (an `inputs` body) and `/similarity` use",
    )
    tei_predict_task: LabelledTask = Field(
        "entailment", description="the head text-embeddings-inference's `/predict` answers with"
    )
    # data and caches (jobs and training)
    data_dir: Path | None = Field(
        None, description="where source specs such as `snli/validation` are read (training, `pairscore evaluate`)"
    )
    cache_dir: Path | None = Field(None, description="the distillation teachers and their cached vectors (training)")

    @property
    def threads(self) -> int:
        """Encoder calls at once: the setting, else every core up to 4."""
        return self.ort_threads or max(1, min(4, os.cpu_count() or 1))


# How the docs table writes a default where the value alone says too little (None: what unset means).
SHOWN_DEFAULTS = {
    "max_body_bytes": "2097152 (2 MiB)",
    "max_header_bytes": "16384 (16 KiB)",
    "ort_threads": "cores, at most 4",
    "model_dir": "`models` next to `service/`",
    "api_keys": "unset",
    "api_keys_file": "unset",
    "data_dir": "`../shared/data`",
    "cache_dir": "`~/.cache/pairscore`",
}
# The numeric limits and knobs /info shows (never the keys or paths).
LIMIT_FIELDS = tuple(Settings.model_fields)[: tuple(Settings.model_fields).index("debug_gc") + 1]


def env_name(field: str) -> str:
    """The environment variable of a setting, as errors and docs name it."""
    return PREFIX + field.upper()


def read(env: dict[str, str] | None = None) -> Settings:
    """The settings from the process environment, or from `env` (tests); BadSetting names the first bad variable."""
    try:
        if env is None:
            return Settings()
        values = {name: env[env_name(name)] for name in Settings.model_fields if env.get(env_name(name), "") != ""}
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0])
        raise BadSetting(f"{env_name(name)}={error['input']!r} is not accepted: expected {_accepted(name)}") from None


def settings() -> Settings:
    """The process's settings as they are now (a few microseconds: callers that keep them, keep the object)."""
    return read()


def _accepted(name: str) -> str:
    """What a setting accepts, in words."""
    field = Settings.model_fields[name]
    if get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(get_args(field.annotation))
    annotation = str(field.annotation)
    if "Path" in annotation or annotation == "<class 'str'>":
        return "a path" if "Path" in annotation else "text"
    what = "a number" if "float" in annotation else "a whole number"
    bounds = {type(m).__name__: m for m in field.metadata}
    if "Ge" in bounds:
        floor = bounds["Ge"].ge
        return f"{what}, 0 or more (0 turns it off)" if floor == 0 else f"{what}, at least {floor}"
    return f"{what} above 0"


def documented() -> dict[str, tuple[str, str]]:
    """{variable: (default as the docs write it, description)} for docs/service.md's table."""
    rows = {}
    for name, field in Settings.model_fields.items():
        default = SHOWN_DEFAULTS.get(name, field.default)
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        rows[env_name(name)] = (str(default), field.description or "")
    return rows


def table() -> str:
    """docs/service.md's limits table, as `python -m pairscore.settings` prints it."""
    rows = [f"| `{variable}` | {default} | {what} |" for variable, (default, what) in documented().items()]
    return "\n".join(["| variable | default | what |", "|---|---|---|", *rows])


if __name__ == "__main__":
    print(table())
