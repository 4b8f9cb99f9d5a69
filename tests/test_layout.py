"""What may import what among the checkout's support code: a test module imports no other
test module (nor a conftest: shared code lives in ``tests/support.py``, a package's
harness, or ``devstack/``), and the benchmarks and ``devstack/`` import nothing of
``tests``."""

import ast
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, dotted, including ``from package import module``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return name.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_test_module_imports_another() -> None:
    found = {
        str(path.relative_to(CHECKOUT)): sorted(filter(_is_test_module, _imported(path)))
        for path in (CHECKOUT / "tests").rglob("*.py")
    }
    assert {path: names for path, names in found.items() if names} == {}


def test_bench_and_devstack_import_nothing_of_tests() -> None:
    found = {
        str(path.relative_to(CHECKOUT)): sorted(
            name for name in _imported(path) if name == "tests" or name.startswith("tests.")
        )
        for folder in ("bench", "devstack")
        for path in (CHECKOUT / folder).rglob("*.py")
    }
    assert {path: names for path, names in found.items() if names} == {}
