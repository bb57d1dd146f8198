"""`dermaseg predict --cluster` and `dermaseg classify predict --cluster` on a real local Dask
cluster of separate processes (a scheduler and two workers): the same outputs as a local run, the
same skip reporting, and it goes on after a stop."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import lesion_image

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes, as on separate machines."""
    folder = tmp_path_factory.mktemp("cluster")
    address_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*dask, "--scheduler-file", str(address_file), "--port", "0", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not address_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    address = json.loads(address_file.read_text())["address"]
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
                                       "--nthreads", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for proc in procs[::-1]:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(20):
        Image.fromarray(lesion_image(300, 400, seed=i, radius=60 + 2 * i)[0]).save(folder / f"IMG_{i:04d}.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def _rows(out: Path) -> list[str]:
    return sorted(open(out / "measurements.csv").read().splitlines()[1:])


def test_a_cluster_run_writes_the_local_run_s_outputs(cluster, photos, tmp_path):
    from dermaseg.cli import main

    assert main(["predict", str(photos), "--out", str(tmp_path / "local")]) == 3
    assert main(["predict", str(photos), "--out", str(tmp_path / "cluster"), "--cluster", cluster]) == 3
    local, remote = tmp_path / "local", tmp_path / "cluster"
    assert _rows(remote) == _rows(local) and len(_rows(local)) == 20
    for mask in local.glob("*_segmentation.png"):
        assert np.array_equal(np.asarray(Image.open(mask)), np.asarray(Image.open(remote / mask.name)))
    failures = [json.loads((out / "measurements.json").read_text())["summary"]["failures"] for out in (local, remote)]
    assert failures[0] == failures[1] and [Path(f["path"]).name for f in failures[0]] == ["broken.jpg"]


def test_a_cluster_run_goes_on_where_an_earlier_one_stopped(cluster, photos, tmp_path, capsys):
    from dermaseg.cli import main

    first = sorted(photos.glob("IMG_*.jpg"))[:7]
    assert main(["predict", *map(str, first), "--out", str(tmp_path / "o"), "--cluster", cluster]) == 0
    assert main(["predict", str(photos), "--out", str(tmp_path / "o"), "--cluster", cluster]) == 3
    assert "7 image(s) done before" in capsys.readouterr().err
    ids = [r["image_id"] for r in csv.DictReader(open(tmp_path / "o" / "measurements.csv"))]
    assert sorted(ids) == [f"IMG_{i:04d}" for i in range(20)]


def test_a_cluster_classification_writes_the_local_run_s_rows(cluster, photos, tmp_path):
    from dermaseg.cli import main

    base = ["classify", "predict", str(photos), "--tta", "1"]
    assert main([*base, "--out", str(tmp_path / "local")]) == 3
    assert main([*base, "--out", str(tmp_path / "cluster"), "--cluster", cluster]) == 3
    local, remote = ((tmp_path / name / "classification.csv").read_text().splitlines() for name in ("local", "cluster"))
    assert sorted(remote) == sorted(local) and len(local) == 21
    skips = [json.loads((tmp_path / name / "classification.json").read_text())["failed"] for name in ("local", "cluster")]
    assert skips[0] == skips[1] and len(skips[0]) == 1


def test_no_scheduler_there_is_one_line(tmp_path, capsys):
    from dermaseg.cli import main

    image = tmp_path / "a.jpg"
    Image.fromarray(lesion_image()[0]).save(image)
    assert main(["predict", str(image), "--out", str(tmp_path / "o"), "--cluster", "tcp://127.0.0.1:9"]) == 2
    assert "no Dask scheduler answers" in capsys.readouterr().err
