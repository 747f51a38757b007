"""The package's shape, as ARCHITECTURE.md draws it: which room may import which, where SQL,
SMTP replies and HTTP statuses may appear, and how big a module may grow.

These read the source (``ast``), so a rule broken anywhere fails here with the file and line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mailbot_sandbox"
PLUGIN = ROOT / "pytest_mailbot"
MAX_LINES = 400

# Each room and the rooms it may import (besides itself). The top-level modules errors, ids,
# config and metrics are leaves everyone may use (config checks names with mail/'s syntax
# rules); sandbox.py and cli.py sit on top.
LEAVES = {"errors", "ids", "config", "metrics", "__init__"}
MAY_IMPORT: dict[str, set[str]] = {
    "config": {"mail"},
    "store": set(),
    "mail": set(),
    "search": {"mail", "store"},
    "core": {"store", "mail", "search"},
    "api": {"core", "mail", "search"},
    "smtp": {"core", "mail", "store"},
    # The web console reads and changes through core/ as api/'s views do, reusing their
    # helpers (the services, error statuses); it never touches the store.
    "console": {"core", "api", "mail", "search"},
    # runtime/processes runs whole sandboxes; sandbox.py uses runtime's servers. The module
    # graph has no cycle (test_no_import_cycles); the rooms lean on each other.
    "runtime": {"core", "api", "console", "smtp", "store", "mail", "search", "sandbox"},
    "sandbox": {"core", "api", "console", "smtp", "runtime", "store"},
    "cli": {"core", "runtime", "sandbox", "store"},
    "__main__": {"cli"},
    # The public face (``mailbot_sandbox.__all__``) may name anything; it imports lazily.
    "__init__": {
        "core",
        "api",
        "console",
        "smtp",
        "runtime",
        "store",
        "mail",
        "search",
        "sandbox",
        "cli",
    },
}


def modules() -> Iterator[tuple[str, Path]]:
    """``(dotted name, path)`` of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts), path


def room_of(dotted: str) -> str:
    """``mailbot_sandbox.core.inboxes`` -> ``core``; ``mailbot_sandbox.errors`` -> ``errors``."""
    parts = dotted.split(".")
    if len(parts) == 1 or (parts[1].startswith("__") and parts[1] != "__main__"):
        return "__init__"  # the package itself, or a name it defines (``__version__``)
    return parts[1]


def imports_of(path: Path, *, top_level_only: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every ``mailbot_sandbox`` import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if top_level_only and isinstance(node, ast.If):  # TYPE_CHECKING blocks do not run
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mailbot_sandbox":
                for alias in node.names:  # `from mailbot_sandbox import metrics`
                    yield node.lineno, f"mailbot_sandbox.{alias.name}"
            elif node.module.startswith("mailbot_sandbox."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mailbot_sandbox."):
                    yield node.lineno, alias.name


def strings_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every string constant in ``path`` except docstrings."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def test_each_room_imports_only_the_rooms_below_it() -> None:
    wrong = []
    for dotted, path in modules():
        room = room_of(dotted)
        allowed = MAY_IMPORT.get(room, set()) | LEAVES | {room}
        for line, target in imports_of(path):
            if room_of(target) not in allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {target}")
    assert not wrong, "imports against ARCHITECTURE.md's rules:\n" + "\n".join(wrong)


def test_leaves_import_no_room() -> None:
    wrong = []
    for dotted, path in modules():
        room = room_of(dotted)
        if room in LEAVES - {"__init__"}:
            for line, target in imports_of(path):
                if room_of(target) not in LEAVES | MAY_IMPORT.get(room, set()):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "leaf modules must stay leaves:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    names = {dotted for dotted, _ in modules()}
    for dotted, path in modules():
        targets = set()
        for _, target in imports_of(path, top_level_only=True):
            # `from mailbot_sandbox.core import fields` names a module; so may the package itself
            targets.add(target if target in names else target.rsplit(".", 1)[0])
        graph[dotted] = {t for t in targets if t in names and t != dotted}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|VIRTUAL|TRIGGER|UNIQUE)|PRAGMA\s)",
    re.S,
)


def test_sql_only_in_the_store() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for dotted, path in modules()
        if room_of(dotted) != "store"
        for line, text in strings_of(path)
        if SQL.search(text)
    ]
    assert not found, "SQL outside mailbot_sandbox/store/:\n" + "\n".join(found)


SMTP_REPLY = re.compile(r"\b[2345]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")


def test_smtp_reply_codes_only_in_smtp() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for dotted, path in modules()
        if room_of(dotted) != "smtp"
        for line, text in strings_of(path)
        if SMTP_REPLY.search(text)
    ]
    assert not found, "SMTP reply codes outside mailbot_sandbox/smtp/:\n" + "\n".join(found)


def _http_statuses(path: Path) -> Iterator[int]:
    """Lines that use a number 100-599 as an HTTP status: assigned to, or passed as, a name
    with ``status`` in it, or given to ``abort``/``make_response``/``send_error``."""
    tree = ast.parse(path.read_text(), str(path))

    def is_status(node: ast.AST | None) -> bool:
        return (
            isinstance(node, ast.Constant) and type(node.value) is int and 100 <= node.value <= 599
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and "status" in node.arg:
            if is_status(node.value):
                yield node.value.lineno
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if "status" in name and is_status(node.value):
                    yield node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("abort", "make_response", "send_error", "send_response") and any(
                is_status(arg) for arg in node.args
            ):
                yield node.lineno


def test_http_statuses_only_in_the_api() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for dotted, path in modules()
        if room_of(dotted) != "api"
        for line in _http_statuses(path)
    ]
    assert not found, "HTTP statuses outside mailbot_sandbox/api/:\n" + "\n".join(found)


@pytest.mark.parametrize("folder", [PACKAGE, PLUGIN], ids=["mailbot_sandbox", "pytest_mailbot"])
def test_no_module_is_over_the_size_limit(folder: Path) -> None:
    big = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in sorted(folder.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not big, f"modules over {MAX_LINES} lines (a second room is hiding):\n" + "\n".join(big)


def test_the_plugin_uses_only_the_public_api() -> None:
    import mailbot_sandbox

    public = set(mailbot_sandbox.__all__)
    wrong = []
    for path in sorted(PLUGIN.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "mailbot_sandbox"
            ):
                if node.module != "mailbot_sandbox":
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
                else:
                    wrong += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                        for alias in node.names
                        if alias.name not in public
                    ]
            elif isinstance(node, ast.Import):
                wrong += [
                    f"{path.relative_to(ROOT)}:{node.lineno} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("mailbot_sandbox.")
                ]
    assert not wrong, "pytest_mailbot reaches past mailbot_sandbox.__all__:\n" + "\n".join(wrong)


def test_every_room_is_on_the_code_map() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    rooms = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    missing = [room for room in rooms if f"{room}/" not in text]
    assert not missing, f"ARCHITECTURE.md does not describe: {', '.join(missing)}"
