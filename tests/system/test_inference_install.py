"""The inference install: predict and classify without torch; training commands say what is missing."""

from __future__ import annotations

import json
import subprocess
import sys

from support import ISIC2017, require_shared_data

from dermaseg.core.zoo import DEFAULTS

# Run Python with torch made unimportable: what the inference install sees.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def _run_without_torch(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_predict_and_classify_print_the_name_given(tmp_path):
    from dermaseg.cli import main
    from dermaseg.data import sample_image

    sample = sample_image()
    assert main(["predict", str(sample), "--model", "isic-unet-lite0", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads((tmp_path / "p" / "measurements.json").read_text())["summary"]
    assert (summary["model"], summary["backend"]) == ("isic-unet-lite0", "onnxruntime")

    from dermaseg.classify.predict import load_classifier
    from dermaseg.core.openvino_session import native_bf16

    clf = load_classifier()   # the shipped ensemble runs on OpenVINO, bfloat16 where the CPU has it
    assert (clf.name, clf.backend_name) == (DEFAULTS["classification"], f"openvino-{'bf16' if native_bf16() else 'fp32'}")


# --- no torch -----------------------------------------------------------------------------------

def test_predict_sample_and_classify_run_without_torch(tmp_path):
    code = (f"from dermaseg.cli import main\n"
            f"rc = main(['predict', '--sample', '--out', {str(tmp_path / 'p')!r}])\n"
            "from dermaseg.data.samples import sample_image\n"
            f"rc2 = main(['classify', 'predict', str(sample_image()), '--out', {str(tmp_path / 'c')!r}])\n"
            "assert 'onnxruntime' in sys.modules\n"
            "sys.exit(rc or rc2)\n")
    out = _run_without_torch(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p" / "ISIC_0000014_segmentation.png").is_file()
    assert (tmp_path / "p" / "ISIC_0000014_overlay.jpg").is_file()
    rows = (tmp_path / "p" / "measurements.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("ISIC_0000014,")
    assert "ISIC_0000014," in (tmp_path / "c" / "classification.csv").read_text()


def test_a_training_command_without_torch_says_so_in_one_line(tmp_path):
    out = _run_without_torch("from dermaseg.cli import main\nsys.exit(main(['export', '--shipped']))\n", tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and 'needs the training install: pip install -e ".[train]"' in lines[0], out.stderr


def test_evaluate_without_the_report_libraries_fails_in_one_line_before_any_work(tmp_path):
    require_shared_data()
    code = ("sys.modules['matplotlib'] = None\nfrom dermaseg.cli import main\n"
            f"sys.exit(main(['evaluate', '--data', {str(ISIC2017)!r}, '--limit', '2', '--out', 'ev']))\n")
    out = _run_without_torch(code, tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "evaluate needs the training install" in lines[0] and "matplotlib" in lines[0], out.stderr
    assert not (tmp_path / "ev").exists()
