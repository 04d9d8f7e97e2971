r"""Block-motion statistics of real street video at 15 Hz against clips made from stills.

`still_clips.CameraMotion`'s defaults are chosen by this script: the codec's block motion
(`motion_statistics`: |motion| per 8x8 block of P-frames, per mille of the width; the share
of blocks without motion) of real ego-view street clips, resampled to 15 Hz (CamVid's val
run) and scaled to 480 pixels wide, against that of clips drawn from SegNet's CamVid train
stills at 352x480. The real clips are unlabelled and are not CamVid: nothing scored is used.

  python benchmarks/still_clip_motion.py --video_dir=../shared/video --camvid_root=../shared/camvid \
      --zoom=0.02 --pan=0.004
"""

import json
import os
import sys

from absl import app, flags
import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tw_keras.data import still_clips  # pylint: disable=wrong-import-position
from tw_keras.video import motion_statistics, sources  # pylint: disable=wrong-import-position

flags.DEFINE_string("video_dir", "../shared/video", "Real street clips (unlabelled).")
flags.DEFINE_list("clips", ["DEVx96_traffic_india-city-dashcam", "kartikeybihani_dashcam_us-freeway",
                            "kartikeybihani_dashcam1_us-freeway-overpass", "techievish_road_india-NH48-highway-dashcam",
                            "anmol221B_highway_india-highway-pedestrians", "MariaSultanbekova_road_mountain-rural",
                            "muchlisin1412_driving_highway-dusk"],
                  "The ego-view clips measured (file names without .mp4).")
flags.DEFINE_integer("snippets_per_clip", 4, "12-frame snippets per real clip, evenly spaced.")
flags.DEFINE_string("camvid_root", "../shared/camvid", "SegNet's CamVid (the train stills).")
flags.DEFINE_integer("stills", 24, "Train stills drawn from (evenly spaced).")
flags.DEFINE_float("zoom", still_clips.CameraMotion.zoom, "CameraMotion.zoom")
flags.DEFINE_float("stopped", still_clips.CameraMotion.stopped, "CameraMotion.stopped")
flags.DEFINE_float("pan", still_clips.CameraMotion.pan, "CameraMotion.pan")
flags.DEFINE_float("tilt", still_clips.CameraMotion.tilt, "CameraMotion.tilt")
flags.DEFINE_float("roll", still_clips.CameraMotion.roll, "CameraMotion.roll")
flags.DEFINE_float("shake", still_clips.CameraMotion.shake, "CameraMotion.shake")
flags.DEFINE_bool("real", True, "Measure the real clips too.")
FLAGS = flags.FLAGS
WIDTH, LENGTH, HZ = 480, 12, 15.0


def real_snippets(path):
  """12-frame snippets at about 15 Hz, 480 pixels wide."""
  import av  # pylint: disable=g-import-not-at-top
  with av.open(path) as container:
    fps = float(container.streams.video[0].average_rate)
  step = max(1, int(round(fps / HZ)))
  frames = [cv2.resize(f, (WIDTH, int(round(f.shape[0] * WIDTH / f.shape[1] / 2)) * 2), interpolation=cv2.INTER_AREA)
            for f in sources.iter_source_frames(path)][::step]
  span = LENGTH
  starts = np.linspace(0, len(frames) - span, FLAGS.snippets_per_clip).astype(int)
  return [frames[s:s + span] for s in starts], fps, step


def main(argv):
  del argv
  out = {}
  if FLAGS.real:
    per_clip = {}
    for name in FLAGS.clips:
      snippets, fps, step = real_snippets(os.path.join(FLAGS.video_dir, name + ".mp4"))
      per_clip[name] = dict(motion_statistics.motion_statistics(snippets), fps=fps, step=step)
      print(name, json.dumps({k: round(v, 2) for k, v in per_clip[name].items()}), flush=True)
    keys = ("p50", "p90", "p99", "zero")
    out["real_median"] = {k: float(np.median([c[k] for c in per_clip.values()])) for k in keys}
    out["real_range"] = {k: (float(min(c[k] for c in per_clip.values())), float(max(c[k] for c in per_clip.values())))
                         for k in keys}
    print("real, median over clips:", json.dumps({k: round(v, 2) for k, v in out["real_median"].items()}))
    print("real, range over clips:", json.dumps({k: [round(x, 2) for x in v] for k, v in out["real_range"].items()}))
  motion = still_clips.CameraMotion(zoom=FLAGS.zoom, stopped=FLAGS.stopped, pan=FLAGS.pan, tilt=FLAGS.tilt,
                                    roll=FLAGS.roll, shake=FLAGS.shake)
  stills = list(still_clips.camvid_stills(FLAGS.camvid_root, "train"))
  picks = np.linspace(0, len(stills) - 1, FLAGS.stills).astype(int)
  clips = []
  for i in picks:
    _, image, label = stills[i]
    rng = np.random.default_rng([0, int(i), 0])
    path = still_clips.draw_path(rng, motion, LENGTH, image.shape[:2], (352, WIDTH))
    frames, _ = still_clips.render_clip(image, label, still_clips.homographies(
        path, LENGTH, image.shape[:2], (352, WIDTH), motion.first_zoom), (352, WIDTH))
    clips.append(list(frames))
  synth = motion_statistics.motion_statistics(clips)
  print("stills,", motion, json.dumps({k: round(v, 2) for k, v in synth.items()}))


if __name__ == "__main__":
  app.run(main)
