"""docker-compose.yml cannot run here (no Docker engine); check its shape and that its commands exist."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def test_compose_services_share_one_image_and_read_env() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert "healthcheck" in services["db"]
    assert any(str(v).endswith("/var/lib/postgresql/data") for v in services["db"]["volumes"])
    assert services["redis"]["image"].startswith("redis:")
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["build"]["context"] == "."
        assert service["image"] == services["web"]["image"]
        assert ".env" in str(service["env_file"])
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "postgres://" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "ksefportal.wsgi" in " ".join(services["web"]["command"])
    # Both under the supervisor that starts a killed process again (issue 16), the worker on threads.
    supervised = ["python", "bin/celery_worker.py", "-A", "ksefportal"]
    assert services["worker"]["command"][:5] == [*supervised, "worker"]
    assert services["worker"]["command"][5:7] == ["--pool", "threads"]
    assert services["beat"]["command"][:5] == [*supervised, "beat"]
    assert (ROOT / "bin" / "celery_worker.py").is_file()
    assert "DatabaseScheduler" in " ".join(services["beat"]["command"])


def test_dockerfile_installs_the_locked_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile
    assert "USER " in dockerfile  # not root
