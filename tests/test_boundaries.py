"""Import boundaries of DESIGN.md §2, checked on the source (not on what happens to be imported)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
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
        if name.split(".")[0] in forbidden or name in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ksef_integration/ksef", ("django", "accounts", "invoices", "ksef_simulator", "ksefportal")),
        ("ksef_integration", ("ksef_simulator",)),
        ("ksef_simulator", ("ksef_integration", "invoices")),
        ("invoices", ("ksef_integration", "ksef_simulator")),
        ("accounts", ("ksef_integration", "ksef_simulator", "invoices")),
    ],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(package, forbidden) == []


def test_the_checker_sees_imports() -> None:
    assert "django.conf" in _imports("accounts")["accounts/services.py"]
