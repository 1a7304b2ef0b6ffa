"""Maps the top-level folders to the `sglike.*` import packages (see DESIGN.md)."""
import os

from setuptools import setup

PACKAGE_DIRS = {
    "sglike": "sglike",
    "sglike.runtime": "runtime",
    "sglike.grammar": "grammar",
    "sglike.kernels": "kernels",
}


def _packages() -> list[str]:
    found = []
    for package, folder in PACKAGE_DIRS.items():
        for root, _dirs, files in os.walk(folder):
            if "__init__.py" in files:
                found.append(package + root[len(folder):].replace(os.sep, "."))
    return found


setup(packages=_packages(), package_dir=PACKAGE_DIRS)
