"""Starting the CLI imports only what every command needs: the model fitting's SciPy (and
pandas) load with the commands that use them, not on each `kequn ...` call."""

from __future__ import annotations

import subprocess
import sys


def test_cli_start_does_not_import_scipy_or_pandas() -> None:
    code = ("import sys; from kequn.cli import main; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'pandas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_predictions_package_names_load_on_first_use() -> None:
    import kequn.clv as clv

    assert set(clv.__all__) == set(clv._HOMES)
    assert clv.fit_predictions.__module__ == "kequn.clv.fit"
