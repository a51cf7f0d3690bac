"""The deployment files: docker-compose.yml (alone and with deploy/compose.host.yml), the
Dockerfile's shape, and deploy/postgres/init-databases.sh against the real PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.exc import OperationalError

from tests.support import infra

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
HOST = ROOT / "deploy" / "compose.host.yml"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"

PROJECT = ("sections", "voting", "secretariat", "gateway")
WITH_STORE = ("sections", "voting", "secretariat")
INFRA = ("rabbitmq", "postgres", "mailcatcher")

# Installing docker-compose with apt-get on a fresh machine can take longer than the default.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """docker-compose, installed from Debian if missing: these checks must not skip on CI."""
    found = shutil.which("docker-compose")
    if found:
        return found
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update", "-qq"], ["install", "-y", "-qq", "docker-compose"]):
        done = subprocess.run([*apt, *args], env=env, capture_output=True, text=True, timeout=800)
        assert done.returncode == 0, f"apt-get {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    found = shutil.which("docker-compose")
    assert found, "apt-get installed docker-compose but it is not on PATH"
    return found


def compose(docker_compose: str, files: tuple[Path, ...], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [docker_compose, "--project-directory", str(ROOT)]
    for file in files:
        command += ["-f", str(file)]
    # No daemon is needed for `config`; the settings the files read are pinned so the host's own
    # environment (an AMQP_URI from `make run`, say) cannot change the answer.
    clean = {k: v for k, v in os.environ.items() if k not in _COMPOSE_VARIABLES}
    return subprocess.run(
        [*command, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


_COMPOSE_VARIABLES = {
    "AMQP_URI",
    "EVENTS_AMQP_URI",
    "ADMIN_TOKEN",
    "OBSERVER_TOKEN",
    "GATEWAY_PORT",
    "DB_PREFIX",
    "SECTIONS_DB_PASSWORD",
    "VOTING_DB_PASSWORD",
    "SECRETARIAT_DB_PASSWORD",
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
    "COMPOSE_PROJECT_NAME",
}


def config(docker_compose: str, *files: Path, **env: str) -> dict[str, Any]:
    done = compose(docker_compose, files, "config", **env)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "docker-compose config renders environment as a mapping"
    return {k: "" if v is None else str(v) for k, v in env.items()}


# ---- docker-compose.yml ------------------------------------------------------------------


@pytest.mark.parametrize("files", [(BASE,), (BASE, HOST)], ids=["base", "base+host"])
def test_compose_accepts_the_files(docker_compose: str, files: tuple[Path, ...]) -> None:
    done = compose(docker_compose, files, "config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_spec_without_version_key() -> None:
    for file in (BASE, HOST):
        assert "version" not in yaml.safe_load(file.read_text()), file


def test_voting_can_be_scaled(docker_compose: str) -> None:
    voting = config(docker_compose, BASE)["services"]["voting"]
    assert "container_name" not in voting
    assert not voting.get("ports")


def test_project_services_are_built_from_the_one_dockerfile(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    for name in PROJECT:
        build = services[name]["build"]
        assert Path(build["context"]) == ROOT, name
        assert build["dockerfile"] == "deploy/Dockerfile", name
        assert build["args"] == {"SERVICE": name}, name
        assert "congress/" + name in services[name]["image"], name


def test_every_service_has_a_health_check(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    for name in (*PROJECT, *INFRA):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
    for name in WITH_STORE:
        assert "congress-service check" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "/health" in " ".join(services["gateway"]["healthcheck"]["test"])


def test_services_wait_for_healthy_infrastructure(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    for name in WITH_STORE:
        depends = services[name]["depends_on"]
        for needed in ("rabbitmq", "postgres"):
            assert depends[needed] == {"condition": "service_healthy"}, (name, needed)
    gateway = services["gateway"]["depends_on"]
    for needed in ("rabbitmq", *WITH_STORE):
        assert gateway[needed] == {"condition": "service_healthy"}, needed


def test_each_service_uses_its_own_database_and_role(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    for name in WITH_STORE:
        env = environment(services[name])
        url = sa.engine.make_url(env["DATABASE_URL"])
        assert (url.drivername, url.host, url.username, url.database) == ("postgresql+psycopg2", "postgres", name, name)
    assert "DATABASE_URL" not in environment(services["gateway"])
    mounts = [str(v) for v in services["postgres"].get("volumes", [])]
    assert any("init-databases.sh" in m and "/docker-entrypoint-initdb.d/" in m for m in mounts), mounts


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Named volumes by target: (volume, read-only)."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (str(volume.get("source")), bool(volume.get("read_only")))
        else:
            source, target, *mode = str(volume).split(":")
            found[target] = (source, mode == ["ro"])
    return found


def test_each_service_connects_as_its_own_broker_account_from_its_own_volume(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    for name in PROJECT:
        env = environment(services[name])
        # No broker password in any service's settings: the administrator's stays with `accounts`.
        assert "AMQP_URI" not in env, name
        assert env["AMQP_URI_FILE"] == "/var/lib/congress/broker/amqp_uri", name
        assert mounts(services[name])["/var/lib/congress/broker"] == (f"broker-{name}", True), name
        needs = services[name]["depends_on"]
        for step in ("keys", "accounts"):
            assert needs[step] == {"condition": "service_completed_successfully"}, (name, step)
    accounts = services["accounts"]
    assert accounts["entrypoint"] == ["congress-service", "accounts", "apply"]
    assert {target: volume for target, (volume, _) in mounts(accounts).items()} == {
        f"/var/lib/congress/broker/{name}": f"broker-{name}" for name in PROJECT
    }
    env = environment(accounts)
    assert env["RABBITMQ_MANAGEMENT_URL"] == "http://rabbitmq:15672"
    assert env["RABBITMQ_ADMIN_USER"] and env["RABBITMQ_ADMIN_PASSWORD"]
    assert "@" not in env["AMQP_URI"], "only where the services connect, no credentials"
    assert accounts["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    assert services["rabbitmq"]["image"].endswith("-management"), "accounts needs the management API"
    # Only `accounts` and the service itself see a service's broker volume.
    for name in PROJECT:
        holders = {s for s, svc in services.items() if any(v == f"broker-{name}" for v, _ in mounts(svc).values())}
        assert holders == {name, "accounts"}, name


def test_keys_are_made_once_and_mounted_read_only_where_needed(docker_compose: str) -> None:
    services = config(docker_compose, BASE)["services"]
    keys = services["keys"]
    assert "keys init" in " ".join(keys["command"])
    assert {v for v, _ in mounts(keys).values()} == {"service-key", "voting-keys"}
    for name in PROJECT:
        env = environment(services[name])
        assert env["CONGRESS_SERVICE_KEY_FILE"].startswith("/var/lib/congress/keys/service/"), name
        assert mounts(services[name])["/var/lib/congress/keys/service"] == ("service-key", True), name
        voting_keys = [t for t, (v, _) in mounts(services[name]).items() if v == "voting-keys"]
        has_ballot_key = "BALLOT_KEY_FILE" in env or "RECORD_SIGNING_KEY_FILE" in env
        if name == "voting":
            assert voting_keys == ["/var/lib/congress/keys/voting"]
            assert mounts(services[name])["/var/lib/congress/keys/voting"][1], "read-only"
            for key in ("BALLOT_KEY_FILE", "RECORD_SIGNING_KEY_FILE"):
                assert env[key].startswith("/var/lib/congress/keys/voting/"), key
        else:
            assert not voting_keys and not has_ballot_key, "the ballot and record keys are voting's alone"
    for step in ("keys", "accounts"):
        assert services[step]["restart"] == "no" and services[step]["healthcheck"] in (
            {"disable": True},
            {"test": ["NONE"]},
        )
        assert services[step]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_dockerfile_makes_the_mount_points_private_to_the_service_user() -> None:
    text = DOCKERFILE.read_text()
    final = re.split(r"^FROM ", text, flags=re.M)[-1]
    made = re.search(r"install -d -o 10001 -g 10001 -m 0700 ((?:[^\n]*\\\n)*[^\n]*)", final)
    assert made, "install -d … in the final stage"
    folders = set(made.group(1).replace("\\", " ").split())
    for service in PROJECT:
        assert f"/var/lib/congress/broker/{service}" in folders
    assert {"/var/lib/congress/keys/service", "/var/lib/congress/keys/voting", "/var/lib/congress/broker"} <= folders


def test_gateway_port_and_admin_token_come_from_the_environment(docker_compose: str) -> None:
    default = config(docker_compose, BASE)["services"]["gateway"]
    assert environment(default)["ADMIN_TOKEN"] == ""  # the gateway then makes one and prints it
    assert [(p["published"], p["target"]) for p in default["ports"]] == [(8000, 8000)]

    chosen = config(docker_compose, BASE, GATEWAY_PORT="8300", ADMIN_TOKEN="s3cret")["services"]["gateway"]
    assert environment(chosen)["ADMIN_TOKEN"] == "s3cret"
    assert environment(chosen)["GATEWAY_PORT"] == "8300"
    assert [(p["published"], p["target"]) for p in chosen["ports"]] == [(8300, 8300)]


# ---- docker-compose.yml + deploy/compose.host.yml ------------------------------------------


def test_host_override_runs_the_services_on_the_host_network(docker_compose: str) -> None:
    services = config(docker_compose, BASE, HOST, DB_PREFIX="smoke_")["services"]
    enabled = {name: s for name, s in services.items() if not s.get("profiles")}
    # The machine provides RabbitMQ and PostgreSQL; the gateway's stand-in publishes no port.
    assert set(enabled) == {"sections", "voting", "secretariat", "gateway-host", "keys", "accounts"}
    for name, service in enabled.items():
        assert service["network_mode"] == "host", name
        assert service["build"]["network"] == "host", name
        assert not service.get("ports"), name
        assert "container_name" not in service, name
        if name in ("keys", "accounts"):
            continue
        assert service.get("healthcheck", {}).get("test"), name
        assert environment(service)["AMQP_URI_FILE"] == "/var/lib/congress/broker/amqp_uri", name
        assert "AMQP_URI" not in environment(service), name
    accounts = environment(enabled["accounts"])
    assert accounts["RABBITMQ_MANAGEMENT_URL"] == "http://127.0.0.1:15672"
    assert accounts["AMQP_URI"].endswith("@127.0.0.1:5672/") or accounts["AMQP_URI"] == "amqp://127.0.0.1:5672/"
    gateway_mounts = mounts(enabled["gateway-host"])
    assert gateway_mounts["/var/lib/congress/broker"] == ("broker-gateway", True)
    assert gateway_mounts["/var/lib/congress/keys/service"] == ("service-key", True)
    for name in WITH_STORE:
        url = sa.engine.make_url(environment(enabled[name])["DATABASE_URL"])
        assert (url.host, url.username, url.database) == ("127.0.0.1", f"smoke_{name}", f"smoke_{name}")
    assert enabled["gateway-host"]["build"]["args"] == {"SERVICE": "gateway"}
    assert enabled["gateway-host"]["image"] == services["gateway"]["image"]
    assert set(environment(enabled["gateway-host"])) >= set(environment(services["gateway"])) - {"AMQP_URI"}


# ---- deploy/Dockerfile and .dockerignore ---------------------------------------------------


def test_dockerfile_installs_dependencies_before_the_code() -> None:
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert all(stage.startswith("python:3.11-slim") or stage.startswith("deps ") for stage in stages)
    assert "ARG SERVICE" in text
    assert text.index("pip install -c constraints.txt") < text.index("COPY shared/ ")
    final = stages[-1]
    assert re.search(r"^USER (?!0\b|root\b)\S+", final, flags=re.M), "the final stage must not run as root"
    assert "HEALTHCHECK" in final
    assert "ENTRYPOINT" in final and "congress-service run" in final
    assert not re.search(r"apt-get|build-essential|gcc", text), "no compilers in the images"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "tests", "**/__pycache__"} <= ignored


# ---- deploy/postgres/init-databases.sh -----------------------------------------------------


@pytest.fixture
def databases() -> Iterator[dict[str, Any]]:
    """Runs the script with a unique DB_PREFIX; drops what it made afterwards."""
    admin = sa.engine.make_url(infra.PG_ADMIN_URL)
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    passwords = {s: uuid.uuid4().hex for s in WITH_STORE}
    env = {
        **os.environ,
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGUSER": admin.username or "postgres",
        "PGDATABASE": admin.database or "postgres",
        "DB_PREFIX": prefix,
        **{f"{s.upper()}_DB_PASSWORD": pw for s, pw in passwords.items()},
    }
    if admin.password:
        env["PGPASSWORD"] = admin.password
    made = {"prefix": prefix, "passwords": passwords, "env": env, "admin": admin}
    try:
        yield made
    finally:
        engine = sa.create_engine(infra.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for service in WITH_STORE:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{prefix}{service}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "{prefix}{service}"'))
        engine.dispose()


def run_script(env: dict[str, str], *, sourced: bool = False) -> subprocess.CompletedProcess[str]:
    if sourced:
        # As the postgres image's entrypoint runs a non-executable init script: sourced into a
        # `set -Eeo pipefail` shell, which must carry on with its own options unchanged.
        command = ["bash", "-c", f'set -Eeo pipefail; . "{INIT_DATABASES}"; echo "options:$-"']
    else:
        command = [str(INIT_DATABASES)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def role_url(made: dict[str, Any], role_of: str, database_of: str) -> sa.URL:
    admin, prefix = made["admin"], made["prefix"]
    return sa.URL.create(
        "postgresql+psycopg2",
        username=prefix + role_of,
        password=made["passwords"][role_of],
        host=admin.host,
        port=admin.port,
        database=prefix + database_of,
    )


def test_init_databases_gives_each_role_its_own_database_only(databases: dict[str, Any]) -> None:
    first = run_script(databases["env"])
    assert first.returncode == 0, first.stderr

    for service in WITH_STORE:
        engine = sa.create_engine(role_url(databases, service, service))
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE mine (id int PRIMARY KEY)"))
                conn.execute(sa.text("INSERT INTO mine VALUES (1)"))
                assert conn.execute(sa.text("SELECT current_user")).scalar() == databases["prefix"] + service
                superuser = sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                assert conn.execute(superuser).scalar() is False
        finally:
            engine.dispose()
        for other in WITH_STORE:
            if other == service:
                continue
            engine = sa.create_engine(role_url(databases, service, other))
            try:
                with pytest.raises(OperationalError, match="permission denied for database"):
                    engine.connect().close()
            finally:
                engine.dispose()

    # Again, plainly and then the way the postgres image runs it: nothing lost, nothing opened.
    again = run_script(databases["env"])
    assert again.returncode == 0, again.stderr
    sourced = run_script(databases["env"], sourced=True)
    assert sourced.returncode == 0, sourced.stderr
    assert "u" not in sourced.stdout.rsplit("options:", 1)[1], "the script leaked `set -u` into its caller"

    admin = sa.create_engine(infra.PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT datname, pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database"
                    " WHERE datname LIKE :pattern"
                ),
                {"pattern": databases["prefix"] + "%"},
            ).all()
    finally:
        admin.dispose()
    assert {r.datname for r in rows} == {databases["prefix"] + s for s in WITH_STORE}
    for row in rows:
        assert row.owner == row.datname
        # No "=c/" entry: PUBLIC holds no CONNECT.
        assert not re.search(r"(^|[{,])=", row.acl or ""), row.acl
    for service in WITH_STORE:
        engine = sa.create_engine(role_url(databases, service, service))
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM mine")).scalar() == 1
        finally:
            engine.dispose()
