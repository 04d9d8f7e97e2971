"""The evaluation job: a model directory and a data split in, the results on disk.

`evaluate_model_dir` runs every variant through the per-distance protocol (`protocol`) and
writes to its output directory::

  results.json            mIoU / category mIoU per d, mean over d, TapLab's seeded draw,
                          per-class and per-category IoU (pooled over d)
  results.md              the per-distance table, the tables' differences with their intervals
                          (`comparisons`), and the scheduler table when
                          `inference.scheduler_study` adds one
  miou_vs_distance.png    the plot
  labelids/gt/*_gtFine_labelIds.png and labelids/{variant}/*_leftImg8bit.png
                          label PNGs of frame 19, predictions at TapLab's drawn d, in the
                          dataset's encoding (`DatasetInfo.label_png_ids`: official labelIds
                          for the `cityscapesscripts` evaluator on Cityscapes; written to a
                          temporary directory that replaces `labelids/` only when all is done)
"""

import os
import time

import tensorflow as tf
import tqdm

from tw_keras import dataset_info, fileio
from tw_keras.data import dataset, features, flow_sources, label_png
from tw_keras.evaluation import comparisons, distance_protocol, report
from tw_keras.model import model_dir as model_dir_lib


TC_DIS = "DIS flow, forward-backward consistent pixels"


def tc_motion(flow_root=None):
  """(TC's motion: callable(gop, t) -> (motion into frame t, valid mask), its description):
  the built-in benchmark's exact flow and visibility mask where `flow_root` holds them (ROOT/flow/),
  else DIS optical flow on the pixels that pass its forward-backward test."""
  if flow_root and os.path.isdir(os.path.join(flow_root, "flow")):
    exact = lambda gop, t: flow_sources.exact_flow(flow_root, gop[features.CLIP_SEQUENCE_ID].numpy().decode(),
                                                   int(gop[features.CLIP_FRAME_INDEX][t]))
    return exact, "exact flow, visible pixels"
  return distance_protocol.dis_motion, TC_DIS


def evaluate_model_dir(data_dir, model_dir, output_dir, split="val", variants=None, distances=range(12),
                       max_sequences=0, write_pngs=True, quiet=False, flow="codec", flow_root=None):
  """Evaluates the variants of `model_dir` on `data_dir`'s `split`; writes `output_dir`.

  Args:
    variants: names (default: `model_dir_lib.available_variants`).
    distances: key-frame distances d (the chain runs from frame 19 - d to frame 19).
    max_sequences: at most this many GOPs (0 = all).
    write_pngs: labelId PNGs of frame 19 at TapLab's drawn d, for `cityscapesscripts`.
    quiet: no progress bar.
    flow, flow_root: the non-key frames' motion (`data.flow_sources`): "codec" (the records'),
      "dis" (optical flow) or "gt" (the benchmark's exact flow, under `flow_root`).
  Returns:
    The report dictionary written to `output_dir/results.json` (the key-frame scheduler study,
    `inference.scheduler_study`, adds to it when an entry point asks).
  """
  variants = variants or model_dir_lib.available_variants(model_dir)
  nets = model_dir_lib.load_all(model_dir, variants)
  files = dataset.shard_files(data_dir, split)
  info = next(iter(nets.values())).dataset
  dataset_info.check_same_classes(info, f"the model directory {model_dir}", dataset.dataset_info_of(data_dir),
                                  f"the records in {data_dir}")
  gops = dataset.gop_dataset(files)
  if max_sequences:
    gops = gops.take(max_sequences)
  if flow != "codec":
    gops = flow_sources.WithMotion(gops, flow, flow_root)
  motion_of_tc, tc_described = tc_motion(flow_root)
  os.makedirs(output_dir, exist_ok=True)
  final_png_dir = os.path.join(output_dir, "labelids")
  written = set()
  png_dir = fileio.temporary_name(final_png_dir)

  def writer(name, d, gop, pred, drawn):
    if not drawn:
      return
    stem = label_png.label_png_name(gop, -1)
    label_png.write_label_png(os.path.join(png_dir, name), stem, pred, "_leftImg8bit.png", info)
    if stem not in written:
      label_png.write_label_png(os.path.join(png_dir, "gt"), stem, gop[features.CLIP_LABELS][-1].numpy(),
                                 "_gtFine_labelIds.png", info)
      written.add(stem)

  t = time.time()
  # Label PNGs go to a temporary directory that replaces `labelids/` only when all is done.
  with fileio.atomic_path(final_png_dir) as tmp_png_dir:
    assert tmp_png_dir == png_dir
    try:
      with tqdm.tqdm(desc="evaluate", unit="seq", disable=quiet or None) as bar:
        result = distance_protocol.evaluate(nets, gops, list(distances),
                                     prediction_writer=writer if write_pngs else None,
                                     progress=lambda: bar.update(1), tc_motion=motion_of_tc)
    except tf.errors.OpError:
      dataset.raise_if_corrupt(files)  # names the bad shard
      raise
  rep = report.report(result)
  rep["seconds"] = round(time.time() - t, 1)
  rep["model_dir"], rep["split"], rep["flow"] = model_dir, split, flow
  rep["trained_flow"] = {n: model_dir_lib.stage2_flow(model_dir, n) for n, net in nets.items() if net.variant.trainable}
  rep["tc_motion"] = tc_described
  fileio.write_json(os.path.join(output_dir, "results.json"), rep, indent=1)
  write_markdown(rep, output_dir)
  report.plot(rep, os.path.join(output_dir, "miou_vs_distance.png"))
  return rep


def write_markdown(rep, output_dir):
  """results.md: the per-distance table, the tables' differences, and the scheduler table
  when the study has added one."""
  table = report.markdown_table(rep)
  if rep.get("comparisons", {}).get("differences"):
    table += "\n\n" + comparisons.markdown(rep["comparisons"])
  if "schedulers" in rep:
    table += (f"\n\nKey-frame schedulers ({rep['schedulers']['variant']} on non-key frames):\n\n" +
              report.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"]))
  fileio.write_text(os.path.join(output_dir, "results.md"),
                    f"mIoU (%) by key-frame distance, {rep['sequences']} sequences of {rep['split']}, "
                    f"motion: {rep['flow']}\n\n{table}\n")
