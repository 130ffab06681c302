"""deploy/: every manifest parses and validates, and uses only what the code reads.

* Kubernetes objects (base and production overlay, built by ``kubectl kustomize``
  when kubectl is installed, else the base files as written) are checked against the
  Kubernetes JSON schemas of ``kubernetes-validate`` (strict: unknown fields fail).
* Alert rules go through ``promtool check rules`` when promtool is installed
  (``scripts/test`` installs Debian's ``prometheus`` package for it).
* Every ``QREFUND_*`` variable is a setting, every other variable is one a library
  we run reads, every command and option is one of the ``qrefund`` CLI's, every
  queue a queue, every probe path a route, every port the one its process listens on;
  every metric the alerts and the dashboard use is one the code exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from qrefund.cli import app as cli_app
from qrefund.jobs.registry import QUEUES
from qrefund.platform.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"
# Variables the manifests set that qrefund itself does not read, and who does.
FOREIGN_VARIABLES = {
    "PROMETHEUS_MULTIPROC_DIR": "prometheus-client's multiprocess mode",
    "FORWARDED_ALLOW_IPS": "uvicorn (trusted X-Forwarded-For sources)",
    "PYTHONDONTWRITEBYTECODE": "Python",
    "PYTHONUNBUFFERED": "Python",
}


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return [d for p in sorted(directory.glob("*.yaml")) if p.name != "kustomization.yaml"
                for d in _documents(p)]
    built = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True,
                           text=True, check=True, timeout=60)
    return [d for d in yaml.safe_load_all(built.stdout) if d is not None]


def _objects() -> Iterator[tuple[str, dict[str, Any]]]:
    for directory in (K8S / "base", K8S / "overlays" / "production"):
        for obj in _kustomize(directory):
            yield directory.name, obj


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return list(pod.get("containers", []))


def test_every_manifest_parses() -> None:
    files = _yaml_files()
    assert len(files) >= 10
    for path in files:
        assert _documents(path), path
    json.loads((DEPLOY / "grafana" / "qrefund.json").read_text())


def test_kubernetes_objects_match_the_kubernetes_schemas() -> None:
    kinds = set()
    for where, obj in _objects():
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {obj['kind']}/{obj['metadata']['name']}: "
                                 f"{exc.message} at {list(exc.path)}") from None
        kinds.add(obj["kind"])
    assert {"Deployment", "Service", "Ingress", "Job", "ConfigMap", "PodDisruptionBudget",
            "HorizontalPodAutoscaler", "PersistentVolumeClaim"} <= kinds


def test_the_overlay_builds_with_kustomize() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the overlay is not built (base files checked)")
    built = {(o["kind"], o["metadata"]["name"]): o
             for o in _kustomize(K8S / "overlays" / "production")}
    assert all(o["metadata"].get("namespace") == "qrefund" for (k, _), o in built.items()
               if k != "Namespace")
    assert built[("Deployment", "qrefund-scheduler")]["spec"]["replicas"] == 1
    assert built[("Deployment", "qrefund-api")]["spec"]["replicas"] == 4
    assert ("Job", "qrefund-migrate-0-1-0") in built
    images = {c["image"] for o in built.values() for c in _containers(o)}
    assert images == {"registry.example.com/qrefund:0.1.0"}


def test_the_scheduler_runs_alone_and_probes_are_set() -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for _, o in _objects()}
    scheduler = objects[("Deployment", "qrefund-scheduler")]["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"]["type"] == "Recreate"
    (api,) = _containers(objects[("Deployment", "qrefund-api")])
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for _, obj in _objects():
        for container in _containers(obj):
            assert {"requests", "limits"} <= set(container["resources"]), obj["metadata"]


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus): rules only parsed")
    done = subprocess.run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# -- what the manifests use is what the code reads ---------------------------------------


def _setting_variables() -> set[str]:
    return {f"QREFUND_{name.upper()}" for name in Settings.model_fields}


def _compose_services() -> dict[str, dict[str, Any]]:
    compose = _documents(DEPLOY / "docker-compose.yml")[0]
    services: dict[str, dict[str, Any]] = compose["services"]
    return {name: s for name, s in services.items() if s.get("image", "").startswith("qrefund")}


def _dockerfile_env() -> dict[str, str]:
    final = (DEPLOY / "Dockerfile").read_text().split("\nFROM ")[-1]
    pairs = re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+)", final)
    return dict(pairs)


def _used_variables() -> dict[str, str]:
    """Variable -> where it is set, for every qrefund container."""
    used = {name: "Dockerfile" for name in _dockerfile_env()}
    for name, service in _compose_services().items():
        used |= {var: f"compose {name}" for var in service.get("environment", {})}
    for where, obj in _objects():
        if obj["kind"] == "ConfigMap":
            used |= {var: f"{where} ConfigMap" for var in obj["data"]}
        for container in _containers(obj):
            used |= {e["name"]: f"{where} {obj['metadata']['name']}"
                     for e in container.get("env", [])}
    return used


def test_every_variable_is_a_setting_or_a_known_library_variable() -> None:
    settings = _setting_variables()
    unknown = {var: where for var, where in _used_variables().items()
               if var not in settings and var not in FOREIGN_VARIABLES}
    assert unknown == {}


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    final = (DEPLOY / "Dockerfile").read_text().split("\nFROM ")[-1]
    found.append(("Dockerfile CMD", json.loads(re.search(r"^CMD (.+)$", final, re.M)[1])))
    for name, service in _compose_services().items():
        if "command" in service:
            found.append((f"compose {name}", service["command"]))
    for where, obj in _objects():
        for container in _containers(obj):
            found.append((f"{where} {obj['metadata']['name']}", container["args"]))
    return found


def test_every_command_option_and_queue_is_the_clis() -> None:
    group: Any = typer.main.get_command(cli_app)
    assert "ENTRYPOINT [\"qrefund\"]" in (DEPLOY / "Dockerfile").read_text()
    for where, args in _commands():
        command = group.commands.get(args[0])
        assert command is not None, f"{where}: qrefund has no command {args[0]!r}"
        options = {o for p in command.params for o in p.opts}
        given = [a for a in args[1:] if a.startswith("-")]
        assert set(given) <= options, f"{where}: {given} not among {sorted(options)}"
        if "--queues" in args:
            queues = args[args.index("--queues") + 1].split(",")
            assert set(queues) <= set(QUEUES), f"{where}: {queues}"


def test_ports_and_probe_paths_are_the_processes() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert _dockerfile_env()["QREFUND_PORT"] == str(defaults.port)
    from qrefund.app import create_app

    routes = {getattr(r, "path", None) for r in create_app(defaults).routes}
    for where, obj in _objects():
        for container in _containers(obj):
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            if "http" in ports:  # the API: QREFUND_PORT of the image
                assert ports["http"] == defaults.port, where
            if "metrics" in ports:  # a worker: its metrics server
                assert str(ports["metrics"]) == env["QREFUND_WORKER_METRICS_PORT"], where
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in container:
                    get = container[probe]["httpGet"]
                    assert get["port"] in ports and get["path"] in routes | {"/metrics"}
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert f"server api:{defaults.port};" in nginx and "Upgrade $http_upgrade" in nginx


def _exported_metric_names() -> set[str]:
    from prometheus_client import REGISTRY

    from qrefund.jobs.monitoring import QueueFigures, ScrapeCollector, ScrapeFigures
    from qrefund.observability import metrics  # noqa: F401 - registers the metrics
    from qrefund.platform.monitoring.service import Snapshot

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",)}
    names = {family.name + suffix for family in REGISTRY.collect()
             for suffix in suffixes.get(family.type, ("",))}
    figures = ScrapeFigures({"payouts": QueueFigures()},
                            Snapshot({("refund_case", "review", "past", "agency"): 1}, 0.0, 0))
    names |= {s.name for family in ScrapeCollector(figures).collect() for s in family.samples}
    return {n for n in names if n.startswith("qrefund_")}


def test_alerts_and_dashboard_use_only_exported_metrics() -> None:
    exported = _exported_metric_names()
    # Counters and histograms are exported even before anything is counted
    assert {"qrefund_requests_total", "qrefund_request_duration_seconds_bucket",
            "qrefund_queue_depth", "qrefund_deadlines_at_risk"} <= exported
    for path in (DEPLOY / "prometheus" / "alerts.yml", DEPLOY / "grafana" / "qrefund.json"):
        used = set(re.findall(r"\bqrefund_[a-z_]+", path.read_text())) - {"qrefund_api"}
        assert used and used <= exported, (path.name, sorted(used - exported))
    rules = _documents(DEPLOY / "prometheus" / "alerts.yml")[0]["groups"][0]["rules"]
    assert {"QrefundPayoutFailures", "QrefundOutboxLag", "QrefundDeadlinesBreached",
            "QrefundHigh5xxRate", "QrefundQueueOldJob"} <= {r["alert"] for r in rules}


# -- the image -----------------------------------------------------------------------------


def test_the_dockerfile_builds_wheels_first_and_runs_without_compilers_or_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and " AS wheels" in stages[0] and "pip wheel" in stages[0]
    final = stages[1]
    assert "--no-index --find-links" in final  # installs only the built wheels
    assert not re.search(r"build-essential|gcc|apt-get install", final)
    assert re.search(r"^USER 10001", final, re.M) and "HEALTHCHECK" in final
    assert 'ENTRYPOINT ["qrefund"]' in final


def _engine() -> str | None:
    for name in ("docker", "podman"):
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True,
                                   timeout=30).returncode == 0:
            return path
    return None


def test_the_image_builds() -> None:
    engine = _engine()
    if engine is None:
        pytest.skip("no running container engine (docker/podman): the image is not built")
    done = subprocess.run([engine, "build", "-f", str(DEPLOY / "Dockerfile"), "-t",
                           "qrefund:test", str(ROOT)], capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
