"""The client builds as a wheel carrying its type marker and its name and version."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

CLIENT = Path(__file__).parents[2] / "clients" / "python"


def test_the_wheel_has_py_typed_and_its_metadata(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(CLIENT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("neo_service_layer_client-0.2.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("neo_service_layer_client-0.2.0.dist-info/METADATA").decode()
    assert "nsl_client/py.typed" in names
    assert "nsl_client/verify.py" in names
    assert not any(name.startswith("neo_service_layer/") for name in names)
    assert "Name: neo-service-layer-client" in metadata
    assert "Version: 0.2.0" in metadata
    requires = sorted(
        line.split(" ", 1)[1].split(">")[0]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert requires == ["cryptography", "httpx", "pydantic"]
    # the BLS check of randomness proofs is an extra: a native wheel only those who check proofs need
    assert "Provides-Extra: bls" in metadata
    assert any(
        line.startswith("Requires-Dist: pyblst") and 'extra == "bls"' in line
        for line in metadata.splitlines()
    )
