r"""The same real frames segmented by the per-frame CNN and by TWNet variants, at several
distances from the key frame: one picture, a row per model, a column per distance.

  python benchmarks/distance_strips.py --model_dir=weights/camvid --data_dir=RECORDS --gop=40 \
      --variants=per_frame,layer1_warp,layer1_cfr_rga --distances=1,5,11 --png=runs/camvid_distances.png

The key frame is the GOP's frame 0; the column at distance d shows frame d, chained from it
(`distance_protocol.chain_predictions`). `--photo=false` (the default) draws the predicted classes
alone, without the frame under them and without the ground truth: the frames and labels of
datasets whose licence keeps them out of a repository (CamVid's, the shared street clips')
then stay out of the picture too. `--photo=true` blends the frame in, for a local look.
"""

import os
import sys

from absl import app, flags
import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tw_keras import fileio  # pylint: disable=wrong-import-position
from tw_keras.data import dataset  # pylint: disable=wrong-import-position
from tw_keras.data import features  # pylint: disable=wrong-import-position
from tw_keras.evaluation import distance_protocol  # pylint: disable=wrong-import-position
from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=wrong-import-position

flags.DEFINE_string("model_dir", "weights/camvid", "Model directory.")
flags.DEFINE_string("data_dir", None, "Records with GOPs (the val split).", required=True)
flags.DEFINE_string("split", "val", "Split.")
flags.DEFINE_integer("gop", 40, "Which GOP of the split (record order).")
flags.DEFINE_list("variants", ["per_frame", "layer1_warp", "layer1_cfr_rga"], "Rows.")
flags.DEFINE_list("distances", ["1", "5", "11"], "Columns: frames at these distances from the key frame.")
flags.DEFINE_bool("photo", False, "Blend the frame under the classes (never for a licensed dataset in the repo).")
flags.DEFINE_float("scale", 0.5, "Output scale of each tile.")
flags.DEFINE_string("png", None, "Output PNG.", required=True)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  nets = model_dir_lib.load_all(FLAGS.model_dir, FLAGS.variants)
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(FLAGS.data_dir, FLAGS.split)).skip(FLAGS.gop).take(1)))
  distances = [int(d) for d in FLAGS.distances]
  target = max(distances)
  info = next(iter(nets.values())).dataset
  rows = []
  for name, net in nets.items():
    if net.has_non_key_frames:
      preds = [p.numpy() for p in distance_protocol.chain_predictions(net, gop, 0, target, every_frame=True)]
    else:
      preds = [distance_protocol.chain_predictions(net, gop, t, t).numpy() for t in range(target + 1)]
    tiles = []
    for d in distances:
      tile = info.colorize(preds[d]).astype(np.uint8)
      if FLAGS.photo:
        tile = cv2.addWeighted(gop[features.CLIP_IMAGES][d].numpy(), 0.45, tile, 0.55, 0)
      tile = cv2.resize(tile, None, fx=FLAGS.scale, fy=FLAGS.scale, interpolation=cv2.INTER_NEAREST)
      cv2.putText(tile, f"{name}, d={d}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
      tiles.append(np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=255))
    rows.append(np.concatenate(tiles, 1))
  picture = np.concatenate(rows, 0)
  with fileio.atomic_path(FLAGS.png) as tmp:
    cv2.imwrite(tmp, picture[..., ::-1])
  print(f"{FLAGS.png}: {len(rows)} rows x {len(distances)} distances, GOP {FLAGS.gop} of {FLAGS.split} "
        f"({gop[features.CLIP_SEQUENCE_ID].numpy().decode()})")


if __name__ == "__main__":
  app.run(main)
