"""Import boundaries of DESIGN.md §2, checked on the source (not on what happens to be imported)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "accounts",
    "invoices",
    "ksef_integration",
    "ksef_simulator",
    "ksefportal",
    "payments",
    "integrations",
)


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    target = ROOT / package
    for path in [target] if target.is_file() else target.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path}: {name}"
        for path, names in _imports(package).items()
        for name in names
        if name.split(".")[0] in forbidden or any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ksef_integration/ksef", ("django", "accounts", "invoices", "ksef_simulator", "ksefportal")),
        ("ksef_integration", ("ksef_simulator",)),
        ("ksef_simulator", ("ksef_integration", "invoices")),
        ("invoices", ("ksef_integration", "ksef_simulator")),
        ("accounts", ("ksef_integration", "ksef_simulator", "invoices")),
        # payments reads invoices; KSeF work reaches it only through invoices' signals and hooks (of
        # ksef_integration it may use the pure KSeF library alone: test_payments_uses_only_the_ksef_library).
        ("payments", ("ksef_simulator",)),
        ("invoices", ("payments",)),
        ("ksef_integration", ("payments",)),
        ("ksef_simulator", ("payments",)),
        # integrations (the API and webhooks) hangs on invoices' signals; nothing imports it but the URLconf.
        ("integrations", ("ksef_simulator", "payments")),
        ("invoices", ("integrations",)),
        ("ksef_integration", ("integrations",)),
        ("accounts", ("integrations",)),
        ("payments", ("integrations",)),
        # The white-list client, like the KSeF client, imports no Django.
        ("payments/whitelist_client.py", ("django", "accounts", "invoices", "ksefportal")),
        # The feature packages of ksef_integration (README "Architecture"): sending never imports importing,
        # importing never imports sending's internals or offline, the pure client and FA(3) know no feature.
        ("ksef_integration/sending", ("ksef_integration.importing",)),
        ("ksef_integration/importing", ("ksef_integration.sending", "ksef_integration.offline")),
        ("ksef_integration/connect", ("ksef_integration.sending", "ksef_integration.importing")),
        (
            "ksef_integration/fa3",
            (
                "ksef_integration.sending",
                "ksef_integration.importing",
                "ksef_integration.offline",
                "ksef_integration.connect",
            ),
        ),
    ],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(package, forbidden) == []


def test_payments_uses_only_the_ksef_library() -> None:
    """Transfer titles check KSeF numbers with ``ksef_integration.ksef`` (no Django, no feature); nothing
    else of ksef_integration (models, connection, sending) is payments' business."""
    offenders = [
        f"{path}: {name}"
        for path, names in _imports("payments").items()
        for name in names
        if name.split(".")[0] == "ksef_integration" and not name.startswith("ksef_integration.ksef.")
    ]
    assert offenders == []
    assert any("ksef_integration.ksef.numbers" in names for names in _imports("payments").values())


def test_the_checker_sees_imports() -> None:
    assert "django.conf" in _imports("accounts")["accounts/services.py"]


def _code_files() -> list[Path]:
    return [
        path for package in APPS for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
    ]


def test_nothing_imports_the_tasks_module() -> None:
    """Work is queued by task name (ksef_integration.queue, accounts.queue); tasks import services, never
    the reverse, in every app."""
    offenders = []
    for path in [p for app in APPS for p in (ROOT / app).rglob("*.py")]:
        if path.name == "tasks.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.endswith(".tasks")]
    assert offenders == []


def test_no_module_imports_another_modules_private_names() -> None:
    """``from x import _y`` across modules makes ``_y`` an API nobody promised; make it public or move it."""
    offenders = [
        f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
        for path in _code_files()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert offenders == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    """``module._name`` of an imported project module (``send._backoff``) is the same thing in disguise."""
    offenders = []
    for path in _code_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        project_modules = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in APPS
            for alias in node.names
        }
        offenders += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in project_modules
            and not node.value.id[0].isupper()  # a class (its ``_meta``…), not a module
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ]
    assert offenders == []
