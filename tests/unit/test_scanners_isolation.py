"""The scanners package stands alone at the counter: it never imports pharma, and needs only requests and pyserial."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scanners"
# requests brings urllib3 (used for its multipart encoder); pyserial is imported as ``serial``
ALLOWED = set(sys.stdlib_module_names) | {"scanners", "requests", "urllib3", "serial"}
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_package_imports_pharma_or_anything_beyond_its_dependencies():
    assert len(MODULES) >= 7
    for path in MODULES:
        imported = _imported(path)
        assert "pharma" not in imported, path
        assert imported <= ALLOWED, (path, imported - ALLOWED)


def test_the_package_imports_and_runs_where_pharma_cannot_be_imported():
    code = ("import sys; sys.modules['pharma'] = None\n"  # any `import pharma` now raises ImportError
            "import scanners.adapters, scanners.client, scanners.queue, scanners.setup_check, scanners.cli\n"
            "from scanners.cli import main\n"
            "sys.exit(main(['setup-check', '--print-label']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pharma" not in [m.split(".")[0] for m in _loaded_modules()]


def _loaded_modules() -> list[str]:
    code = ("import sys, scanners.cli, scanners.queue\n"
            "print('\\n'.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.stdout.split()
