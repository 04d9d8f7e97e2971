"""Every entry point not covered elsewhere, run as a user runs it, at tiny sizes: the
segmenter, the exporter, the FPS benchmark, and the benchmark scripts (which must keep
working, even though their numbers are only meaningful at full size)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import write_labelled_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*cmd, timeout=600):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
  r = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
  assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
  return r.stdout


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
  from helpers import translated_clip
  from tw_keras.video import writer
  path = str(tmp_path_factory.mktemp("clip") / "in.mp4")
  w = writer.VideoWriter(path, 17, 96, 64, b_frames=2)
  for frame in translated_clip(64, 96, 26, 2, 1):
    w.write(frame)
  w.close()
  return path


def test_segment_video_cli_writes_overlay_and_label_pngs(tiny_model_dir, clip, tmp):
  out = os.path.join(tmp, "o.mp4")
  stdout = run("-m", "experiments.segment_video", f"--checkpoint={tiny_model_dir}", f"--video={clip}",
               f"--output={out}", f"--label_dir={tmp}/labels", "--max_frames=20")
  assert "20 frames (2 key)" in stdout, stdout
  import av
  with av.open(out) as container:
    assert sum(1 for _ in container.decode(video=0)) == 20
  assert len(os.listdir(f"{tmp}/labels")) == 20
  stdout = run("-m", "experiments.segment_video", f"--checkpoint={tiny_model_dir}", f"--video={clip}",
               f"--output={out}", "--variant=per_frame", "--max_frames=5")
  assert "5 frames (5 key)" in stdout, stdout


def test_export_cli_serves_the_key_frame_signature(tiny_model_dir, tmp):
  import tensorflow as tf
  from tw_keras.model import model_dir as model_dir_lib
  run("-m", "experiments.export_saved_model", f"--model_dir={tiny_model_dir}", f"--export_dir={tmp}/sm/1")
  loaded = tf.saved_model.load(f"{tmp}/sm/1")
  assert {"key_frame", "non_key_frame", "serving_default"} <= set(loaded.signatures)
  image = np.random.default_rng(0).integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  served = loaded.signatures["key_frame"](image=tf.constant(image))["logits"].numpy()
  per_frame = model_dir_lib.load_per_frame(tiny_model_dir)
  np.testing.assert_allclose(served, per_frame(tf.constant(image, tf.float32))["logits"].numpy(), atol=1e-4)


def test_benchmark_fps_cli_prints_every_variant(tiny_model_dir):
  stdout = run("benchmarks/fps.py", f"--model_dir={tiny_model_dir}", "--size=64x96", "--repeats=1",
               "--variants=layer1_ft,layer3", "--decode")
  rows = [l for l in stdout.splitlines() if l.startswith("| ") and "ms/frame" not in l]
  assert [r.split("|")[1].strip() for r in rows] == ["per_frame", "layer1_ft", "layer3"]
  assert "decode (PyAV" in stdout


def test_model_cost_script_counts_and_times():
  stdout = run("benchmarks/model_cost.py", "--preset=tiny", "--sizes=64x96", "--flops_size=64x96", "--repeats=1",
               "--variants=layer1_cfr_rga")
  table = [l for l in stdout.splitlines() if l.startswith("| per_frame") or l.startswith("| layer1_cfr_rga")]
  assert len(table) == 4  # GMACs table and timing table, two rows each
  assert float(table[1].split("|")[4]) < float(table[0].split("|")[4])  # the NKFC costs less


def test_gpu_suite_script_runs_at_a_tiny_size():
  """The GPU suite is one command no session has had a GPU for: at least its flags and steps must work."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="", PYTHON=sys.executable,
             SIZE="64x96", FRAMES="12", REPEATS="1", PRESET="tiny", VARIANTS="layer1_cfr_rga")
  r = subprocess.run(["bash", "benchmarks/gpu_suite.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                     timeout=900)
  assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
  assert r.stdout.count("| layer1_cfr_rga |") == 5  # network tables: xla x precision, and unfolded
  assert "xla=True" in r.stdout and "precision=bfloat16" in r.stdout and "batch norms folded=False" in r.stdout
  assert "| layer1_cfr_rga (GOP, folded) |" in r.stdout  # end to end, both foldings


def test_extraction_speed_script_runs():
  stdout = run("benchmarks/extraction_speed.py", "--sizes=64x96", "--frames=12", "--repeats=1")
  print(stdout)


def test_front_end_benchmark_prints_every_path():
  stdout = run("benchmarks/front_end.py", "--size=64x96", "--frames=26", "--repeats=1", "--workers=1,2")
  for row in ("| plain decode |", "| live, 1 worker |", "| live, 2 workers |", "| canonical decode |",
              "| camera clip: its own motion (native) |"):
    assert row in stdout, stdout
  assert "26 frames, B-frames: True" in stdout
  assert "at equal use of the cores the live path reaches" in stdout, stdout


def test_motion_oracle_script_splits_the_loss(tmp):
  import json  # pylint: disable=g-import-not-at-top
  scores = {"codec": {"per_frame": 40.0, "layer1_warp": 36.0, "layer1_cfr_rga": 38.0},
            "dis": {"per_frame": 40.0, "layer1_warp": 37.0, "layer1_cfr_rga": 38.5},
            "gt": {"per_frame": 40.0, "layer1_warp": 37.5, "layer1_cfr_rga": 39.0}}
  for flow, rows in scores.items():
    os.makedirs(os.path.join(tmp, flow))
    rep = {"sequences": 8, "tc_motion": "exact flow, visible pixels",
           "variants": {v: {"mean_miou_over_d": m, "temporal_consistency": 90.0 + m / 10} for v, m in rows.items()}}
    with open(os.path.join(tmp, flow, "results.json"), "w") as f:
      json.dump(rep, f)
  stdout = run("benchmarks/motion_oracle.py", f"--eval_root={tmp}")
  assert "| layer1_warp | 36.0 | 37.0 | 37.5 | +1.50 | +2.50 |" in stdout, stdout
  assert "| layer1_cfr_rga | 38.0 | 38.5 | 39.0 | +1.00 | +1.00 |" in stdout
  assert "| per_frame | 94.0 | 94.0 | 94.0 |" in stdout


def test_study_report_script_reads_a_results_file(tmp):
  from tw_keras import dataset_info
  CS = dataset_info.CITYSCAPES
  d = list(range(12))
  variants = {name: {"mean_miou_over_d": m, "miou_per_distance": [m] * 12,
                     "pooled_over_d": {"category_miou": m, "category_iou": {c: m for c in CS.categories}}}
              for name, m in [("per_frame", 50.0), ("layer1_cfr_rga", 48.0), ("layer1_cfr", 47.0), ("layer1_ft", 46.0),
                              ("layer1_warp", 40.0), ("layer2_cfr_rga", 45.0), ("layer3", 30.0)]}
  path = os.path.join(tmp, "results.json")
  json.dump({"distances": d, "variants": variants}, open(path, "w"))
  stdout = run("benchmarks/study_report.py", f"--results={path}")
  assert "Layer1: per_frame 50.00 >= layer1_cfr_rga 48.00 >= layer1_cfr 47.00 >= layer1_ft 46.00 > " \
         "layer1_warp 40.00  -> holds, holds, holds, holds" in stdout, stdout


def test_benchmark_properties_motion_statistics_at_a_tiny_size(tmp):
  stdout = run("benchmarks/benchmark_properties.py", "--sequences=2", "--size=64x128", f"--output={tmp}/p.json")
  motion = json.load(open(f"{tmp}/p.json"))["motion"]
  assert motion["snippets"] == 2 and 0 <= motion["zero"] <= 1 and motion["p50"] <= motion["p90"] <= motion["p99"]
  assert "p90" in stdout


def test_context_use_script_scores_two_models_at_each_scale(tiny_model_dir, tmp):
  rng = np.random.RandomState(0)
  frames = [(rng.randint(0, 255, (64, 128, 3)).astype(np.uint8), rng.randint(0, 19, (64, 128)).astype(np.uint8))
            for _ in range(4)]
  write_labelled_root(f"{tmp}/root", "val", frames)
  stdout = run("benchmarks/context_use.py", f"--model_dir={tiny_model_dir}", f"--other_dir={tiny_model_dir}",
               f"--val_root={tmp}/root", "--scales=0.75,1.5", "--frame_step=2", "--probe_frames=1",
               f"--output={tmp}/c.json")
  out = json.load(open(f"{tmp}/c.json"))
  assert out["frames"] == 2 and set(out["scales"]) == {"0.75", "1.5"}
  for s in out["scales"].values():
    assert s["model"] == s["other"] and 0 <= s["model"] <= 100  # the same model twice
  assert out["far_gradient_share"]["model"] == out["far_gradient_share"]["other"]
  assert 0 <= out["far_gradient_share"]["model"] <= 1
  assert out["receptive_field"]["model"] == [64, 128]  # the per-frame CNN's pyramid pooling is global
  assert "| 1.5 |" in stdout and "+0.0 |" in stdout


def test_rescale_root_resizes_frames_and_labels_of_one_split(tmp):
  import cv2
  rng = np.random.RandomState(0)
  lab = np.zeros((32, 48), np.uint8)
  lab[:, 24:] = 13
  write_labelled_root(f"{tmp}/in", "val", [(rng.randint(0, 255, (32, 48, 3)).astype(np.uint8), lab)] * 2)
  write_labelled_root(f"{tmp}/in", "train", [(np.zeros((32, 48, 3), np.uint8), lab)])
  stdout = run("benchmarks/rescale_root.py", f"--input_root={tmp}/in", f"--output_root={tmp}/out", "--factor=1.5")
  assert "4 PNGs of val" in stdout
  out = cv2.imread(f"{tmp}/out/gtFine/val/city/city_000000_000001_gtFine_labelTrainIds.png", cv2.IMREAD_UNCHANGED)
  expected = np.zeros((48, 64), np.uint8)  # 48x72 rounded to multiples of 16; nearest keeps the two classes
  expected[:, 32:] = 13
  np.testing.assert_array_equal(out, expected)
  assert cv2.imread(f"{tmp}/out/leftImg8bit_sequence/val/city/city_000000_000000_leftImg8bit.png").shape == (48, 64, 3)
  assert not os.path.exists(f"{tmp}/out/gtFine/train")  # one split only


def test_end_to_end_script_compares_both_paths_on_one_video(clip):
  stdout = run("benchmarks/end_to_end.py", f"--video={clip}", "--preset=tiny", "--variants=layer1_cfr_rga",
               "--labels_only", "--fold_batch_norms=false,true")
  rows = [l.split("|") for l in stdout.splitlines() if l.startswith("| per_frame") or l.startswith("| layer1")]
  assert [r[1].strip() for r in rows] == [
      "per_frame (every frame)", "layer1_cfr_rga (GOP)", "per_frame (every frame, folded)",
      "layer1_cfr_rga (GOP, folded)"]
  assert rows[0][3].strip() == rows[2][3].strip() == "1.00x"  # each against the per-frame path folded alike
  assert [r[6].strip() for r in rows] == ["26", "3"] * 2  # key frames


def test_prep_throughput_script_runs(tiny_records):
  stdout = run("benchmarks/prep_throughput.py", f"--input_dir={tiny_records}", "--repeats=1", "--full_frames=12",
               "--full_size=64x128",
               timeout=900)
  assert "DirectRunner / local pool throughput" in stdout and "Cityscapes-scale estimate" in stdout, stdout


def test_stage2_step_benchmark_times_both_input_paths():
  stdout = run("benchmarks/stage2_step.py", "--size=64x96", "--repeats=1", "--variants=layer1_cfr_rga")
  row = [l for l in stdout.splitlines() if l.startswith("| layer1_cfr_rga")]
  assert len(row) == 1 and row[0].endswith("x |"), stdout



def test_start_up_is_quiet_and_verbose_shows_tensorflow(tmp):
  """TensorFlow's C++ start-up lines ("Could not find cuda drivers", cuInit, CPU features)
  no longer reach the user: a failing command prints exactly its one error line."""
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = ROOT
  cmd = [sys.executable, "-m", "experiments.export_saved_model", f"--model_dir={tmp}/none",
         f"--export_dir={tmp}/export"]
  r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
  assert r.returncode == 1 and r.stdout == ""
  assert r.stderr.splitlines() == [f"error: {tmp}/none/model_config.json: no model config (is {tmp}/none a "
                                   "tw_keras model directory?)"], r.stderr
  verbose = subprocess.run(cmd + ["--verbose"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
  assert verbose.returncode == 1 and "Traceback" in verbose.stderr and len(verbose.stderr.splitlines()) > 3
