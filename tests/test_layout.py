"""The package layout is the architecture: every stage imports only the stages below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"
FOUNDATION = {"config", "db", "models", "services", "signals", "tokens"}

# What each part of digest may import besides itself and the foundation. Data flows
# feed -> papers -> matches -> digests -> outbox -> SMTP; web and cli sit on top of everything.
MAY_IMPORT: dict[str, set[str]] = {
    "foundation": set(),
    "feeds": set(),
    "matching": set(),
    "papers": {"feeds"},
    "mail": {"matching"},
    "relevance": {"papers", "matching", "feeds"},
    "compose": {"papers", "matching", "mail", "relevance"},
    "subscribers": {"matching", "compose", "mail", "relevance"},
    "pipeline": {"papers", "compose", "mail", "relevance"},
    "scheduler": {"pipeline", "mail", "papers"},
    "operate": {"papers", "compose", "mail", "subscribers", "matching"},
}
TOP = {"web", "cli"}


def part_of(module: str) -> str:
    """The layer of a dotted module name below `digest` ("mail.outbox" -> "mail")."""
    head = module.split(".")[0]
    return "foundation" if head in FOUNDATION else head


def imported_parts(path: Path) -> set[str]:
    """The digest layers a source file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "digest":
                names = [alias.name for alias in node.names]
            elif node.module.startswith("digest."):
                names = [node.module.removeprefix("digest.")]
        elif isinstance(node, ast.Import):
            names = [
                a.name.removeprefix("digest.") for a in node.names if a.name.startswith("digest.")
            ]
        found.update(part_of(name) for name in names)
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_migrations" not in p.parts)


def test_top_level_holds_few_modules_beside_the_stage_packages() -> None:
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 8, flat
    assert set(flat) <= FOUNDATION | {"pipeline", "scheduler"}


def test_every_package_says_what_it_does() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(PACKAGE.parent)} has no docstring"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path) -> None:
    relative = path.relative_to(PACKAGE).with_suffix("")
    own = part_of(".".join(relative.parts)) if relative.parts[0] != "__init__" else "foundation"
    if own in TOP:
        return
    allowed = MAY_IMPORT[own] | {own, "foundation"}
    upward = imported_parts(path) - allowed
    assert not upward, f"{relative} ({own}) imports {sorted(upward)}: a stage never reaches up"
