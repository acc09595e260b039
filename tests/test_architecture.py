"""The shape of the code, checked from its syntax trees: short functions and classes, no private names or module
patches across modules, jobs named by functions, and declarations that load no parser."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checkers", "proofs")
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 300
JOB_STRING = re.compile(r"(checkers|proofs)(\.[A-Za-z_]\w*)+:[A-Za-z_]\w*")


@cache
def modules() -> dict[str, Path]:
    """Every module of ours: dotted name -> file (the skeleton that `proofcheck init` copies is not ours)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "skeleton" in relative.parts:
                continue
            parts = relative.with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"), filename=str(modules()[name]))


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def absolute(module_name: str, node: ast.ImportFrom) -> str:
    """The dotted module an ImportFrom reads from, relative imports resolved against `module_name`."""
    if not node.level:
        return node.module or ""
    base = module_name.split(".")
    base = base[: len(base) - node.level + (1 if is_package(module_name) else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def binds_itself(package: str, name: str) -> bool:
    """Whether a package's __init__ binds `name` to something of its own (so `from package import name` is not the
    submodule `package.name`)."""
    for node in tree(package).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.ImportFrom) and absolute(package, node) != package:
            if any((alias.asname or alias.name) == name for alias in node.names):
                return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def module_names(name: str, module: ast.Module) -> dict[str, str]:
    """The local names under which module `name` holds a module of ours: local name -> dotted module."""
    held = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    if alias.asname:
                        held[alias.asname] = alias.name
                    else:
                        held[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            source = absolute(name, node)
            for alias in node.names:
                dotted = f"{source}.{alias.name}"
                if dotted in modules() and not binds_itself(source, alias.name):
                    held[alias.asname or alias.name] = dotted
    return held


def dotted(node: ast.AST, held: dict[str, str]) -> str | None:
    """The dotted name `node` spells (`grader.evaluate_on`), its first part read through the imports."""
    if isinstance(node, ast.Name):
        return held.get(node.id)
    if isinstance(node, ast.Attribute):
        base = dotted(node.value, held)
        return f"{base}.{node.attr}" if base else None
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# -- the checks: each takes a module's name and tree and returns what violates it, one line each -----------------
def long_definitions(name: str, module: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append(f"{name}:{node.lineno} {node.name}: {length} lines (at most {limit})")
    return found


def private_imports(name: str, module: ast.Module) -> list[str]:
    found = []
    held = module_names(name, module)
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and absolute(name, node).split(".")[0] in PACKAGES:
            found += [f"{name}:{node.lineno} imports {alias.name} from {absolute(name, node)}"
                      for alias in node.names if is_private(alias.name)]
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = dotted(node.value, held)
            if owner in modules() and owner != name:
                found.append(f"{name}:{node.lineno} reads {node.attr} of {owner}")
    return found


def module_patches(name: str, module: ast.Module) -> list[str]:
    found = []
    held = module_names(name, module)
    for node in ast.walk(module):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            found += [f"{name}:{node.lineno} sets {dotted(target.value, held)}.{target.attr}" for target in targets
                      if isinstance(target, ast.Attribute) and dotted(target.value, held) in modules()]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("setattr", "delattr") and node.args and dotted(node.args[0], held) in modules():
            found.append(f"{name}:{node.lineno} calls {node.func.id} on {dotted(node.args[0], held)}")
    return found


def job_strings(name: str, module: ast.Module) -> list[str]:
    return [f"{name}:{node.lineno} names a function by the string {node.value!r}" for node in ast.walk(module)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and JOB_STRING.fullmatch(node.value)]


def everywhere(check) -> list[str]:
    """What violates `check` in all our modules, module by module, line by line."""
    return [line for name in modules()
            for line in sorted(check(name, tree(name)), key=lambda line: int(line.split()[0].split(":")[1]))]


def test_no_function_is_longer_than_80_lines_and_no_class_longer_than_300():
    assert everywhere(long_definitions) == []


def test_no_module_imports_a_private_name_of_another():
    assert everywhere(private_imports) == []


def test_no_module_assigns_to_an_attribute_of_a_module_of_ours():
    assert everywhere(module_patches) == []


def test_no_job_is_named_by_a_string():
    assert everywhere(job_strings) == []


def test_each_check_finds_what_it_forbids():
    """A sample module with one violation of each kind (so an empty list above means clean code, not a blind walk);
    what is allowed (sys.stdout, a public name, a module-qualified public call) is not reported."""
    sample = ast.parse(
        "import sys\n"
        "import checkers.grading.build_values as values\n"
        "from checkers.grading.build_values import _apply, describe\n"
        "from checkers.grading import grader\n"
        "from checkers import verify\n"
        "grader.evaluate_on = None\n"
        "setattr(grader, 'x', 1)\n"
        "sys.stdout = None\n"
        "verify.x = 1\n"
        "values._long(1)\n"
        "values.describe(1)\n"
        "job = 'checkers.serve.tasks:grade_task'\n"
        "def long():\n" + "    pass\n" * MAX_FUNCTION_LINES)
    name = "checkers.sample"
    assert long_definitions(name, sample) == [f"{name}:13 long: {MAX_FUNCTION_LINES + 1} lines (at most 80)"]
    assert private_imports(name, sample) == [f"{name}:3 imports _apply from checkers.grading.build_values",
                                             f"{name}:10 reads _long of checkers.grading.build_values"]
    assert sorted(module_patches(name, sample)) == [f"{name}:6 sets checkers.grading.grader.evaluate_on",
                                                    f"{name}:7 calls setattr on checkers.grading.grader",
                                                    f"{name}:9 sets checkers.verify.x"]
    assert job_strings(name, sample) == [f"{name}:12 names a function by the string 'checkers.serve.tasks:grade_task'"]


def test_importing_every_proof_module_loads_no_parser():
    """All proof modules in one fresh interpreter; for each that brings in lark or the answer parser, its name."""
    code = (
        "import importlib, json, pkgutil, sys, proofs\n"
        "names = sorted(m.name for m in pkgutil.iter_modules(proofs.__path__))\n"
        "loaded = {}\n"
        "parser = lambda: sorted(m for m in sys.modules if m.split('.')[0] == 'lark' or m.startswith("
        "('checkers.grading.lexer', 'checkers.grading.parse', 'checkers.grading.grammar')))\n"
        "for name in names:\n"
        "    before = set(parser())\n"
        "    importlib.import_module('proofs.' + name)\n"
        "    new = sorted(set(parser()) - before)\n"
        "    if new: loaded[name] = new\n"
        "print(json.dumps({'imported': names, 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert len(report["imported"]) == len([n for n in modules() if n.startswith("proofs.")])
    assert report["loaded"] == {}
